#pragma once

#include "actors/common/snapshot.hpp"
#include "actors/common/writer_interface.hpp"
#include "actors/workload/registry_interface.hpp"
#include "protocols/common/result.hpp"
#include "storage/identity_store.hpp"

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>

namespace outpost::actors {

/// Sent to `identity_registry_config::changed` after every change: live sessions check their
/// credentials against the new table (and end if the identity is gone, disabled or re-keyed).
using identities_atom = caf::atom_constant<caf::atom("ids")>;

/// Every identity by id ("<device>" or "<device>/<module>"): what authentication reads.
using identity_table = storage::identity_store::table; ///< shared with the store (`shared`)
using identity_snapshot = snapshot<identity_table>;

struct identity_registry_config {
  std::shared_ptr<storage::kv_store> kv;        ///< read once, to load the identities
  writer_actor writer;                          ///< writes every change (the engine's owner)
  std::shared_ptr<identity_snapshot> published; ///< where readers find the current table
  std::string edge_device_id;                   ///< owner of bare module ids
  std::function<std::string()> new_key;         ///< a fresh base64 key (CSPRNG)
  std::function<std::int64_t()> now_ms;
  /// Gets `identities_atom` after each change: the hub's sessions group (a group, not a typed
  /// handle, because the sessions are untyped group members: actors/README.md).
  caf::group changed;
};

/// Spawns the identity registry (detached: it waits for the storage writer to make every
/// change durable). Loads the
/// identities, registers the edge device itself on first start, publishes the first
/// snapshot, then (`registry_actor`, registry_interface.hpp):
/// - `(identity_add_atom, storage::identity_request)` -> `identity_reply`
/// - `(identity_remove_atom, std::string id)` -> `identity_reply`
/// - `(identity_enable_atom, std::string id, bool enabled)` -> `identity_reply`
/// - `(identity_scope_atom, scope_devices)` -> how many identities changed: the devices the
///   parent put in this edge's scope (a child edge's scope sync). They replace every local
///   device whose `parent` is this edge (added, their keys or state updated, the ones gone
///   removed with their modules), so a child authenticates its parent's devices while offline.
/// - `(identity_rotate_atom, std::string id, key_slot)` -> `identity_reply`: new SAS key(s)
///   (`errc::invalid_argument`-like error for X.509 identities)
/// Every successful change is durable before it is published, and published before the
/// reply, so a client can connect with a new key as soon as the CLI prints it; the sessions
/// are told right after publishing, so a revoked one ends within milliseconds.
result<registry_actor> spawn_identity_registry(caf::actor_system& sys,
                                               identity_registry_config cfg);

} // namespace outpost::actors
