#pragma once

#include "actors/agent/agent_messages.hpp"
#include "actors/common/writer_interface.hpp"
#include "actors/workload/agent_view.hpp"
#include "actors/workload/identity_registry.hpp"
#include "supervisor/config/config.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace prometheus {
class Registry;
}
namespace outpost::storage {
class kv_store;
}
namespace outpost::transport {
class io_runner;
class http_server;
} // namespace outpost::transport
namespace outpost::supervisor {
class process_host;
}

namespace outpost::app {

/// The running edge agent: its actor, the module processes and the workload API.
class agent_runtime {
public:
  agent_runtime() = default;
  ~agent_runtime();
  agent_runtime(const agent_runtime&) = delete;
  agent_runtime& operator=(const agent_runtime&) = delete;

  /// Stops every module (SIGTERM, SIGKILL after the grace period) and waits for it, then the
  /// workload API and the agent. Idempotent.
  void stop();

  caf::actor agent;
  std::shared_ptr<actors::agent_view> view;
  std::unique_ptr<transport::http_server> workload;
  std::shared_ptr<supervisor::process_host> host;
  caf::actor_system* sys = nullptr;
  std::chrono::milliseconds stop_timeout{15'000};
  std::string cgroup_dir; ///< the modules' cgroups, removed (when empty) after the stop
  /// The service API's shared access policy key (base64), made on first start, kept in the
  /// store (column `agent`, with the other secrets).
  std::string service_key;
};

struct agent_deps {
  caf::actor_system& sys;
  transport::io_runner& io;
  std::shared_ptr<storage::kv_store> kv; ///< read once at start (column `agent`)
  actors::writer_actor writer;           ///< writes every change of column `agent`
  actors::registry_actor id_registry;
  std::shared_ptr<actors::identity_snapshot> identities;
  prometheus::Registry& registry;
  std::string ca_cert_file; ///< the edge CA: trust bundle, issuer of module server certs
  std::string ca_key_file;
  std::vector<std::pair<std::string, std::string>>& ports; ///< reads mqtt_tls, adds its own
  /// The `$edgeAgent` section of the deployment read at start-up; nullopt without a manifest.
  std::optional<actors::agent_deployment> deployment;
};

/// Starts the workload API on `[listen] workload_socket` and the agent on `[agent] manifest`.
/// nullptr with `why` on failure.
std::unique_ptr<agent_runtime> start_agent(const daemon_config& cfg, agent_deps deps,
                                           std::string& why);

/// `[listen] workload_socket`, or `<storage.dir>/run/workload/workload.sock`.
std::string workload_socket_path(const daemon_config& cfg);

} // namespace outpost::app
