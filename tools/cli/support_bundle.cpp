#include "tools/cli/support_bundle.hpp"

#include "protocols/iothub/encoding.hpp"
#include "protocols/transport/http_client.hpp"
#include "supervisor/config/build_info.hpp"
#include "tools/cli/redact.hpp"
#include "tools/cli/tar_gz.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace outpost::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_file(const fs::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::stringstream ss;
  ss << in.rdbuf();
  return in ? ss.str() : std::string{};
}

/// stdout and stderr of `argv` together (our own `check` and `list`), with its exit code.
std::string capture(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return "(cannot run: pipe failed)\n";
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));
  }
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  std::string out;
  if (rc == 0) {
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) {
      out.append(buf, static_cast<std::size_t>(n));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    out += "\n(exit code " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")\n";
  } else {
    out = std::string{"(cannot run "} + argv[0] + ": " + std::strerror(rc) + ")\n";
  }
  ::close(fds[0]);
  return out;
}

std::string utc_stamp(const char* format) {
  const auto now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

/// The store folder's files with their sizes (RocksDB's SST, WAL and MANIFEST files).
std::string store_listing(const fs::path& dir) {
  std::string out;
  std::error_code ec;
  std::uintmax_t total = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) {
      const auto size = it->file_size(ec);
      total += size;
      out += std::to_string(size) + "\t" + fs::relative(it->path(), dir, ec).string() + "\n";
    }
  }
  return "# " + dir.string() + ": " + std::to_string(total) + " bytes\n" + out;
}

} // namespace

int run_support_bundle(const app::daemon_config& cfg, const std::string& config_path,
                       const std::string& since, std::string output, const std::string& self) {
  std::vector<archive_file> files;
  std::vector<std::string> notes;
  auto add = [&](std::string path, const std::string& content) {
    files.push_back({"outpost-support-bundle/" + std::move(path), redact(content)});
  };
  const auto admin = "unix:" + app::admin_socket_path(cfg);
  auto admin_get = [&](const std::string& target) -> std::optional<std::string> {
    auto r = transport::http_call(admin, "GET", target, {}, "application/json",
                                  std::chrono::seconds(10));
    if (!r || r->status != 200) {
      notes.push_back(
          "GET " + target + " on the admin socket: "
          + (r ? std::to_string(r->status) + " " + r->body.substr(0, 200) : r.error().message()));
      return std::nullopt;
    }
    return r->body;
  };
  const auto since_q = since.empty() ? std::string{} : "?since=" + iothub::percent_encode(since);

  add("config.toml", read_file(config_path));
  add("check.txt", capture({self, "--config", config_path, "check"}));
  add("list.txt", capture({self, "--config", config_path, "list"}));
  if (!cfg.agent.manifest.empty()) {
    add("deployment/manifest.json", read_file(cfg.agent.manifest));
  }
  const auto agent = admin_get("/status/edgeagent"); // also: is outpostd answering?
  const bool running = agent.has_value();
  if (running) {
    add("status/edgeAgent.json", *agent);
    if (auto log = admin_get("/logs/outpostd" + since_q)) {
      add("logs/outpostd.log", *log);
    }
    if (auto mods = admin_get("/modules")) {
      add("deployment/modules.json", *mods);
      auto j = json::parse(*mods, nullptr, false);
      if (j.is_object() && j.contains("modules") && j["modules"].is_array()) {
        for (const auto& m : j["modules"]) {
          const auto name = m.value("name", std::string{});
          if (name.empty() || name.find('/') != std::string::npos) {
            continue;
          }
          if (auto log =
                  admin_get("/modules/" + iothub::percent_encode(name) + "/logs" + since_q)) {
            add("logs/modules/" + name + ".log", *log);
          }
        }
      }
    }
    const std::pair<const char*, const char*> status[] = {
        {"/status/edgehub", "status/edgeHub.json"},
        {"/status/upstream", "status/upstream.json"},
        {"/deployment", "status/deployment-origin.json"},
        {"/identities", "status/identities.json"}};
    for (const auto& [target, path] : status) {
      if (auto body = admin_get(target)) {
        add(path, *body);
      }
    }
  } else {
    notes.push_back(
        "outpostd is not running: no logs, status or metrics from it (its own log "
        "is in the journal: journalctl -u outpostd)");
  }
  const auto ports =
      json::parse(read_file(fs::path{cfg.storage.dir} / "run" / "ports.json"), nullptr, false);
  std::string store = store_listing(fs::path{cfg.storage.dir} / "db");
  if (running && ports.is_object() && ports.contains("metrics")) {
    auto m = transport::http_get(ports["metrics"].get<std::string>(), "/metrics");
    if (m && m->status == 200) {
      add("metrics.txt", m->body);
      std::istringstream lines{m->body};
      store += "\n# the store's series\n";
      for (std::string line; std::getline(lines, line);) {
        if (line.rfind("outpost_store_", 0) == 0 || line.rfind("edgehub_queue_length", 0) == 0) {
          store += line + "\n";
        }
      }
    } else {
      notes.push_back("GET /metrics: " + (m ? std::to_string(m->status) : m.error().message()));
    }
  }
  add("store.txt", store);
  std::string readme = "Outpost support bundle\ncreated " + utc_stamp("%Y-%m-%dT%H:%M:%SZ")
                       + " by outpost " + app::build_version() + " (" + app::build_commit()
                       + ")\nconfiguration " + config_path + "\nlogs since "
                       + (since.empty() ? std::string{"the start of what is kept"} : since)
                       + "\nsecrets (keys, SAS signatures, connection strings, passwords, "
                         "private keys) are replaced by <redacted>\n";
  for (const auto& n : notes) {
    readme += "note: " + n + "\n";
  }
  add("README.txt", readme);

  if (output.empty()) {
    output = "outpost-support-bundle-" + utc_stamp("%Y%m%dT%H%M%SZ") + ".tar.gz";
  }
  const auto bytes = tar_gz(files, static_cast<std::int64_t>(std::time(nullptr)));
  const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    std::cerr << "outpost: cannot write " << output << ": " << std::strerror(errno) << "\n";
    if (fd >= 0) {
      ::close(fd);
    }
    return 1;
  }
  ::close(fd);
  std::cout << output << " (" << bytes.size() << " bytes, " << files.size() << " files)\n";
  for (const auto& n : notes) {
    std::cerr << "outpost: note: " << n << "\n";
  }
  return 0;
}

} // namespace outpost::cli
