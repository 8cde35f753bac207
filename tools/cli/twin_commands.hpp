#pragma once

#include "supervisor/config/config.hpp"

#include <string>

namespace CLI {
class App;
}

namespace outpost::cli {

/// `outpost twin show ID [--module M]` and `outpost twin update ID [--module M] --desired JSON
/// [--tags JSON]`: what IoT Hub's service API does with a twin, against outpostd's admin API.
struct twin_cli {
  CLI::App* cmd = nullptr;
  CLI::App* show = nullptr;
  CLI::App* update = nullptr;
  std::string id;
  std::string module;
  std::string desired;
  std::string tags;
};

/// `outpost method invoke ID [--module M] NAME [--payload JSON] [--timeout S]
/// [--connect-timeout S]`: a direct method call as IoT Hub's service API makes it.
struct method_cli {
  CLI::App* cmd = nullptr;
  CLI::App* invoke = nullptr;
  std::string id;
  std::string module;
  std::string name;
  std::string payload = "null";
  int timeout_s = 30;
  int connect_timeout_s = 0;
};

/// Adds `twin` and its subcommands to `app`.
void add_twin_commands(CLI::App& app, twin_cli& c);

/// Runs the parsed `twin` subcommand: prints the twin (JSON, as `az iot hub device-twin show`)
/// and returns 0, or prints IoT Hub's error message and returns 1.
int run_twin(const app::daemon_config& cfg, const twin_cli& c);

/// Adds `method invoke` to `app`.
void add_method_commands(CLI::App& app, method_cli& c);

/// Runs `method invoke`: prints `{"status":..,"payload":..}` and returns 0 when the target
/// answered (whatever its status), else prints IoT Hub's error and returns 1.
int run_method(const app::daemon_config& cfg, const method_cli& c);

} // namespace outpost::cli
