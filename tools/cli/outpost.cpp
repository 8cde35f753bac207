// outpost: the command-line tool for an outpostd installation (like `iotedge`).
// It finds the daemon through its configuration file: <storage.dir>/run/ports.json.

#include "protocols/transport/http_client.hpp"
#include "supervisor/config/build_info.hpp"
#include "supervisor/config/config.hpp"
#include "tools/cli/agent_commands.hpp"
#include "tools/cli/route_test.hpp"
#include "tools/cli/service_commands.hpp"
#include "tools/cli/support_bundle.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

namespace {

namespace fs = std::filesystem;
using outpost::app::daemon_config;

enum exit_code : int { exit_ok = 0, exit_failure = 1, exit_usage = 2 };

/// The address the running daemon bound for `listen_key`, or an explanation.
std::optional<std::string> daemon_address(const daemon_config& cfg, const std::string& listen_key,
                                          std::string& why) {
  const auto file = fs::path{cfg.storage.dir} / "run" / "ports.json";
  std::ifstream in{file};
  if (!in) {
    why = "outpostd is not running (no " + file.string() + ")";
    return std::nullopt;
  }
  auto ports = nlohmann::json::parse(in, nullptr, false);
  if (ports.is_discarded() || !ports.contains(listen_key) || !ports[listen_key].is_string()) {
    why = file.string() + " has no \"" + listen_key + "\" address";
    return std::nullopt;
  }
  return ports[listen_key].get<std::string>();
}

/// Calls the admin API over its unix socket; the JSON answer, or nullopt after printing why.
std::optional<nlohmann::json> admin(const daemon_config& cfg, const std::string& method,
                                    const std::string& target, const std::string& body = {}) {
  const auto path = outpost::app::admin_socket_path(cfg);
  auto reply = outpost::transport::http_call("unix:" + path, method, target, body);
  if (!reply) {
    std::cerr << "outpost: cannot reach outpostd at " << path << ": " << reply.error().message()
              << "\n";
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(reply->body, nullptr, false);
  if (reply->status >= 300) {
    std::cerr << "outpost: " << (j.is_object() ? j.value("error", reply->body) : reply->body)
              << "\n";
    return std::nullopt;
  }
  return j;
}

/// Path segment for an identity id (module ids contain '/', which the API takes as is).
std::string id_path(const std::string& id) {
  std::string out;
  for (char c : id) {
    if (c == '%' || c == '?' || c == '#' || c == ' ') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return "/identities/" + out;
}

void print_identity_row(const nlohmann::json& i) {
  std::cout << i.value("id", "") << "\t" << i.value("type", "") << "\t" << i.value("auth", "")
            << "\t" << i.value("status", "");
  if (i.value("edgeEnabled", false)) {
    std::cout << "\tedge";
  }
  if (const auto parent = i.value("parent", std::string{}); !parent.empty()) {
    std::cout << "\tparent=" << parent;
  }
  std::cout << "\n";
}

struct identity_cli {
  CLI::App* cmd = nullptr;
  CLI::App* add_device = nullptr;
  CLI::App* add_module = nullptr;
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* remove = nullptr;
  CLI::App* enable = nullptr;
  CLI::App* disable = nullptr;
  CLI::App* rotate = nullptr;
  bool rotate_primary = false;
  bool rotate_secondary = false;
  std::string id;
  std::string auth = "sas";
  std::string primary;
  std::string secondary;
  bool edge_enabled = false;
  std::string parent;
  bool connection_string_only = false;
};

void add_identity_commands(CLI::App& app, identity_cli& c) {
  c.cmd = app.add_subcommand("identity", "manage device and module identities");
  c.cmd->require_subcommand(1);
  auto* add = c.cmd->add_subcommand("add", "add an identity; prints its connection string");
  add->require_subcommand(1);
  c.add_device = add->add_subcommand("device", "a downstream device");
  c.add_module = add->add_subcommand("module", "a module (of this edge device unless ID is d/m)");
  for (auto* sub : {c.add_device, c.add_module}) {
    sub->add_option("ID", c.id, "identity id")->required();
    sub->add_option("--auth", c.auth, "sas | x509_thumbprint | x509_ca")->capture_default_str();
    sub->add_option("--primary-thumbprint", c.primary, "SHA-256 thumbprint (x509_thumbprint)");
    sub->add_option("--secondary-thumbprint", c.secondary, "SHA-256 thumbprint");
  }
  c.add_device->add_flag("--edge-enabled", c.edge_enabled,
                         "an edge device: a child edge connects upstream to this one with it");
  c.add_device->add_option("--parent", c.parent,
                           "put the device in this edge device's scope (an --edge-enabled one)");
  c.list = c.cmd->add_subcommand("list", "list identities");
  c.show = c.cmd->add_subcommand("show", "show one identity with its keys");
  c.show->add_flag("--connection-string", c.connection_string_only, "print only that");
  c.remove = c.cmd->add_subcommand("remove", "remove an identity (a device with its modules)");
  c.enable = c.cmd->add_subcommand("enable", "allow an identity to connect");
  c.disable = c.cmd->add_subcommand("disable", "refuse an identity's connections");
  c.rotate = c.cmd->add_subcommand(
      "rotate", "new SAS key(s) (both unless one is named); sessions using an old key end");
  auto* primary = c.rotate->add_flag("--primary", c.rotate_primary, "replace the primary key");
  c.rotate->add_flag("--secondary", c.rotate_secondary, "replace the secondary key")
      ->excludes(primary);
  for (auto* sub : {c.show, c.remove, c.enable, c.disable, c.rotate}) {
    sub->add_option("ID", c.id, "identity id")->required();
  }
}

int run_identity(const daemon_config& cfg, const identity_cli& c) {
  if (c.add_device->parsed() || c.add_module->parsed()) {
    nlohmann::json req{{"id", c.id},
                       {"type", c.add_module->parsed() ? "module" : "device"},
                       {"auth", c.auth},
                       {"primaryThumbprint", c.primary},
                       {"secondaryThumbprint", c.secondary},
                       {"edgeEnabled", c.edge_enabled},
                       {"parent", c.parent}};
    auto j = admin(cfg, "POST", "/identities", req.dump());
    if (!j) {
      return exit_failure;
    }
    std::cout << j->value("connectionString", j->value("id", "")) << "\n";
    return exit_ok;
  }
  if (c.list->parsed()) {
    auto j = admin(cfg, "GET", "/identities");
    if (!j) {
      return exit_failure;
    }
    for (const auto& i : *j) {
      print_identity_row(i);
    }
    return exit_ok;
  }
  if (c.show->parsed()) {
    auto j = admin(cfg, "GET", id_path(c.id));
    if (!j) {
      return exit_failure;
    }
    if (c.connection_string_only) {
      if (!j->contains("connectionString")) {
        std::cerr << "outpost: " << c.id << " has no connection string (X.509)\n";
        return exit_failure;
      }
      std::cout << (*j)["connectionString"].get<std::string>() << "\n";
    } else {
      std::cout << j->dump(2) << "\n";
    }
    return exit_ok;
  }
  if (c.rotate->parsed()) {
    const char* which = c.rotate_primary ? "primary" : c.rotate_secondary ? "secondary" : "both";
    auto j = admin(cfg, "POST", id_path(c.id), nlohmann::json{{"rotate", which}}.dump());
    if (!j) {
      return exit_failure;
    }
    std::cout << j->value("connectionString", j->value("id", "")) << "\n";
    return exit_ok;
  }
  if (c.remove->parsed()) {
    auto j = admin(cfg, "DELETE", id_path(c.id));
    if (j) {
      std::cout << "removed " << c.id << " (" << j->value("removed", 0) << " identities)\n";
    }
    return j ? exit_ok : exit_failure;
  }
  const bool on = c.enable->parsed();
  auto j = admin(cfg, "PATCH", id_path(c.id),
                 nlohmann::json{{"status", on ? "enabled" : "disabled"}}.dump());
  if (j) {
    std::cout << c.id << " " << (on ? "enabled" : "disabled") << "\n";
  }
  return j ? exit_ok : exit_failure;
}

int get(const daemon_config& cfg, const std::string& target, bool print_body) {
  std::string why;
  auto addr = daemon_address(cfg, "metrics", why);
  if (!addr) {
    std::cerr << "outpost: " << why << "\n";
    return exit_failure;
  }
  auto reply = outpost::transport::http_get(*addr, target);
  if (!reply) {
    std::cerr << "outpost: outpostd at " << *addr << " does not answer: " << reply.error().message()
              << "\n";
    return exit_failure;
  }
  if (print_body || reply->status != 200) {
    std::cout << reply->body;
  }
  return reply->status == 200 ? exit_ok : exit_failure;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"outpost: manage an Outpost (IoT Edge-compatible) device"};
  app.require_subcommand(1);
  std::string config_path = "/etc/outpost/config.toml";
  if (const char* env = std::getenv("OUTPOST_CONFIG")) {
    config_path = env;
  }
  app.add_option("-c,--config", config_path, "outpostd configuration file ($OUTPOST_CONFIG)")
      ->capture_default_str();

  auto* version = app.add_subcommand("version", "print the version of this tool");
  auto* check = app.add_subcommand(
      "check", "check the configuration and, when outpostd runs, the status of its manifest");
  auto* status = app.add_subcommand("status", "is outpostd running and healthy?");
  auto* metrics = app.add_subcommand("metrics", "print outpostd's Prometheus metrics");
  auto* ca = app.add_subcommand("ca", "print the CA certificate (PEM) clients must trust");
  std::string prefix;
  metrics->add_option("--filter", prefix, "only lines that start with this metric prefix");
  identity_cli ids;
  add_identity_commands(app, ids);
  outpost::cli::twin_cli twin;
  outpost::cli::add_twin_commands(app, twin);
  outpost::cli::method_cli method;
  outpost::cli::add_method_commands(app, method);
  outpost::cli::c2d_cli c2d;
  outpost::cli::add_c2d_commands(app, c2d);
  outpost::cli::service_cli service;
  outpost::cli::add_service_commands(app, service);
  auto* list = app.add_subcommand("list", "list the modules and their status (like iotedge list)");
  auto* logs = app.add_subcommand("logs", "print a module's log");
  std::string module;
  std::size_t tail = 0;
  std::string since;
  bool follow = false;
  logs->add_option("MODULE", module, "module name")->required();
  logs->add_option("--tail", tail, "only the last N lines (0: all)");
  logs->add_option("--since", since, "unix seconds, ISO 8601 UTC, or a duration such as 10m");
  logs->add_flag("-f,--follow", follow, "keep printing new lines");
  auto* monitor = app.add_subcommand(
      "monitor", "print messages as the hub routes them (like az iot hub monitor-events)");
  std::string monitor_module;
  unsigned monitor_timeout = 0;
  std::size_t monitor_count = 0;
  monitor->add_option("--module", monitor_module, "only messages from this module");
  monitor->add_option("--timeout", monitor_timeout, "stop after this many seconds (0: never)");
  monitor->add_option("--count", monitor_count, "stop after this many messages (0: never)");
  auto* bundle =
      app.add_subcommand("support-bundle",
                         "collect logs, status, configuration and metrics (secrets redacted) "
                         "into a .tar.gz for support");
  std::string bundle_since;
  std::string bundle_output;
  bundle->add_option("--since", bundle_since,
                     "only log lines since: unix seconds, ISO 8601 UTC, or e.g. 1h");
  bundle->add_option("--output", bundle_output,
                     "the file to write (default: outpost-support-bundle-<UTC time>.tar.gz)");
  auto* restart = app.add_subcommand("restart", "restart a module regardless of its policy");
  restart->add_option("MODULE", module, "module name")->required();
  auto* route = app.add_subcommand("route", "work with IoT Hub routes");
  route->require_subcommand(1);
  auto* route_test = route->add_subcommand(
      "test", "does a message match a route? prints each sub-expression's value");
  std::string route_text;
  std::string message_file;
  route_test->add_option("--route", route_text, "FROM ... [WHERE ...] INTO ...")->required();
  route_test
      ->add_option("--message", message_file,
                   "JSON file: {\"body\", \"properties\", \"systemProperties\"}")
      ->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_ok : exit_usage;
  }
  if (route_test->parsed()) {
    return outpost::cli::run_route_test(route_text, message_file); // needs no daemon
  }
  if (version->parsed()) {
    std::cout << "outpost " << outpost::app::build_version() << " (" << outpost::app::build_commit()
              << ")\n";
    return exit_ok;
  }
  daemon_config cfg;
  try {
    cfg = outpost::app::load_config(config_path);
  } catch (const outpost::app::config_error& e) {
    std::cerr << "outpost: invalid configuration: " << e.what() << "\n";
    return exit_usage;
  }
  if (check->parsed()) {
    return outpost::cli::run_check(cfg, config_path);
  }
  if (list->parsed()) {
    return outpost::cli::run_list(cfg);
  }
  if (bundle->parsed()) {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return outpost::cli::run_support_bundle(cfg, config_path, bundle_since, bundle_output,
                                            ec ? std::string{argv[0]} : self.string());
  }
  if (logs->parsed()) {
    return outpost::cli::run_logs(cfg, module, tail, since, follow);
  }
  if (monitor->parsed()) {
    return outpost::cli::run_monitor(cfg, monitor_module, monitor_timeout, monitor_count);
  }
  if (restart->parsed()) {
    return outpost::cli::run_restart(cfg, module);
  }
  if (ca->parsed()) {
    const auto path = outpost::app::admin_socket_path(cfg);
    auto reply = outpost::transport::http_call("unix:" + path, "GET", "/ca");
    if (!reply || reply->status != 200) {
      std::cerr << "outpost: cannot get the CA from outpostd at " << path << ": "
                << (reply ? reply->body : reply.error().message()) << "\n";
      return exit_failure;
    }
    std::cout << reply->body;
    return exit_ok;
  }
  if (ids.cmd->parsed()) {
    return run_identity(cfg, ids);
  }
  if (twin.cmd->parsed()) {
    return outpost::cli::run_twin(cfg, twin);
  }
  if (method.cmd->parsed()) {
    return outpost::cli::run_method(cfg, method);
  }
  if (c2d.cmd->parsed()) {
    return outpost::cli::run_c2d(cfg, c2d);
  }
  if (service.cmd->parsed()) {
    return outpost::cli::run_service(cfg, service);
  }
  if (status->parsed()) {
    const int code = get(cfg, "/healthz", false);
    if (code == exit_ok) {
      std::cout << "outpostd " << cfg.device_id << ": running, healthy\n";
    }
    return code;
  }
  if (metrics->parsed() && prefix.empty()) {
    return get(cfg, "/metrics", true);
  }
  // Filtered metrics: fetch, then keep the matching sample and HELP/TYPE lines.
  std::string why;
  auto addr = daemon_address(cfg, "metrics", why);
  auto reply = addr ? outpost::transport::http_get(*addr, "/metrics")
                    : outpost::result<outpost::transport::http_reply>{
                        std::make_error_code(std::errc::not_connected)};
  if (!reply) {
    std::cerr << "outpost: " << (addr ? reply.error().message() : why) << "\n";
    return exit_failure;
  }
  std::istringstream lines{reply->body};
  for (std::string line; std::getline(lines, line);) {
    const auto name_at = line.rfind("# ", 0) == 0 ? line.find(' ', 2) + 1 : 0;
    if (line.compare(name_at, prefix.size(), prefix) == 0) {
      std::cout << line << "\n";
    }
  }
  return exit_ok;
}
