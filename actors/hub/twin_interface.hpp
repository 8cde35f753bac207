#pragma once

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>

namespace outpost::actors {

/// -> twins: a client's GET of its own twin.
using twin_get_atom = caf::atom_constant<caf::atom("twin_get")>;
/// -> twins: a client's reported-properties patch.
using twin_report_atom = caf::atom_constant<caf::atom("twin_rep")>;
/// -> twins: the service view of a twin (`outpost twin show`, `GET /twins/{id}`).
using twin_show_atom = caf::atom_constant<caf::atom("twin_show")>;
/// -> twins: a service update (`PATCH /twins/{id}`, `outpost twin update`); with `true`, a
/// replacement (`PUT`).
using twin_update_atom = caf::atom_constant<caf::atom("twin_upd")>;
/// -> twins: this session wants the identity's desired patches (it subscribed to them).
using twin_watch_atom = caf::atom_constant<caf::atom("twin_watch")>;
/// -> twins: it no longer does (it unsubscribed or ended).
using twin_unwatch_atom = caf::atom_constant<caf::atom("twin_unwch")>;
/// upstream link -> twins: `(twin_forward_atom, link)`: from now on every accepted reported
/// patch is also told to `link` as `(twin_reported_atom, id, patch)`, so a child edge pushes
/// its clients' reported properties to its parent.
using twin_forward_atom = caf::atom_constant<caf::atom("twin_fwd")>;
using twin_reported_atom = caf::atom_constant<caf::atom("twin_rptd")>;
/// twins -> session: `(desired_atom, version, patch)`, the patch with its `$version`.
using desired_atom = caf::atom_constant<caf::atom("desired")>;

/// The answer to a twin request, ready for any protocol: `status` as IoT Hub answers it
/// (200 GET, 204 reported patch, 400/412/500 with an IoT Hub error body), the twin's
/// `version` of the section that was read or written, and the body (the twin JSON, or
/// `{"errorCode":..,"message":..}`; empty for 204).
struct twin_reply {
  int status = 200;
  std::int64_t version = 0;
  std::string body;
};

/// The twin registry's typed handle (twin_registry.hpp documents each message). Sessions
/// stay untyped (actors/README.md, "Typed handles"), so watchers are `caf::actor`.
using twin_registry_actor =
    caf::typed_actor<caf::replies_to<twin_get_atom, std::string>::with<twin_reply>,
                     caf::replies_to<twin_report_atom, std::string, std::string>::with<twin_reply>,
                     caf::replies_to<twin_show_atom, std::string>::with<twin_reply>,
                     caf::replies_to<twin_update_atom, std::string, std::string, std::string,
                                     bool>::with<twin_reply>,
                     caf::reacts_to<twin_watch_atom, std::string, caf::actor>,
                     caf::reacts_to<twin_unwatch_atom, std::string, caf::actor>,
                     caf::reacts_to<twin_forward_atom, caf::actor>>;

} // namespace outpost::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::twin_reply)
