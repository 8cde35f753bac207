#pragma once

#include "actors/workload/identity_registry.hpp"
#include "actors/workload/registry_interface.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace outpost::transport {
class tls_client_context;
class cancel_source;
} // namespace outpost::transport

namespace outpost::actors {

struct scope_sync_config {
  std::string https_address; ///< the parent's HTTPS API, "host:port"
  std::string hub_hostname;  ///< the connection string's HostName: TLS name, token audience
  std::string device_id;     ///< this edge device
  std::string key;           ///< its SharedAccessKey (base64)
  std::shared_ptr<const transport::tls_client_context> tls;
  registry_actor registry;
  std::shared_ptr<identity_snapshot> identities;
  std::chrono::milliseconds interval{10000};
  std::function<std::int64_t()> now_ms;
  /// Cancelled when the hub stops: a call in flight to a parent that does not answer ends at
  /// once instead of holding the daemon's shutdown for its 10 s time-out.
  std::shared_ptr<transport::cancel_source> cancel;
};

/// Spawns the child edge's scope sync (IoT Edge's device-scope identity cache, facts §7.4 and
/// §4.7): every `interval`, with this edge device's own token, it reads its scope from the
/// parent (`POST /devices/{edge}/modules/$edgeHub/devicesAndModulesInTargetDeviceScope`) and
/// hands the devices to the local registry (`identity_scope_atom`: stored, so they
/// authenticate while the parent is away; removed when the parent removes them), and it
/// registers this edge's modules at the parent (`PUT|DELETE /devices/{edge}/modules/{m}`), as
/// edgeAgent registers its modules with IoT Hub. Detached: the calls block. A failed round is
/// logged and tried again at the next.
caf::actor spawn_scope_sync(caf::actor_system& sys, scope_sync_config cfg);

} // namespace outpost::actors
