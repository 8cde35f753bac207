#pragma once

#include "actors/hub/method_interface.hpp"
#include "actors/hub/twin_interface.hpp"
#include "actors/workload/identity_registry.hpp"
#include "protocols/transport/http_server.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <optional>

namespace outpost::app {

/// The admin API's twin routes (IoT Hub's paths and bodies; `outpost twin` uses them):
/// - `GET /twins/{d}` and `GET /twins/{d}/modules/{m}`: the twin as IoT Hub's service API
///   shows it (ids, etag, version, tags, desired and reported with `$metadata`);
/// - `PATCH` (merge) or `PUT` (replace) on the same paths, body
///   `{"tags":{..},"properties":{"desired":{..}}}`: the twin after the change; connected
///   clients subscribed to desired patches get the change at once. An `If-Match` etag (quoted
///   or not; `*` or none = any) that is not the twin's is 412 (412001), nothing changed.
/// - `POST /twins/{d}[/modules/{m}]/methods` `{"methodName", "payload", "responseTimeoutInSeconds"
///   (default 30, at most 300), "connectTimeoutInSeconds" (default 0, at most 300)}`: a direct
///   method call, answered 200 `{"status", "payload"}`, 404 (404103) when the target does not
///   listen in time, 504 (504101) when it does not answer in time.
/// An identity that is not registered is 404 with IoT Hub's DeviceNotFound (404001) or
/// ModuleNotFound (404010); a refused change is 400 with IoT Hub's error body. `caller` is who
/// calls methods, for the metrics' `from` label: "admin", "service" or the calling module's
/// (authenticated) id.
///
/// Returns false when `req` is not a twin route; otherwise `respond` is called: at once, or
/// for a method call when the target answers or the call times out (the pending call is the
/// method router's state; no thread waits for it).
bool twin_admin(caf::actor_system& sys, const actors::twin_registry_actor& twins,
                const actors::method_router_actor& methods,
                const std::shared_ptr<actors::identity_snapshot>& identities,
                const transport::http_request& req, const std::string& caller,
                const transport::http_responder& respond);

} // namespace outpost::app
