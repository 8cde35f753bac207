#pragma once

#include "protocols/hub/bound_routes.hpp"
#include "routing/model/message.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace outpost::actors {

/// session -> c2d: the binding of a device's C2D queue (opened and given a mailbox on first
/// use), answered with `c2d_queue`.
using c2d_open_atom = caf::atom_constant<caf::atom("c2d_open")>;
/// caller -> c2d: `(c2d_send_atom, device, message, ttl_ms)`, answered with `c2d_reply`.
using c2d_send_atom = caf::atom_constant<caf::atom("c2d_send")>;

/// A device's C2D queue as the session core attaches it (`hub::binding::device_bound`).
struct c2d_queue {
  std::error_code error;
  std::shared_ptr<const hub::binding> binding;
};

/// IoT Hub's answer to a C2D send: 201 and `{"messageId":..}` once the message is durable in
/// the device's queue; 403 with 403004 when the queue already holds its limit; 500 otherwise.
struct c2d_reply {
  int http_status = 201;
  std::string body;
};

/// The C2D queues' typed handle (c2d_queues.hpp documents each message).
using c2d_actor = caf::typed_actor<
    caf::replies_to<c2d_open_atom, std::string>::with<c2d_queue>,
    caf::replies_to<c2d_send_atom, std::string, routing::message, std::int64_t>::with<c2d_reply>>;

} // namespace outpost::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::c2d_queue)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::c2d_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::routing::message)
