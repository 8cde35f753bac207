#pragma once

#include "actors/common/messages.hpp"
#include "storage/session_store.hpp"

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Gauge;
}

namespace outpost::actors {

using register_atom = caf::atom_constant<caf::atom("register")>;
using unregister_atom = caf::atom_constant<caf::atom("unregister")>;
using subs_atom = caf::atom_constant<caf::atom("subs")>;
using take_over_atom = caf::atom_constant<caf::atom("takeover")>;

/// What a client's previous session left: MQTT persistent session state (§3.1.2.4).
using session_info = storage::stored_session;

/// Spawns the session directory. It keeps the live sessions; what persists (column
/// `sessions`) is read and written by the storage writer (`storage::session_store`), so the
/// directory never blocks.
/// "One identity, one live session" (ARCHITECTURE.md §2):
/// - `(register_atom, client_id, session actor, bool clean_session)` -> `session_info`; an
///   older live session of the same client id gets `take_over_atom` first. A clean session
///   discards what was stored ([MQTT-3.1.2-6]). Answered by the writer (delegated).
/// - `(subs_atom, client_id, std::vector<std::string> added, std::vector<std::string> removed)`:
///   what changed in the session's subscriptions, stored as changes (one key per filter) in
///   column `sessions` for a persistent session.
/// - `(unregister_atom, client_id, session actor)`: the connection ended.
caf::actor spawn_session_directory(caf::actor_system& sys, caf::actor writer,
                                   prometheus::Gauge* connected_clients);

} // namespace outpost::actors
