#pragma once

#include "actors/app/agent_admin.hpp"
#include "actors/app/deployment_source.hpp"
#include "actors/hub/edgehub_desired.hpp"
#include "protocols/transport/http_server.hpp"

#include <memory>
#include <optional>
#include <string>

namespace outpost::app {

/// What the twins of the runtime's own modules are made of.
struct system_twin_sources {
  std::string edge_device_id;
  std::shared_ptr<deployment_origin_snapshot> origin;          ///< desired: the deployment in force
  agent_handles agent;                                         ///< `$edgeAgent` reported
  std::shared_ptr<actors::edgehub_status_snapshot> hub_status; ///< `$edgeHub` reported
};

/// `GET /twins/{edge}/modules/$edgeAgent` and `.../$edgeHub` (admin and service API): the twin
/// IoT Hub would show, its desired properties the section of the deployment in force (the
/// manifest file or applyConfigurationContent), its reported properties the agent's or the
/// hub's status. `PATCH`/`PUT` there is 400: these desired properties are written by deploying.
/// nullopt for any other request.
std::optional<transport::http_response> system_twin(const system_twin_sources& s,
                                                    const transport::http_request& req);

} // namespace outpost::app
