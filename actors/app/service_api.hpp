#pragma once

#include "actors/app/agent_admin.hpp"
#include "actors/app/deployment_source.hpp"
#include "actors/common/snapshot.hpp"
#include "actors/hub/c2d_interface.hpp"
#include "actors/hub/edgehub_desired.hpp"
#include "actors/hub/method_interface.hpp"
#include "actors/hub/twin_interface.hpp"
#include "actors/workload/identity_registry.hpp"
#include "protocols/transport/http_server.hpp"
#include "supervisor/config/config.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <memory>
#include <string>

namespace outpost::app {

/// The one shared access policy of the local service API (IoT Hub's owner policy's name).
inline constexpr const char* service_policy_name = "iothubowner";

/// The policy's key (base64), swapped when it is rotated (`outpost service rotate-key`).
using service_key_snapshot = actors::snapshot<std::string>;

struct service_api_deps {
  caf::actor_system* sys = nullptr;
  actors::registry_actor registry;
  std::shared_ptr<actors::identity_snapshot> identities;
  daemon_config cfg;
  /// The policy's key; the store keeps it (agent_runtime::service_key, column `agent`).
  std::shared_ptr<service_key_snapshot> policy_key;
  agent_handles agent;
  actors::twin_registry_actor twins;
  actors::method_router_actor methods;
  actors::c2d_actor c2d;
  caf::actor deployment_source;                                ///< takes `apply_deployment_atom`
  std::shared_ptr<deployment_origin_snapshot> origin;          ///< the deployment in force
  std::shared_ptr<actors::edgehub_status_snapshot> hub_status; ///< `$edgeHub` reported
};

/// IoT Hub's HTTPS surface, served on `[listen] https` (azure-sdk-wire.md §4.2 and §5):
///
/// - **Modules of this edge device** (`x-ms-edge-moduleId: <edge>/<module>` with that module's
///   own SAS, as `ModuleClient.invokeMethod` sends): `POST /twins/{d}/methods` and
///   `POST /twins/{d}/modules/{m}/methods`, nothing else. A module of another device, a token
///   that is not that module's, a disabled module: 401.
/// - **The service** (a SAS of the shared access policy `iothubowner`, as `azure-iothub` sends;
///   `outpost service connection-string` prints its connection string): the registry
///   (`GET /devices`, `GET|PUT|DELETE /devices/{d}`, `GET /devices/{d}/modules`,
///   `GET|PUT|DELETE /devices/{d}/modules/{m}`; one registry with `outpost identity`), the twins
///   (`GET|PATCH|PUT /twins/{d}[/modules/{m}]`, If-Match), direct methods, C2D
///   (`POST /devices/{d}/messages/deviceBound`, as the admin API) and
///   `POST /devices/{edge}/applyConfigurationContent` (the deployment source applies it).
///
/// Anything else, a device's SAS included, is 401. Errors carry IoT Hub's REST body
/// (`{"Message": "ErrorCode:<name>;<text>", "errorCode": <number>, "message": <text>}`), which
/// the SDKs turn into their error types. `api-version` is accepted and ignored.
transport::http_async_handler service_routes(service_api_deps deps);

/// `HostName=<hub host>;SharedAccessKeyName=iothubowner;SharedAccessKey=<key>`.
std::string service_connection_string(const daemon_config& cfg, const std::string& policy_key);

} // namespace outpost::app
