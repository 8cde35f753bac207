#pragma once

#include "storage/session_store.hpp"

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>
#include <vector>

namespace outpost::actors {

using register_atom = caf::atom_constant<caf::atom("register")>;
using unregister_atom = caf::atom_constant<caf::atom("unregister")>;
using subs_atom = caf::atom_constant<caf::atom("subs")>;
using take_over_atom = caf::atom_constant<caf::atom("takeover")>;
using observe_atom = caf::atom_constant<caf::atom("observe")>;
/// `(client_atom, client_id, bool connected)`: what the directory tells its observer.
using client_atom = caf::atom_constant<caf::atom("client")>;

/// What a client's previous session left: MQTT persistent session state (§3.1.2.4).
using session_info = storage::stored_session;

/// What the directory needs of a live session: it is told when a new connection takes its
/// client id over. Sessions are untyped actors (they join the sessions group, which CAF 0.17's
/// typed actors cannot), so a session casts itself to this handle where it registers.
using directory_session_actor = caf::typed_actor<caf::reacts_to<take_over_atom>>;

/// The session directory's typed handle (session_directory.hpp documents each message).
using directory_actor = caf::typed_actor<
    caf::replies_to<register_atom, std::string, directory_session_actor, bool>::with<session_info>,
    caf::reacts_to<subs_atom, std::string, std::vector<std::string>, std::vector<std::string>>,
    caf::reacts_to<unregister_atom, std::string, directory_session_actor>,
    caf::reacts_to<observe_atom, caf::actor>>;

} // namespace outpost::actors
