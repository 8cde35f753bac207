#pragma once

#include "actors/app/agent_admin.hpp"
#include "actors/common/writer_interface.hpp"
#include "actors/hub/edgehub_desired.hpp"
#include "actors/hub/hub_routes.hpp"
#include "actors/hub/upstream_link.hpp"
#include "protocols/transport/http_server.hpp"

#include <memory>
#include <optional>
#include <string>

namespace outpost::app {

/// What the status page shows besides /metrics.
struct status_page_sources {
  caf::actor_system* sys = nullptr;
  actors::writer_actor writer;
  agent_handles agent;
  std::shared_ptr<actors::edgehub_status_snapshot> hub_status;
  std::shared_ptr<actors::routes_snapshot> routes;
  std::shared_ptr<actors::upstream_status_snapshot> upstream;
  std::string device_id;
};

/// The status page on the metrics listener (issue 13): `GET /` (HTML), `/status.css`,
/// `/status.js` (no script or style from elsewhere: `Content-Security-Policy: default-src
/// 'self'`) and `/status.json`: modules and their state, queues with their length and the age
/// of their oldest entry, routes, the upstream link and the recent warnings and errors of
/// outpostd's log. The page reads `/metrics` itself for the connections and counters, so what
/// it shows is what Prometheus scrapes. Read-only; no key, token or connection string is in any
/// of it. nullopt for other paths.
std::optional<transport::http_response> status_page(const status_page_sources& s,
                                                    const transport::http_request& req);

} // namespace outpost::app
