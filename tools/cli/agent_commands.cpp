#include "tools/cli/agent_commands.hpp"

#include "protocols/iothub/encoding.hpp"
#include "protocols/transport/certificates.hpp"
#include "protocols/transport/http_client.hpp"
#include "supervisor/config/data_dir.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace outpost::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

enum exit_code : int { exit_ok = 0, exit_failure = 1 };

const char* const ok_mark = "\u2713";
const char* const bad_mark = "\u2717";

std::optional<transport::http_reply> admin_call(const app::daemon_config& cfg,
                                                const std::string& method,
                                                const std::string& target,
                                                const std::string& body = {}) {
  auto reply = transport::http_call("unix:" + app::admin_socket_path(cfg), method, target, body);
  if (!reply) {
    return std::nullopt;
  }
  return *reply;
}

std::optional<json> admin_json(const app::daemon_config& cfg, const std::string& method,
                               const std::string& target, const std::string& body = {}) {
  auto reply = admin_call(cfg, method, target, body);
  if (!reply) {
    std::cerr << "outpost: outpostd is not running (no answer on " << app::admin_socket_path(cfg)
              << ")\n";
    return std::nullopt;
  }
  auto j = json::parse(reply->body, nullptr, false);
  if (reply->status >= 300) {
    std::cerr << "outpost: " << (j.is_object() ? j.value("error", reply->body) : reply->body)
              << "\n";
    return std::nullopt;
  }
  return j;
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// "3 seconds", "2 minutes", "5 hours", "2 days" (like docker's "Up 2 minutes").
std::string ago(std::int64_t ms) {
  const auto s = std::max<std::int64_t>(0, ms / 1000);
  auto unit = [](std::int64_t n, const char* what) {
    return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
  };
  if (s < 60) {
    return unit(s, "second");
  }
  if (s < 3600) {
    return unit(s / 60, "minute");
  }
  if (s < 86400) {
    return unit(s / 3600, "hour");
  }
  return unit(s / 86400, "day");
}

std::string description_of(const json& m) {
  const auto status = m.value("runtimeStatus", "");
  const auto now = now_ms();
  if (status == "running") {
    return "Up " + ago(now - m.value("lastStartMs", now));
  }
  const auto exited = m.value("lastExitMs", std::int64_t{0});
  const auto code = m.value("exitCode", 0);
  if (status == "backoff") {
    return "Back-off, exited (" + std::to_string(code) + ") " + ago(now - exited) + " ago";
  }
  if (status == "failed") {
    const auto why = m.value("statusDescription", "");
    return why.rfind("not started", 0) == 0
               ? why
               : "Failed (" + std::to_string(code) + ") " + ago(now - exited) + " ago";
  }
  if (exited > 0) {
    return "Stopped (" + std::to_string(code) + ") " + ago(now - exited) + " ago";
  }
  return "Stopped";
}

bool tcp_reachable(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return false;
  }
  auto host = address.substr(0, colon);
  if (host == "0.0.0.0" || host == "localhost") {
    host = "127.0.0.1";
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    return false;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  if (fd >= 0) {
    ::close(fd);
  }
  return ok;
}

struct checker {
  int failures = 0;
  void pass(const std::string& what) { std::cout << ok_mark << " " << what << "\n"; }
  void fail(const std::string& what, const std::string& hint) {
    ++failures;
    std::cout << bad_mark << " " << what << "\n    hint: " << hint << "\n";
  }
  /// A ✗ in red that does not fail the check: it works, but not safely.
  void warn(const std::string& what, const std::string& hint) {
    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    std::cout << (tty ? "\033[31m" : "") << bad_mark << " WARNING: " << what
              << (tty ? "\033[0m" : "") << "\n    hint: " << hint << "\n";
  }
};

void check_certificates(const app::daemon_config& cfg, checker& c) {
  const bool generated = cfg.tls.cert.empty();
  const auto certs = fs::path{cfg.storage.dir} / "certs";
  const std::string server = generated ? (certs / "server.pem").string() : cfg.tls.cert;
  const std::string ca = generated ? (certs / "edge-ca.pem").string() : cfg.tls.ca;
  for (const auto& [what, file] : {std::pair{"server certificate", server}, {"CA", ca}}) {
    if (file.empty()) {
      continue;
    }
    std::ifstream in{file};
    std::stringstream pem;
    pem << in.rdbuf();
    if (!in || !transport::certificate_thumbprint(pem.str())) {
      c.fail(std::string{"certificates: "} + what + " " + file + " is missing or unreadable",
             generated ? "outpostd creates the quickstart CA on its first start"
                       : "check [tls] cert/key/ca in the configuration");
      return;
    }
  }
  c.pass("certificates: " + server + " and CA " + ca
         + (generated ? " (quickstart edge CA; `outpost ca` prints it)" : ""));
}

void check_disk(const app::daemon_config& cfg, checker& c) {
  struct statvfs fs {};
  if (::statvfs(cfg.storage.dir.c_str(), &fs) != 0) {
    c.fail("disk: cannot stat " + cfg.storage.dir, "create storage.dir or fix its permissions");
    return;
  }
  const double free_bytes = static_cast<double>(fs.f_bavail) * fs.f_frsize;
  const double total = static_cast<double>(fs.f_blocks) * fs.f_frsize;
  std::ostringstream what;
  what << std::fixed << std::setprecision(1) << "disk: " << free_bytes / (1u << 30)
       << " GiB free of " << total / (1u << 30) << " GiB at " << cfg.storage.dir;
  if (free_bytes < 0.05 * total && free_bytes < (1ull << 30)) {
    c.fail(what.str(), "free space: a full disk stops acknowledging messages");
  } else {
    c.pass(what.str());
  }
}

std::string octal(unsigned mode) {
  std::ostringstream o;
  o << std::oct << std::setw(4) << std::setfill('0') << mode;
  return o.str();
}

/// Secrets at rest: <storage.dir> 0711, run/ 0711, db/ and certs/ 0700 with files 0600.
void check_data_modes(const app::daemon_config& cfg, checker& c) {
  std::error_code ec;
  if (!fs::exists(cfg.storage.dir, ec)) {
    return; // nothing stored yet (check_disk says so)
  }
  const auto loose = app::loose_data_paths(cfg.storage.dir);
  std::size_t files = 0;
  for (const auto& l : loose) {
    if (l.folder) {
      c.fail("permissions: " + l.path + " is " + octal(l.mode) + ", open to other users",
             "chmod " + octal(l.wanted).substr(1) + " " + l.path
                 + " (outpostd also tightens it at its next start)");
    } else if (files++ == 0) {
      std::size_t n = 0;
      for (const auto& f : loose) {
        n += f.folder ? 0 : 1;
      }
      c.fail("permissions: " + l.path + " is " + octal(l.mode) + ", readable by other users"
                 + (n > 1 ? " (and " + std::to_string(n - 1) + " more files)" : ""),
             "chmod -R go-rwx " + (fs::path{cfg.storage.dir} / "db").string() + " "
                 + (fs::path{cfg.storage.dir} / "certs").string()
                 + " (outpostd also tightens them at its next start)");
    }
  }
  if (loose.empty()) {
    c.pass("permissions: " + cfg.storage.dir + " 0711, db/ and certs/ private (0700, files 0600)");
  }
}

/// The store's own view (/healthz): full (quota) or disk full means no PUBACKs.
void check_store(const std::string& metrics_address, const app::daemon_config& cfg, checker& c) {
  auto health = transport::http_get(metrics_address, "/healthz");
  if (!health) {
    c.fail("store: /healthz does not answer", "see outpostd's log for [storage]");
    return;
  }
  auto j = json::parse(health->body, nullptr, false);
  const auto status = j.is_object() ? j.value("status", "") : "";
  if (health->status == 200) {
    c.pass("store: " + health->body.substr(0, health->body.find('\n')));
  } else if (status == "disk_full") {
    c.fail("store: the disk under " + cfg.storage.dir + " is full ("
               + std::to_string(j.value("disk_free_bytes", std::uint64_t{0}))
               + " bytes free): publishers are not acknowledged",
           "free space on that filesystem; outpostd resumes by itself when space returns");
  } else if (status == "full") {
    c.fail("store: full (" + std::to_string(j.value("store_used_bytes", std::uint64_t{0})) + " of "
               + std::to_string(j.value("store_quota_bytes", std::uint64_t{0}))
               + " bytes): publishers are not acknowledged",
           "let modules consume their backlog, or raise [storage] max_size_bytes");
  } else {
    c.fail("store: /healthz answers " + std::to_string(health->status),
           "see outpostd's log for [storage]");
  }
}

/// The open client connections by protocol and transport (`outpost_connections`): MQTT and
/// AMQP, over TCP, TLS or WebSockets.
void check_connections(const std::string& metrics_address, checker& c) {
  auto metrics = transport::http_get(metrics_address, "/metrics");
  if (!metrics || metrics->status != 200) {
    return;
  }
  std::string summary;
  std::istringstream lines{metrics->body};
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("outpost_connections{", 0) != 0) {
      continue;
    }
    const auto label = [&](const std::string& name) {
      const auto at = line.find(name + "=\"");
      if (at == std::string::npos) {
        return std::string{};
      }
      const auto from = at + name.size() + 2;
      return line.substr(from, line.find('"', from) - from);
    };
    const auto value = line.substr(line.rfind(' ') + 1);
    summary += (summary.empty() ? "" : ", ") + label("protocol") + "/" + label("transport") + " "
               + value.substr(0, value.find('.'));
  }
  c.pass("clients: " + (summary.empty() ? std::string{"no listener has served one yet"} : summary)
         + " (open connections by protocol/transport)");
}

/// The sum of the samples of /metrics whose line starts with `prefix` (a name and the start of
/// its labels).
double metric_sum(const std::string& metrics_body, const std::string& prefix) {
  double n = 0;
  std::istringstream lines{metrics_body};
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(prefix, 0) == 0) {
      n += std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
  }
  return n;
}

std::string metrics_body(const std::string& metrics_address) {
  auto metrics = transport::http_get(metrics_address, "/metrics");
  return metrics && metrics->status == 200 ? metrics->body : std::string{};
}

/// Entries waiting in the `$upstream` queues (endpoint "iothub", every priority).
std::uint64_t upstream_backlog(const std::string& metrics_address) {
  return static_cast<std::uint64_t>(
      metric_sum(metrics_body(metrics_address), "edgehub_queue_length{endpoint=\"iothub\""));
}

/// Each `[endpoints.NAME]` broker (issue 12): connected or not, and what waits for it.
void check_endpoints(const app::daemon_config& cfg, const std::string& metrics_address,
                     checker& c) {
  if (cfg.endpoints.empty()) {
    return;
  }
  const auto body = metrics_body(metrics_address);
  for (const auto& e : cfg.endpoints) {
    const auto backlog = static_cast<std::uint64_t>(
        metric_sum(body, "edgehub_queue_length{endpoint=\"endpoint/" + e.name + "\""));
    const auto where = std::string{e.tls ? "amqps://" : "amqp://"} + e.host + ":"
                       + std::to_string(e.port) + " node " + e.address;
    const bool up =
        metric_sum(body, "outpost_endpoint_connected{endpoint=\"" + e.name + "\"}") >= 1;
    if (up) {
      c.pass("endpoint " + e.name + ": connected to " + where + "; backlog "
             + std::to_string(backlog));
    } else {
      c.fail("endpoint " + e.name + ": not connected to " + where + "; backlog "
                 + std::to_string(backlog),
             "is the broker up, does it serve AMQP 1.0 (RabbitMQ: the rabbitmq_amqp1_0 "
             "plugin), and are the URL's user and password right (outpostd's log says why)? "
             "Endpoint(\""
                 + e.name + "\") keeps its messages meanwhile");
    }
  }
}

/// The upstream link (issue 12): optional, so a standalone edge passes.
void check_upstream(const app::daemon_config& cfg, const std::string& metrics_address, checker& c) {
  auto reply = admin_call(cfg, "GET", "/status/upstream");
  auto u = reply && reply->status == 200 ? json::parse(reply->body, nullptr, false) : json{};
  if (!u.is_object()) {
    return;
  }
  const auto state = u.value("state", std::string{"none"});
  if (state == "none") {
    c.pass("upstream: none configured (standalone: $upstream keeps its messages)");
    return;
  }
  const auto backlog = std::to_string(upstream_backlog(metrics_address));
  const auto parent = u.value("parent", std::string{});
  const auto device = u.value("deviceId", std::string{});
  const auto error = u.value("lastError", std::string{});
  if (state == "connected") {
    c.pass("upstream: connected to " + parent + " as " + device + ", authenticated; backlog "
           + backlog + (error.empty() ? "" : "; last error: " + error));
    return;
  }
  c.fail("upstream: " + state + " (" + parent + " as " + device + "); backlog " + backlog
             + (error.empty() ? "" : "; last error: " + error),
         "is the parent's [listen] amqp_tls reachable, does [upstream] trust_bundle hold its CA, "
         "and is " + device + " an --edge-enabled device there? $upstream keeps its messages "
         "meanwhile");
}

} // namespace

int run_list(const app::daemon_config& cfg) {
  auto j = admin_json(cfg, "GET", "/modules");
  if (!j) {
    return exit_failure;
  }
  std::vector<std::array<std::string, 4>> rows{
      {"NAME", "STATUS", "DESCRIPTION", "CONFIG"},
      {"edgeAgent", "running", "In outpostd", "outpostd " + cfg.device_id},
      {"edgeHub", "running", "In outpostd", "outpostd " + cfg.device_id},
  };
  for (const auto& m : (*j)["modules"]) {
    rows.push_back({m.value("name", ""), m.value("runtimeStatus", ""), description_of(m),
                    m.value("config", "")});
  }
  // The upstream link, when there is one: its state where a module shows its status.
  if (auto up = admin_call(cfg, "GET", "/status/upstream"); up && up->status == 200) {
    auto u = json::parse(up->body, nullptr, false);
    if (u.is_object() && u.value("state", std::string{"none"}) != "none") {
      const auto error = u.value("lastError", std::string{});
      rows.push_back(
          {"$upstream", u.value("state", std::string{}),
           u.value("state", std::string{}) == "connected" || error.empty()
               ? "AMQP link to the parent"
               : error.substr(0, 60),
           u.value("parent", std::string{}) + " as " + u.value("deviceId", std::string{})});
    }
  }
  std::array<std::size_t, 4> width{};
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < 4; ++i) {
      width[i] = std::max(width[i], r[i].size());
    }
  }
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < 4; ++i) {
      std::cout << r[i] << (i < 3 ? std::string(width[i] - r[i].size() + 3, ' ') : "\n");
    }
  }
  return exit_ok;
}

int run_logs(const app::daemon_config& cfg, const std::string& module, std::size_t tail,
             const std::string& since, bool follow) {
  const auto base = "/modules/" + iothub::percent_encode(module) + "/logs";
  std::string query = "?tail=" + std::to_string(tail);
  if (!since.empty()) {
    query += "&since=" + iothub::percent_encode(since);
  }
  auto reply = admin_call(cfg, "GET", base + query);
  if (!reply) {
    std::cerr << "outpost: outpostd is not running\n";
    return exit_failure;
  }
  if (reply->status != 200) {
    auto j = json::parse(reply->body, nullptr, false);
    std::cerr << "outpost: " << (j.is_object() ? j.value("error", reply->body) : reply->body)
              << "\n";
    return exit_failure;
  }
  std::cout << reply->body << std::flush;
  if (!follow) {
    return exit_ok;
  }
  // Follow: ask for what came since the last line printed (same-millisecond lines once).
  std::string last = reply->body;
  std::vector<std::string> seen;
  auto remember = [&](const std::string& text) {
    std::istringstream lines{text};
    for (std::string l; std::getline(lines, l);) {
      if (seen.empty() || l.substr(0, 24) != seen.back().substr(0, 24)) {
        seen.clear();
      }
      seen.push_back(l);
    }
  };
  remember(last);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::string from =
        seen.empty() ? std::to_string(now_ms() / 1000 - 1) : seen.back().substr(0, 19) + "Z";
    auto more = admin_call(cfg, "GET", base + "?since=" + iothub::percent_encode(from));
    if (!more || more->status != 200) {
      std::cerr << "outpost: outpostd went away\n";
      return exit_failure;
    }
    std::istringstream lines{more->body};
    for (std::string l; std::getline(lines, l);) {
      if (std::find(seen.begin(), seen.end(), l) != seen.end()) {
        continue;
      }
      if (!seen.empty() && l.substr(0, 24) < seen.back().substr(0, 24)) {
        continue; // second-granular `since`: earlier lines of that second were printed
      }
      std::cout << l << "\n" << std::flush;
      remember(l + "\n");
    }
  }
}

int run_monitor(const app::daemon_config& cfg, const std::string& module, unsigned timeout_s,
                std::size_t count) {
  auto first = admin_json(cfg, "GET", "/monitor?after=0");
  if (!first) {
    return exit_failure;
  }
  std::uint64_t after = first->value("last", std::uint64_t{0});
  std::cout << "Starting event monitor, use ctrl-c to stop..." << std::endl;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  std::size_t shown = 0;
  while (timeout_s == 0 || std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto j = admin_json(cfg, "GET", "/monitor?after=" + std::to_string(after));
    if (!j) {
      return exit_failure;
    }
    after = j->value("last", after);
    for (const auto& e : (*j)["events"]) {
      if (!module.empty() && e["event"].value("module", "") != module) {
        continue;
      }
      std::cout << e.dump(4) << std::endl;
      if (count != 0 && ++shown >= count) {
        return exit_ok;
      }
    }
  }
  return exit_ok;
}

int run_restart(const app::daemon_config& cfg, const std::string& module) {
  auto j = admin_json(cfg, "POST", "/modules/" + iothub::percent_encode(module) + "/restart");
  if (!j) {
    return exit_failure;
  }
  if (j->value("status", 0) != 200) {
    const auto payload = j->value("payload", json::object());
    std::cerr << "outpost: "
              << (payload.is_object() ? payload.value("message", payload.dump()) : payload.dump())
              << "\n";
    return exit_failure;
  }
  std::cout << "restarted " << module << "\n";
  return exit_ok;
}

int run_check(const app::daemon_config& cfg, const std::string& config_path) {
  checker c;
  c.pass("configuration " + config_path);
  check_certificates(cfg, c);
  check_disk(cfg, c);
  check_data_modes(cfg, c);
  auto hub = admin_call(cfg, "GET", "/status/edgehub");
  if (!hub || hub->status != 200) {
    c.fail("outpostd is not answering on " + app::admin_socket_path(cfg),
           "start it: outpostd --config " + config_path);
    return exit_failure;
  }
  c.pass("outpostd " + cfg.device_id + " running");
  std::ifstream ports_file{fs::path{cfg.storage.dir} / "run" / "ports.json"};
  auto ports = json::parse(ports_file, nullptr, false);
  if (ports.is_object()) {
    for (const auto& key : {"mqtt_tls", "mqtt", "amqp_tls", "https", "metrics"}) {
      if (!ports.contains(key)) {
        continue;
      }
      const auto address = ports[key].get<std::string>();
      if (tcp_reachable(address)) {
        c.pass(std::string{"port "} + key + " " + address + " accepts connections");
      } else {
        c.fail(std::string{"port "} + key + " " + address + " does not accept connections",
               "a firewall, or another process on that port");
      }
    }
    if (ports.contains("metrics")) {
      check_store(ports["metrics"].get<std::string>(), cfg, c);
      check_connections(ports["metrics"].get<std::string>(), c);
      check_upstream(cfg, ports["metrics"].get<std::string>(), c);
      check_endpoints(cfg, ports["metrics"].get<std::string>(), c);
    }
  }
  // The manifest file and the service API's applyConfigurationContent: the newer is in force.
  const auto origin = admin_json(cfg, "GET", "/deployment");
  const auto source = origin ? origin->value("source", std::string{"none"}) : std::string{"none"};
  const auto from = source == "service API"
                        ? std::string{"the service API (applyConfigurationContent)"}
                        : cfg.agent.manifest;
  if (source != "none") {
    c.pass("deployment in force: from " + from
           + (source == "service API" ? ", newer than the manifest file" : ""));
  }
  auto agent = source == "none" ? std::nullopt : admin_json(cfg, "GET", "/modules");
  if (source == "none") {
    c.pass(
        "$edgeAgent deployment: none configured ([agent] manifest, or applyConfigurationContent "
        "through the service API)");
  } else if (agent) {
    const auto status = agent->value("lastDesiredStatus", json::object());
    const int code = status.value("code", 0);
    if (code == 200) {
      c.pass("$edgeAgent deployment: " + std::to_string((*agent)["modules"].size())
             + " modules from " + from);
    } else {
      c.fail(
          "$edgeAgent deployment: " + std::to_string(code) + " " + status.value("description", ""),
          code == 406 ? "set [agent] manifest to a deployment manifest"
                      : "fix " + from + "; running modules keep running");
    }
    const auto confinement = agent->value("confinement", json::object());
    if (confinement.value("confined", false)) {
      c.pass("module confinement: " + confinement.value("description", std::string{}));
    } else {
      c.warn("modules are NOT confined: " + confinement.value("description", std::string{}),
             "run outpostd as root (deploy/outpostd.service) so that each module gets its own "
             "uid; see README, \"Module confinement\"");
    }
    for (const auto& m : (*agent)["modules"]) {
      if (m.value("desiredStatus", "") == "running" && m.value("runtimeStatus", "") != "running") {
        c.fail("module " + m.value("name", "") + ": " + m.value("runtimeStatus", "") + " ("
                   + m.value("statusDescription", "") + ")",
               "outpost logs " + m.value("name", "") + " --tail 50");
      }
    }
  }
  auto j = json::parse(hub->body, nullptr, false);
  const auto status = j.is_object() ? j.value("lastDesiredStatus", json::object()) : json::object();
  const int code = status.value("code", 0);
  if (code == 200) {
    c.pass("$edgeHub routes: " + std::to_string(j.value("routes", 0)) + " in force from "
           + j.value("manifest", std::string{"(no manifest)"}) + " (desired version "
           + std::to_string(j.value("lastDesiredVersion", 0)) + ")");
    if (j.contains("extensionRoutes")) {
      std::string names;
      for (const auto& n : j["extensionRoutes"]) {
        names += (names.empty() ? "" : ", ") + n.get<std::string>();
      }
      c.warn("$edgeHub routes " + names
                 + " send to Endpoint(\"...\"), an Outpost extension: this manifest is not "
                   "portable to IoT Edge",
             "keep it for Outpost, or route to $upstream or a module input for IoT Edge");
    }
  } else {
    c.fail("$edgeHub routes: " + std::to_string(code) + " " + status.value("description", ""),
           "fix " + j.value("manifest", std::string{"the manifest"})
               + "; the previous routes stay in force until it applies");
  }
  return c.failures == 0 ? exit_ok : exit_failure;
}

} // namespace outpost::cli
