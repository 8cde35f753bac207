#pragma once

#include "actors/common/messages.hpp"
#include "actors/common/writer_interface.hpp"
#include "actors/hub/directory_interface.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Gauge;
}

namespace outpost::actors {

/// Spawns the session directory. It keeps the live sessions; what persists (column
/// `sessions`) is read and written by the storage writer (`storage::session_store`), so the
/// directory never blocks.
/// "One identity, one live session" (ARCHITECTURE.md §2; `directory_actor`,
/// directory_interface.hpp):
/// - `(register_atom, client_id, session, bool clean_session)` -> `session_info`; an
///   older live session of the same client id gets `take_over_atom` first. A clean session
///   discards what was stored ([MQTT-3.1.2-6]). Answered by the writer (delegated).
/// - `(subs_atom, client_id, std::vector<std::string> added, std::vector<std::string> removed)`:
///   what changed in the session's subscriptions, stored as changes (one key per filter) in
///   column `sessions` for a persistent session.
/// - `(unregister_atom, client_id, session)`: the connection ended.
/// - `(observe_atom, observer)`: the observer (the upstream link) is told
///   `(client_atom, client_id, true)` for every client connected now and whenever one connects,
///   `(client_atom, client_id, false)` when one goes (a take-over is no change).
directory_actor spawn_session_directory(caf::actor_system& sys, writer_actor writer,
                                        prometheus::Gauge* connected_clients);

} // namespace outpost::actors
