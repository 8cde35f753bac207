#pragma once

#include "actors/app/agent_admin.hpp"
#include "actors/app/deployment_source.hpp"
#include "actors/app/service_api.hpp"
#include "actors/hub/c2d_interface.hpp"
#include "actors/hub/edgehub_desired.hpp"
#include "actors/hub/method_interface.hpp"
#include "actors/hub/monitor_feed.hpp"
#include "actors/hub/twin_interface.hpp"
#include "actors/hub/upstream_link.hpp"
#include "actors/workload/identity_registry.hpp"
#include "protocols/transport/http_server.hpp"
#include "supervisor/config/config.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <memory>

namespace outpost::app {

/// The local admin API (HTTP over the unix socket `[listen] admin_socket`), what the
/// `outpost` CLI talks to:
/// - `GET /identities`: every identity, without keys
/// - `GET /identities/{id}`: one identity with keys and, for SAS, its connection string
/// - `POST /identities` `{"id", "type": "device"|"module", "auth": "sas"|"x509_thumbprint"|
///   "x509_ca", "primaryThumbprint", "secondaryThumbprint"}` -> 201 with the identity
/// - `PATCH /identities/{id}` `{"status": "enabled"|"disabled"}`
/// - `DELETE /identities/{id}` (a device takes its modules with it)
/// Errors: 400 bad request, 404 unknown, 409 exists, 500 storage, each with
/// `{"error": "..."}`. Runs on an I/O thread; changes go through the registry actor.
/// - `GET /ca`: the PEM of the CA clients must trust (the edge CA, or `tls.ca`)
/// - `GET /status/edgehub`: the `$edgeHub` reported status (`lastDesiredStatus` of the routes)
/// - `GET /status/upstream`: the upstream link, `{"state", "lastError", "parent", "deviceId"}`
///   (`state` "none" when standalone)
/// - `GET /monitor?after=N`: `{"events": [...], "last": M}`, the messages routed since event N
///   (N = 0: start watching now); what `outpost monitor` prints
/// - the agent's routes (`agent_admin`): modules, logs, restart, methods, `$edgeAgent` status
/// - the twin routes (`twin_admin`): `GET|PATCH|PUT /twins/{d}[/modules/{m}]`
/// - `GET /service/connection-string`: the service API's connection string (`outpost service
///   connection-string`); `POST /service/rotate-key`: a new policy key, durable before the
///   old one stops working (`outpost service rotate-key`), answered with the new string
/// - `GET /deployment`: where the deployment in force came from (`deployment_origin`)
/// Every request is refused with 403 unless the caller (SO_PEERCRED) is root, outpostd's user
/// or a member of `[listen] admin_group`.
transport::http_async_handler admin_routes(
    caf::actor_system& sys, actors::registry_actor registry,
    std::shared_ptr<actors::identity_snapshot> identities, const daemon_config& cfg,
    std::string ca_file, std::shared_ptr<actors::edgehub_status_snapshot> hub_status,
    agent_handles agent, std::shared_ptr<actors::monitor_feed> monitor,
    actors::twin_registry_actor twins, actors::method_router_actor methods, actors::c2d_actor c2d,
    std::shared_ptr<service_key_snapshot> service_key,
    std::function<result<std::string>()> rotate_service_key,
    std::shared_ptr<deployment_origin_snapshot> origin,
    std::shared_ptr<actors::upstream_status_snapshot> upstream);

/// `HostName=<iothub_hostname or hostname>;DeviceId=..;[ModuleId=..;]SharedAccessKey=..`,
/// plus `GatewayHostName=<hostname>` when an upstream IoT hub name is configured, so the
/// SDKs connect through this edge device.
std::string connection_string(const storage::identity& i, const daemon_config& cfg);

/// Makes `dir` (the admin socket's folder) enterable by outpostd and `group` only: 0700 owned
/// by outpostd, or 02750 with that group (setgid: the 0660 socket made in it is the group's). False
/// with `why` when it cannot (unknown group, a folder owned by someone else).
bool secure_admin_dir(const std::string& dir, const std::string& group, std::string& why);

} // namespace outpost::app
