#pragma once

#include "actors/workload/agent_view.hpp"
#include "protocols/transport/http_server.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <memory>
#include <optional>

namespace outpost::app {

/// The agent as the admin API reaches it.
struct agent_handles {
  caf::actor agent;
  std::shared_ptr<actors::agent_view> view;
};

/// The agent's part of the admin API (what `outpost list|logs|restart|check` use):
/// - `GET /modules`: every module with its status (like `iotedge list`)
/// - `GET /modules/{m}/logs?tail=N&since=T`: its log lines (T: unix seconds, ISO 8601, or a
///   duration back from now such as `10m`)
/// - `POST /modules/{m}/restart`: restart regardless of the restart policy
/// - `POST /methods/{name}` with the payload as body: the agent's direct methods `ping`,
///   `RestartModule`, `GetModuleLogs` -> `{"status", "payload"}`
/// - `GET /status/edgeagent`: the `$edgeAgent` reported properties
/// nullopt for any other path.
std::optional<transport::http_response> agent_admin(caf::actor_system& sys,
                                                    const agent_handles& agent,
                                                    const transport::http_request& req);

/// The agent's methods by IoT Hub's path: `POST /twins/{edge}/modules/$edgeAgent/methods` with
/// `{"methodName", "payload"}` (the admin and the service API): the agent's own method routes
/// with the call's payload. nullopt for any other request.
std::optional<transport::http_response> edge_agent_method(caf::actor_system& sys,
                                                          const agent_handles& agent,
                                                          const std::string& edge_device_id,
                                                          const transport::http_request& req);

} // namespace outpost::app
