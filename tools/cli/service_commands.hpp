#pragma once

#include "supervisor/config/config.hpp"

#include <string>
#include <vector>

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

/// `outpost c2d send ID [--body TEXT | --body-file F] [--message-id X] [--correlation-id Y]
/// [--property K=V ...] [--ttl S] [--ack none|positive|negative|full]`: a cloud-to-device
/// message into the device's durable queue.
struct c2d_cli {
  CLI::App* cmd = nullptr;
  CLI::App* send = nullptr;
  std::string id;
  std::string body;
  std::string body_file;
  std::string message_id;
  std::string correlation_id;
  std::vector<std::string> properties;
  int ttl_s = 3600;
  std::string ack;
};

/// `outpost service connection-string`: the local service API's connection string (the shared
/// access policy `iothubowner`), for `azure-iothub` and other service SDKs.
struct service_cli {
  CLI::App* cmd = nullptr;
  CLI::App* connection_string = nullptr;
  CLI::App* rotate_key = nullptr; ///< `outpost service rotate-key`: a new policy key
};

/// Adds `service connection-string` to `app`.
void add_service_commands(CLI::App& app, service_cli& c);

/// Prints the connection string (after `rotate-key`: the new one; the old key stops working)
/// and returns 0; 1 when outpostd does not answer or cannot store a new key.
int run_service(const app::daemon_config& cfg, const service_cli& c);

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

/// Adds `c2d send` to `app`.
void add_c2d_commands(CLI::App& app, c2d_cli& c);

/// Runs `c2d send`: prints `{"messageId":..}` and returns 0 once the message is queued, else
/// prints IoT Hub's error (403004 when the device's queue is full) and returns 1.
int run_c2d(const app::daemon_config& cfg, const c2d_cli& c);

} // namespace outpost::cli
