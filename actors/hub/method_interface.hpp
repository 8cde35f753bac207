#pragma once

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>

namespace outpost::actors {

/// caller -> methods: invoke a direct method (`method_call`), answered with `method_call_reply`.
using method_invoke_atom = caf::atom_constant<caf::atom("meth_call")>;
/// session -> methods: this session listens to its identity's methods (it subscribed to
/// `$iothub/methods/POST/#`); `method_unlisten_atom` when it stops or ends.
using method_listen_atom = caf::atom_constant<caf::atom("meth_lstn")>;
using method_unlisten_atom = caf::atom_constant<caf::atom("meth_unlst")>;
/// methods -> session: `(method_request_atom, request id, method, payload)`.
using method_request_atom = caf::atom_constant<caf::atom("meth_req")>;
/// session -> methods: `(method_answer_atom, identity, request id, status, payload)`.
using method_answer_atom = caf::atom_constant<caf::atom("meth_ans")>;

/// A direct method call as IoT Hub's `POST /twins/{id}[/modules/{m}]/methods` takes it.
struct method_call {
  std::string from;   ///< the caller, for metrics: a module's id, or "admin"
  std::string target; ///< "<device>" or "<device>/<module>"
  std::string method;
  std::string payload = "null"; ///< JSON text
  std::int64_t connect_timeout_ms = 0;
  std::int64_t response_timeout_ms = 30000;
};

/// IoT Hub's answer: 200 with `{"status":..,"payload":..}`, or an error status with
/// `{"errorCode":..,"message":..}` (404103 not online, 504101 no answer in time).
struct method_call_reply {
  int http_status = 200;
  std::string body;
};

/// The method router's typed handle (method_router.hpp). Sessions stay untyped.
using method_router_actor = caf::typed_actor<
    caf::replies_to<method_invoke_atom, method_call>::with<method_call_reply>,
    caf::reacts_to<method_listen_atom, std::string, caf::actor>,
    caf::reacts_to<method_unlisten_atom, std::string, caf::actor>,
    caf::reacts_to<method_answer_atom, std::string, std::string, int, std::string>>;

} // namespace outpost::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::method_call)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::method_call_reply)
