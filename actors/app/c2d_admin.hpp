#pragma once

#include "actors/hub/c2d_interface.hpp"
#include "actors/workload/identity_registry.hpp"
#include "protocols/transport/http_server.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <optional>

namespace outpost::app {

/// The admin API's cloud-to-device route (`outpost c2d send` uses it):
/// `POST /devices/{d}/messages/deviceBound` with `{"body": text, "messageId", "correlationId",
/// "properties": {name: text}, "ttlSeconds" (default 3600, IoT Hub's), "ack", "contentType",
/// "contentEncoding"}` -> 201 `{"messageId"}` once the message is durable in the device's C2D
/// queue; 403 (403004) when the queue is full (50 messages); 404 (404001) for an identity that
/// is not a registered device; 400 (400004) for a bad body. nullopt when `req` is not this
/// route.
std::optional<transport::http_response> c2d_admin(
    caf::actor_system& sys, const actors::c2d_actor& c2d,
    const std::shared_ptr<actors::identity_snapshot>& identities,
    const transport::http_request& req);

} // namespace outpost::app
