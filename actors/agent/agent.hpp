#pragma once

#include "actors/agent/agent_messages.hpp"
#include "actors/common/writer_interface.hpp"
#include "actors/workload/agent_view.hpp"
#include "actors/workload/identity_registry.hpp"
#include "storage/agent_store.hpp"
#include "supervisor/planner/restart.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace outpost::supervisor {
class process_host;
}

namespace outpost::actors {

struct agent_metrics;

struct agent_config {
  std::string manifest_path; ///< `[agent] manifest`: named in the status and the log
  /// The deployment read at start-up, applied before the first report; later reads arrive
  /// as `(deployment_atom, agent_deployment)` from the deployment source.
  std::optional<agent_deployment> initial;
  std::string modules_dir;      ///< <storage>/modules: each module's folder and log
  std::string device_id;        ///< IOTEDGE_DEVICEID
  std::string iothub_hostname;  ///< IOTEDGE_IOTHUBHOSTNAME
  std::string gateway_hostname; ///< IOTEDGE_GATEWAYHOSTNAME: where the hub is, [:port]
  std::string workload_uri;     ///< IOTEDGE_WORKLOADURI, "unix:///.../workload.sock"
  std::string container_engine; ///< Docker Engine API socket for `docker` modules; "" = none
  /// Column `agent` as it was at start-up (last good deployment, restart counters, uids);
  /// kept up to date in memory, every change handed to `writer`.
  storage::agent_record_set stored;
  writer_actor writer;       ///< the storage writer
  registry_actor identities; ///< the identity registry
  std::shared_ptr<identity_snapshot> identity_table;
  supervisor::restart_settings restart;
  std::chrono::milliseconds stop_grace{10'000}; ///< SIGTERM, then SIGKILL after this
  std::chrono::milliseconds interval{1'000};    ///< restart back-off and counters fall due
  std::shared_ptr<supervisor::process_host> host;
  std::shared_ptr<agent_view> view;       ///< published after every change
  std::shared_ptr<agent_metrics> metrics; ///< optional
  std::function<std::int64_t()> now_ms;
  /// Confinement of process modules (issue 8). `confine`: outpostd is root and gives each
  /// module its own uid/gid from [uid_min, uid_max] (kept in the store, key `uid/<module>`).
  bool confine = false;
  std::uint32_t uid_min = 0;
  std::uint32_t uid_max = 0;
  std::string homes_dir;   ///< <storage>/home: each module's private folder (HOME, 0700)
  std::string cgroup_dir;  ///< cgroup v2 folder of this outpostd's modules; "" = none
  std::string run_dir;     ///< <storage>/run/modules: what runs, for the next start's cleanup
  std::string confinement; ///< what applies, in words (`outpost check`)
  std::string version;
  std::string commit;
};

/// Spawns the edge agent: carries out the `$edgeAgent` desired properties the deployment
/// source hands it (`(deployment_atom, agent_deployment)`, on every change; the last good one
/// is kept in the store so the device boots offline), plans desired vs. current modules with IoT
/// Edge's planner and restart policy, carries the commands out one by one in startupOrder through
/// one actor per module, creates each module's identity, and publishes the `$edgeAgent` reported
/// properties. Also:
/// - `(restart_atom, std::string module)` -> `method_reply` (restart regardless of policy)
/// - `(method_atom, std::string name, std::string payload_json)` -> `method_reply`: the agent's
///   direct methods `ping`, `RestartModule`, `GetModuleLogs` with IoT Edge's payloads
/// - `(shutdown_atom)` -> `bool`: stops every module (SIGTERM, SIGKILL after the grace
///   period), reports 406 "Agent is not running", answers when all are down.
caf::actor spawn_agent(caf::actor_system& sys, agent_config cfg);

} // namespace outpost::actors
