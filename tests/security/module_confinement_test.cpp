// Issue 8, items 1, 7 and 8: modules are other people's code. Each test replays an attack
// from inside a module (tests/security/probe_module.cpp, a real process module started by a
// real outpostd from a deployment manifest) or against the daemon, and checks the outcome.
#include "protocols/transport/http_client.hpp"
#include "protocols/transport/http_server.hpp"
#include "protocols/transport/io_runner.hpp"
#include "supervisor/runtime/process_host.hpp"
#include "tests/security/daemon_fixture.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace outpost::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

/// Polls `pred` every 20 ms until it holds or `timeout` passes.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 20s) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= until) {
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

/// A `process` module of the deployment manifest.
json process_module(const std::string& path, std::vector<std::string> args,
                    const json& extra_settings = json::object()) {
  json settings = {{"path", path}, {"digest", supervisor::file_digest(path)}, {"args", args}};
  settings.update(extra_settings);
  return {{"version", "1.0"},
          {"type", "process"},
          {"status", "running"},
          {"restartPolicy", "never"},
          {"settings", settings}};
}

std::string manifest_of(const json& modules) {
  json agent = {{"schemaVersion", "1.1"},
                {"runtime", {{"type", "process"}, {"settings", json::object()}}},
                {"systemModules",
                 {{"edgeAgent", {{"type", "process"}, {"settings", json::object()}}},
                  {"edgeHub",
                   {{"type", "process"},
                    {"status", "running"},
                    {"restartPolicy", "always"},
                    {"settings", json::object()}}}}},
                {"modules", modules}};
  json hub = {{"schemaVersion", "1.1"}, {"routes", json::object()}};
  return json{{"modulesContent",
               {{"$edgeAgent", {{"properties.desired", agent}}},
                {"$edgeHub", {{"properties.desired", hub}}}}}}
      .dump(2);
}

/// The deployment of one `docker` module named "container" whose engine is at `engine_socket`:
/// sets the agent's `container_engine` and the manifest.
void deploy_container(std::string& agent_extra, std::string& manifest,
                      const std::string& engine_socket) {
  agent_extra = "container_engine = \"unix://" + engine_socket + "\"\n";
  manifest = manifest_of({{"container",
                           {{"version", "1.0"},
                            {"type", "docker"},
                            {"status", "running"},
                            {"restartPolicy", "never"},
                            {"settings", {{"image", "probe:1"}}}}}});
}

/// Is `pid` a live process (not a zombie)?
bool alive(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!std::getline(in, text)) {
    return false;
  }
  const auto close = text.rfind(')');
  return close != std::string::npos && text[close + 2] != 'Z' && text[close + 2] != 'X';
}

/// Live processes whose environment says IOTEDGE_MODULEID=<module> and storage is ours.
std::vector<pid_t> processes_of_module(const std::string& module, const std::string& marker) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& p : fs::directory_iterator{"/proc", ec}) {
    const auto name = p.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in{p.path() / "environ"};
    std::stringstream env;
    env << in.rdbuf();
    const auto text = env.str();
    const auto pid = static_cast<pid_t>(std::stol(name));
    if (text.find(std::string{"IOTEDGE_MODULEID="} + module + '\0') != std::string::npos
        && text.find(marker) != std::string::npos && alive(pid)) {
      out.push_back(pid);
    }
  }
  return out;
}

class ModuleConfinement : public daemon_fixture {
protected:
  void SetUp() override {
    daemon_fixture::SetUp();
    probe_ = bin_path("security_probe_module");
  }

  void TearDown() override {
    ::unsetenv("OUTPOST_TEST_SWAP_AFTER_VERIFY");
    daemon_fixture::TearDown();
  }

  /// The `PROBE <what> <result>` lines module `name` printed (its log, through the CLI).
  std::map<std::string, std::string> probe_lines(const std::string& name) {
    std::map<std::string, std::string> out;
    auto r = cli({"logs", name});
    std::istringstream lines{r.out};
    for (std::string line; std::getline(lines, line);) {
      const auto at = line.find("PROBE ");
      if (at == std::string::npos) {
        continue;
      }
      const auto rest = line.substr(at + 6);
      // "admin /path result" keys keep their path; others are one word.
      const auto key_end = rest.rfind("admin ", 0) == 0 ? rest.find(' ', 6) : rest.find(' ');
      out[rest.substr(0, key_end)] = key_end == std::string::npos ? "" : rest.substr(key_end + 1);
    }
    return out;
  }

  /// Waits until module `name` printed `PROBE <key> ...`; its lines.
  std::map<std::string, std::string> wait_probe(const std::string& name, const std::string& key) {
    std::map<std::string, std::string> lines;
    const bool seen = eventually([&] {
      lines = probe_lines(name);
      return lines.count(key) > 0;
    });
    EXPECT_TRUE(seen) << name << " never printed PROBE " << key << "\n"
                      << cli({"logs", name}).out << "\n"
                      << cli({"list"}).out << daemon_->stderr_text();
    return lines;
  }

  /// GET /modules on the admin socket (as root).
  json modules() {
    std::ifstream ports_file{data_ / "run" / "ports.json"};
    auto ports = json::parse(ports_file, nullptr, false);
    if (!ports.is_object() || !ports.contains("admin_socket")) {
      return json::object();
    }
    auto r = transport::http_call("unix:" + ports["admin_socket"].get<std::string>(), "GET",
                                  "/modules", "");
    if (!r) {
      return json::object();
    }
    auto j = json::parse(r->body, nullptr, false);
    return j.is_object() ? j : json::object();
  }

  pid_t pid_of(const std::string& module) {
    pid_t pid = 0;
    eventually([&] {
      for (const auto& m : modules().value("modules", json::array())) {
        if (m.value("name", "") == module && m.value("runtimeStatus", "") == "running") {
          pid = m.value("pid", 0);
        }
      }
      return pid > 0;
    });
    return pid;
  }

  std::string genid_of(const std::string& module) {
    auto r = cli({"identity", "show", device_id_ + "/" + module});
    auto j = json::parse(r.out, nullptr, false);
    return j.is_object() ? std::to_string(j.value("createdMs", std::int64_t{0})) : "";
  }

  std::string probe_;
};

bool root() {
  return ::geteuid() == 0;
}

TEST_F(ModuleConfinement, ModuleRunsUnderItsOwnUidSessionAndNoNewPrivs) {
  if (!root()) {
    GTEST_SKIP() << "outpostd confines modules only as root";
  }
  manifest_ = manifest_of({{"probe", process_module(probe_, {"status", "sleep"})},
                           {"other", process_module(probe_, {"status", "sleep"})}});
  start();
  auto p = wait_probe("probe", "sleeping");
  auto o = wait_probe("other", "sleeping");
  const auto uid = std::stol(p["uid"]);
  EXPECT_GE(uid, 61184) << "runs as uid " << uid << ", not one of [agent] module_uid_min..max";
  EXPECT_LE(uid, 65519);
  EXPECT_EQ(p["gid"], p["uid"]);
  EXPECT_EQ(p["groups"], "[]") << "no supplementary groups";
  EXPECT_NE(o["uid"], p["uid"]) << "each module has its own uid";
  EXPECT_EQ(p["nonewprivs"], "1");
  EXPECT_EQ(p["own-session"], "yes");
  const auto home = (data_ / "home" / "probe").string();
  EXPECT_EQ(p["home"], home);
  EXPECT_EQ(p["cwd"], home);
  EXPECT_EQ(p["home-writable"], "yes");
  struct stat st {};
  ASSERT_EQ(::stat(home.c_str(), &st), 0);
  EXPECT_EQ(static_cast<long>(st.st_uid), uid);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  // Its log stays outpostd's: a folder the module cannot enter.
  ASSERT_EQ(::stat((data_ / "modules" / "probe").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 0077, 0u);
  // Its own cgroup, when cgroup v2 is writable here.
  const auto modules_json = modules();
  EXPECT_TRUE(modules_json["confinement"].value("confined", false));
  if (modules_json["confinement"].value("description", "").find("cgroups under")
      != std::string::npos) {
    EXPECT_NE(p["cgroup"].find("/outpost/"), std::string::npos) << p["cgroup"];
    EXPECT_NE(p["cgroup"].find("/probe"), std::string::npos) << p["cgroup"];
  }
  // Stable across restarts.
  stop();
  start();
  auto again = wait_probe("probe", "sleeping");
  EXPECT_EQ(again["uid"], p["uid"]);
  // `outpost check` says the modules are confined.
  auto check = cli({"check"});
  EXPECT_NE(check.out.find("module confinement: process modules run as their own uid"),
            std::string::npos)
      << check.out;
}

TEST_F(ModuleConfinement, ModuleCannotReadKeysThroughAdminSocket) {
  if (!root()) {
    GTEST_SKIP() << "needs root to run modules (and a test process) as other uids";
  }
  const auto admin_now = (data_ / "run" / "admin" / "admin.sock").string();
  const auto admin_old = (data_ / "run" / "admin.sock").string(); // where it was before
  manifest_ = manifest_of({{"probe", process_module(probe_, {"admin", admin_now, admin_old})}});
  start();
  add_identity("device", "victim");
  auto p = wait_probe("probe", "done");
  for (const auto& path : {admin_now, admin_old}) {
    const auto r = p["admin " + path];
    EXPECT_EQ(r.find("200"), std::string::npos) << path << ": " << r;
    EXPECT_EQ(r.find("victim"), std::string::npos) << path << ": " << r;
  }
  // Any other local user: cannot even enter the folder (0700); the socket would say 403.
  struct stat st {};
  ASSERT_EQ(::stat(fs::path{admin_now}.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0u);
  const pid_t child = ::fork();
  if (child == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0
        || ::setresuid(65534, 65534, 65534) != 0) {
      ::_exit(3);
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", admin_now.c_str());
    ::_exit(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0
            : errno == EACCES                                                   ? 1
                                                                                : 2);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 1) << "uid 65534 connecting to the admin socket: 0 = connected";
  // Root still gets in (the CLI).
  EXPECT_EQ(cli({"identity", "list"}).code, 0);
}

TEST_F(ModuleConfinement, ModuleCannotSignAsAnotherModuleBySetpgid) {
  const auto target = dir_ / "target";
  manifest_ = manifest_of({{"victim", process_module(probe_, {"sleep"})},
                           {"attacker", process_module(probe_, {"attack", target.string()})}});
  start();
  const pid_t victim = pid_of("victim");
  ASSERT_GT(victim, 0);
  const auto gen = genid_of("victim");
  {
    std::ofstream out{target.string() + ".tmp"};
    out << victim << " victim " << gen << "\n";
  }
  fs::permissions(target.string() + ".tmp", fs::perms::owner_read | fs::perms::owner_write
                                                | fs::perms::group_read | fs::perms::others_read);
  fs::rename(target.string() + ".tmp", target);
  auto p = wait_probe("attacker", "sign-as-victim");
  EXPECT_EQ(p["sign-as-victim"].rfind("403", 0), 0u)
      << "the attacker (setpgid: " << p["setpgid"] << ") got: " << p["sign-as-victim"];
  EXPECT_NE(p["setpgid"], "ok") << "a module joined another module's process group";
}

TEST_F(ModuleConfinement, CertificateServerRefusesGatewayHostnameToAModule) {
  manifest_ = manifest_of(
      {{"probe", process_module(probe_, {"cert", "localhost", "probe", "probe.local", "victim"})}});
  start();
  auto p = wait_probe("probe", "done");
  EXPECT_EQ(p["cert-localhost"].rfind("403", 0), 0u)
      << "a module got a server certificate for the gateway's host name: " << p["cert-localhost"];
  EXPECT_EQ(p["cert-victim"].rfind("403", 0), 0u) << p["cert-victim"];
  EXPECT_EQ(p["cert-probe"].rfind("201", 0), 0u) << p["cert-probe"];
  EXPECT_EQ(p["cert-probe.local"].rfind("201", 0), 0u) << p["cert-probe.local"];
}

TEST_F(ModuleConfinement, SwappedExecutableAfterDigestCheckDoesNotRun) {
  const auto bin = dir_ / "bin";
  fs::create_directories(bin);
  fs::permissions(bin, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec
                           | fs::perms::others_read | fs::perms::others_exec);
  const auto good = bin / "module.sh";
  const auto evil = bin / "evil.sh";
  {
    std::ofstream{good} << "#!/bin/sh\necho VERIFIED-CODE-RAN\nexec sleep 300\n";
    std::ofstream{evil} << "#!/bin/sh\necho SWAPPED-CODE-RAN\nexec sleep 300\n";
  }
  for (const auto& f : {good, evil}) {
    fs::permissions(f, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec
                           | fs::perms::others_read | fs::perms::others_exec);
  }
  // The test hook renames evil.sh over module.sh right after the digest check passed, as an
  // attacker racing the start would.
  ::setenv("OUTPOST_TEST_SWAP_AFTER_VERIFY", evil.c_str(), 1);
  manifest_ = manifest_of({{"swapped", process_module(good.string(), {})}});
  start();
  std::string log;
  ASSERT_TRUE(eventually([&] {
    log = cli({"logs", "swapped"}).out;
    return log.find("CODE-RAN") != std::string::npos;
  })) << cli({"list"}).out
      << daemon_->stderr_text();
  EXPECT_FALSE(fs::exists(evil)) << "the swap happened (test hook)";
  EXPECT_NE(log.find("VERIFIED-CODE-RAN"), std::string::npos) << log;
  EXPECT_EQ(log.find("SWAPPED-CODE-RAN"), std::string::npos) << log;
}

TEST_F(ModuleConfinement, ExecutableOwnedByAnotherUserOrInAGroupWritableFolderDoesNotRun) {
  if (!root()) {
    GTEST_SKIP() << "needs root to chown";
  }
  const auto bin = dir_ / "bin";
  fs::create_directories(bin);
  const auto owned = bin / "owned.sh";
  std::ofstream{owned} << "#!/bin/sh\nexec sleep 300\n";
  fs::permissions(owned, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec
                             | fs::perms::others_read | fs::perms::others_exec);
  ASSERT_EQ(::chown(owned.c_str(), 65534, 65534), 0);
  const auto shared = dir_ / "shared";
  fs::create_directories(shared);
  fs::permissions(shared, fs::perms::group_write, fs::perm_options::add);
  const auto in_shared = shared / "m.sh";
  std::ofstream{in_shared} << "#!/bin/sh\nexec sleep 300\n";
  fs::permissions(in_shared, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
  manifest_ = manifest_of({{"owned", process_module(owned.string(), {})},
                           {"shared", process_module(in_shared.string(), {})}});
  start();
  std::map<std::string, std::string> why;
  ASSERT_TRUE(eventually([&] {
    for (const auto& m : modules().value("modules", json::array())) {
      why[m.value("name", "")] = m.value("statusDescription", "");
    }
    return why["owned"].find("not started") != std::string::npos
           && why["shared"].find("not started") != std::string::npos;
  })) << why["owned"]
      << " / " << why["shared"];
  EXPECT_NE(why["owned"].find("owned by uid 65534"), std::string::npos) << why["owned"];
  EXPECT_NE(why["shared"].find("writable by its group"), std::string::npos) << why["shared"];
}

TEST_F(ModuleConfinement, DaemonSigkillLeavesNoModuleAndRestartDoesNotDouble) {
  manifest_ = manifest_of(
      {{"one", process_module(probe_, {"sleep"})}, {"two", process_module(probe_, {"sleep"})}});
  start();
  const auto marker = "IOTEDGE_WORKLOADURI=unix://" + data_.string();
  const pid_t one = pid_of("one");
  const pid_t two = pid_of("two");
  ASSERT_GT(one, 0);
  ASSERT_GT(two, 0);
  daemon_->signal(SIGKILL);
  EXPECT_EQ(daemon_->wait(5s).value_or(-1), 128 + SIGKILL);
  daemon_.reset();
  EXPECT_TRUE(eventually([&] { return !alive(one) && !alive(two); }, 1500ms))
      << "modules outlived the daemon's SIGKILL";
  EXPECT_TRUE(processes_of_module("one", marker).empty());
  start();
  ASSERT_GT(pid_of("one"), 0);
  ASSERT_GT(pid_of("two"), 0);
  EXPECT_EQ(processes_of_module("one", marker).size(), 1u);
  EXPECT_EQ(processes_of_module("two", marker).size(), 1u);
}

} // namespace
} // namespace outpost::test

namespace outpost::test {
namespace {

TEST_F(ModuleConfinement, LeftoversOfAKilledDaemonAreEndedBeforeModulesStart) {
  if (!root()) {
    GTEST_SKIP() << "cgroups need root";
  }
  manifest_ = manifest_of({{"one", process_module(probe_, {"escape", "sleep"})}});
  start();
  wait_probe("one", "sleeping"); // the agent has published its view by then
  if (modules()["confinement"].value("description", "").find("cgroups under")
      == std::string::npos) {
    GTEST_SKIP() << "no writable cgroup v2 here: " << modules()["confinement"].dump();
  }
  pid_t escaped = 0;
  std::ifstream{data_ / "home" / "one" / "escaped.pid"} >> escaped;
  ASSERT_GT(escaped, 0);
  daemon_->signal(SIGKILL);
  daemon_->wait(5s);
  daemon_.reset();
  // It left the module's session: the parent-death signal does not reach it. Its cgroup does.
  EXPECT_TRUE(alive(escaped));
  start();
  EXPECT_TRUE(eventually([&] { return !alive(escaped); }, 5s))
      << "the previous run's process " << escaped << " still runs";
  EXPECT_TRUE(eventually([&] {
    return daemon_->stderr_text().find("ended a module left running by a previous outpostd")
           != std::string::npos;
  })) << daemon_->stderr_text();
  ASSERT_GT(pid_of("one"), 0);
}

TEST_F(ModuleConfinement, DockerModuleDoesNotGetTheAdminSocket) {
  // A Docker Engine API stand-in on a unix socket: it records the container's create request.
  transport::io_runner io{1};
  std::mutex mutex;
  std::string create_body;
  bool created = false;
  process sleeper{{"/bin/sleep", "300"}, dir_ / "sleeper.stderr"};
  const auto engine_socket = (dir_ / "engine.sock").string();
  auto engine = transport::http_server::start_local(
      io, engine_socket, [&](const transport::http_request& req) -> transport::http_response {
        std::lock_guard<std::mutex> lock{mutex};
        const auto& t = req.target;
        if (t.find("/images/") != std::string::npos && req.method == "GET") {
          return {200, "application/json", R"({"Id":"sha256:0123"})"};
        }
        if (t.find("/containers/create") != std::string::npos) {
          create_body = req.body;
          created = true;
          return {201, "application/json", R"({"Id":"c0ffee"})"};
        }
        if (t.find("/json") != std::string::npos && req.method == "GET") {
          if (!created) {
            return {404, "application/json", R"({"message":"no such container"})"};
          }
          return {200, "application/json",
                  R"({"Image":"sha256:0123","State":{"Running":true,"Pid":)"
                      + std::to_string(sleeper.pid()) + R"(,"Status":"running","ExitCode":0}})"};
        }
        if (t.find("/logs") != std::string::npos) {
          return {200, "text/plain", ""};
        }
        return {204, "application/json", ""};
      });
  ASSERT_TRUE(engine);
  deploy_container(agent_extra_, manifest_, engine_socket);
  start();
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock{mutex};
    return created;
  })) << daemon_->stderr_text();
  std::string body;
  {
    std::lock_guard<std::mutex> lock{mutex};
    body = create_body;
  }
  auto j = json::parse(body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << body;
  const auto binds = j["HostConfig"].value("Binds", json::array());
  ASSERT_FALSE(binds.empty()) << body;
  std::ifstream ports_file{data_ / "run" / "ports.json"};
  const auto ports = json::parse(ports_file, nullptr, false);
  const auto admin = ports.value("admin_socket", std::string{});
  const auto workload = ports.value("workload_socket", std::string{});
  ASSERT_FALSE(admin.empty());
  for (const auto& b : binds) {
    const auto bind = b.get<std::string>();
    const auto source = fs::path{bind.substr(0, bind.find(':'))}.lexically_normal().string();
    EXPECT_NE(fs::absolute(admin).lexically_normal().string().rfind(source + "/", 0), 0u)
        << "the container gets " << source << ", which holds the admin socket " << admin;
    EXPECT_EQ(fs::absolute(workload).parent_path().lexically_normal().string(), source)
        << "only the workload socket's own folder is mounted: " << bind;
    // That folder holds the workload socket and nothing else.
    for (const auto& e : fs::directory_iterator{source}) {
      EXPECT_EQ(e.path().filename(), "workload.sock") << e.path();
    }
  }
  stop(); // before the engine stand-in goes: it must answer the daemon's last calls
  sleeper.signal(SIGKILL);
}

TEST_F(ModuleConfinement, HungContainerEngineDoesNotHoldUpTheDaemonsShutdown) {
  // An engine that takes connections and never answers: the module's start blocks in its first
  // call (30 s timeout). SIGTERM must still end the daemon promptly and cleanly.
  const auto engine_socket = (dir_ / "engine.sock").string();
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", engine_socket.c_str());
  ASSERT_EQ(::bind(listener, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 16), 0); // never accepts: connects land in the backlog
  deploy_container(agent_extra_, manifest_, engine_socket);
  start();
  ASSERT_TRUE(eventually([&] {
    return daemon_->stderr_text().find("[identity registry edge1/container] added")
           != std::string::npos;
  })) << daemon_->stderr_text();
  std::this_thread::sleep_for(300ms); // the start is in its engine call by now
  const auto asked = std::chrono::steady_clock::now();
  daemon_->signal(SIGTERM);
  EXPECT_EQ(daemon_->wait(10s).value_or(-1), 0) << daemon_->stderr_text();
  const auto took = std::chrono::steady_clock::now() - asked;
  EXPECT_LT(took, 3s) << daemon_->stderr_text();
  daemon_.reset();
  ::close(listener);
}

TEST_F(ModuleConfinement, NonRootDaemonSaysModulesAreNotConfinedAndStillTellsThemApart) {
  if (!root() || !fs::exists("/usr/bin/setpriv")) {
    GTEST_SKIP() << "needs root and setpriv to start outpostd as another user";
  }
  // outpostd as uid 65534 (nobody): it cannot switch users, so modules run as nobody too.
  fs::create_directories(data_);
  ASSERT_EQ(::chown(data_.c_str(), 65534, 65534), 0);
  launcher_ = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  const auto target = dir_ / "target";
  manifest_ = manifest_of({{"victim", process_module(probe_, {"status", "sleep"})},
                           {"attacker", process_module(probe_, {"attack", target.string()})}});
  start();
  auto v = wait_probe("victim", "sleeping");
  EXPECT_EQ(v["uid"], "65534");
  EXPECT_EQ(v["own-session"], "yes");
  EXPECT_EQ(v["nonewprivs"], "1");
  const pid_t victim = pid_of("victim");
  ASSERT_GT(victim, 0);
  std::ofstream{target} << victim << " victim " << genid_of("victim") << "\n";
  auto a = wait_probe("attacker", "sign-as-victim");
  EXPECT_EQ(a["sign-as-victim"].rfind("403", 0), 0u)
      << "same uid, setpgid " << a["setpgid"] << ": " << a["sign-as-victim"];
  auto check = cli({"check"});
  EXPECT_NE(check.out.find("\u2717 WARNING: modules are NOT confined: outpostd is not root"),
            std::string::npos)
      << check.out;
}

/// In a child running as `uid` with the given supplementary groups: GET /identities on the
/// admin socket. The HTTP status, or -errno when it cannot connect.
int admin_get_as(const std::string& socket_path, uid_t uid, std::vector<gid_t> groups) {
  int p[2];
  if (::pipe(p) != 0) {
    return -1000;
  }
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(p[0]);
    int result = -1000;
    if (::setgroups(groups.size(), groups.data()) == 0 && ::setresgid(uid, uid, uid) == 0
        && ::setresuid(uid, uid, uid) == 0) {
      const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path.c_str());
      if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        result = -errno;
      } else {
        const char req[] = "GET /identities HTTP/1.0\r\n\r\n";
        [[maybe_unused]] auto n = ::write(fd, req, sizeof req - 1);
        char buf[64] = {};
        result = ::read(fd, buf, sizeof buf - 1) > 12 ? std::atoi(buf + 9) : -1001;
      }
    }
    [[maybe_unused]] auto n = ::write(p[1], &result, sizeof result);
    ::_exit(0);
  }
  ::close(p[1]);
  int result = -1002;
  [[maybe_unused]] auto n = ::read(p[0], &result, sizeof result);
  ::close(p[0]);
  ::waitpid(child, nullptr, 0);
  return result;
}

TEST_F(ModuleConfinement, LocalUserOutsideTheAdminGroupCannotReadKeys) {
  if (!root()) {
    GTEST_SKIP() << "needs root to act as other users";
  }
  listen_extra_ = "admin_group = \"nogroup\"\n";
  start();
  add_identity("device", "victim");
  const auto sock = (data_ / "run" / "admin" / "admin.sock").string();
  struct stat st {};
  ASSERT_EQ(::stat(fs::path{sock}.parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 02750u);
  EXPECT_EQ(st.st_gid, 65534u);
  EXPECT_EQ(admin_get_as(sock, 65001, {}), -EACCES) << "a user outside the admin group";
  EXPECT_EQ(admin_get_as(sock, 65001, {65534}), 200) << "a member of the admin group";
}

} // namespace
} // namespace outpost::test
