// A process module for the security suite that plays the attacker from inside a module and
// prints what it found, one `PROBE <what> <result>` line each (its log is read back through
// `outpost logs`). Actions, from argv (settings.args), run in order:
//   status                  uid, gid, NoNewPrivs, sid == pid, HOME, cwd, cgroup
//   admin PATH...           GET /identities on each admin socket path: HTTP status or errno
//   attack FILE             waits for FILE ("<victim pid> <victim module> <genid>"), setpgid()s
//                           into the victim's group and asks the workload API to sign as it
//   cert NAME...            certificate/server for itself with commonName NAME: HTTP status
//   escape                  forks a child that leaves the session (setsid) and stays; its pid
//                           goes to $HOME/escaped.pid
//   sleep                   stays (until SIGTERM)
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace {

void say(const std::string& what, const std::string& result) {
  std::printf("PROBE %s %s\n", what.c_str(), result.c_str());
  std::fflush(stdout);
}

std::string call_once(const std::string& socket_path, const std::string& method,
                      const std::string& target, const std::string& body);

/// HTTP/1.0 over a unix socket: "<status> <body>" or "errno <text>". A module starts before
/// the agent has published its pid: "not deployed" is retried for a few seconds.
std::string call(const std::string& socket_path, const std::string& method,
                 const std::string& target, const std::string& body = {}) {
  std::string r;
  for (int i = 0; i < 50; ++i) {
    r = call_once(socket_path, method, target, body);
    if (r.find("is not deployed") == std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return r;
}

std::string call_once(const std::string& socket_path, const std::string& method,
                      const std::string& target, const std::string& body) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string e = std::strerror(errno);
    ::close(fd);
    return "errno " + e;
  }
  std::string req = method + " " + target + " HTTP/1.0\r\nHost: localhost\r\n";
  if (!body.empty()) {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  [[maybe_unused]] auto n = ::write(fd, req.data(), req.size());
  std::string reply;
  char buf[4096];
  for (ssize_t got; (got = ::read(fd, buf, sizeof buf)) > 0;) {
    reply.append(buf, static_cast<std::size_t>(got));
  }
  ::close(fd);
  if (reply.size() < 12) {
    return "no-answer";
  }
  const auto body_at = reply.find("\r\n\r\n");
  std::string text = body_at == std::string::npos ? "" : reply.substr(body_at + 4);
  for (auto& c : text) {
    if (c == '\n' || c == '\r') {
      c = ' ';
    }
  }
  return reply.substr(9, 3) + " " + text.substr(0, 300);
}

std::string workload_socket() {
  const char* uri = std::getenv("IOTEDGE_WORKLOADURI");
  std::string s = uri ? uri : "";
  return s.rfind("unix://", 0) == 0 ? s.substr(7) : s;
}

std::string status_field(const std::string& key) {
  std::ifstream in{"/proc/self/status"};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + ":", 0) == 0) {
      std::istringstream v{line.substr(key.size() + 1)};
      std::string first;
      v >> first;
      return first;
    }
  }
  return "?";
}

void status() {
  say("uid", status_field("Uid"));
  say("gid", status_field("Gid"));
  say("groups", "[" + status_field("Groups") + "]");
  say("nonewprivs", status_field("NoNewPrivs"));
  say("own-session", ::getsid(0) == ::getpid() ? "yes" : "no");
  const char* home = std::getenv("HOME");
  say("home", home ? home : "-");
  char cwd[4096] = "";
  say("cwd", ::getcwd(cwd, sizeof cwd) ? cwd : "-");
  if (home) {
    std::ofstream f{std::string{home} + "/written"};
    f << "x";
    say("home-writable", f.good() ? "yes" : "no");
  }
  std::ifstream cg{"/proc/self/cgroup"};
  for (std::string line; std::getline(cg, line);) {
    if (line.rfind("0::", 0) == 0) {
      say("cgroup", line.substr(3));
    }
  }
}

void attack(const std::string& file) {
  std::string victim;
  std::string genid;
  pid_t pid = 0;
  for (int i = 0; i < 300 && pid == 0; ++i) {
    std::ifstream in{file};
    in >> pid >> victim >> genid;
    if (pid == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (pid == 0) {
    say("attack", "no-target");
    return;
  }
  say("setpgid", ::setpgid(0, pid) == 0 ? "ok" : std::string{"errno "} + std::strerror(errno));
  say("sign-as-" + victim,
      call(workload_socket(), "POST",
           "/modules/" + victim + "/genid/" + genid + "/sign?api-version=2018-06-28",
           R"({"keyId":"primary","algo":"HMACSHA256","data":"eA=="})"));
}

void cert(const std::string& name) {
  const char* id = std::getenv("IOTEDGE_MODULEID");
  const char* gen = std::getenv("IOTEDGE_MODULEGENERATIONID");
  say("cert-" + name, call(workload_socket(), "POST",
                           std::string{"/modules/"} + (id ? id : "-") + "/genid/"
                               + (gen ? gen : "-") + "/certificate/server?api-version=2018-06-28",
                           R"({"commonName":")" + name + R"("})"));
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "status") {
      status();
    } else if (a == "admin") {
      for (++i; i < args.size() && args[i].rfind('/', 0) == 0; ++i) {
        say("admin " + args[i], call(args[i], "GET", "/identities"));
      }
      --i;
    } else if (a == "attack" && i + 1 < args.size()) {
      attack(args[++i]);
    } else if (a == "cert") {
      for (++i; i < args.size() && args[i] != "sleep"; ++i) {
        cert(args[i]);
      }
      --i;
    } else if (a == "escape") {
      const pid_t child = ::fork();
      if (child == 0) {
        ::setsid();
        for (;;) {
          ::pause();
        }
      }
      const char* home = std::getenv("HOME");
      std::ofstream{std::string{home ? home : "/tmp"} + "/escaped.pid"} << child << "\n";
      say("escaped", std::to_string(child));
    } else if (a == "sleep") {
      say("sleeping", std::to_string(::getpid()));
      for (;;) {
        ::pause();
      }
    }
  }
  say("done", "0");
  return 0;
}
