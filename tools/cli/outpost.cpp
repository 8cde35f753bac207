// outpost: the command-line tool for an outpostd installation (like `iotedge`).
// It finds the daemon through its configuration file: <storage.dir>/run/ports.json.

#include "actors/app/build_info.hpp"
#include "actors/app/config.hpp"
#include "protocols/transport/http_client.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

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
  auto* check = app.add_subcommand("check", "validate the configuration file");
  auto* status = app.add_subcommand("status", "is outpostd running and healthy?");
  auto* metrics = app.add_subcommand("metrics", "print outpostd's Prometheus metrics");
  std::string prefix;
  metrics->add_option("--filter", prefix, "only lines that start with this metric prefix");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? exit_ok : exit_usage;
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
    std::cout << config_path << ": ok\n";
    return exit_ok;
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
