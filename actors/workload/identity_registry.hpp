#pragma once

#include "actors/common/snapshot.hpp"
#include "protocols/common/result.hpp"
#include "storage/identity_store.hpp"

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>

namespace outpost::actors {

using identity_add_atom = caf::atom_constant<caf::atom("id_add")>;
using identity_remove_atom = caf::atom_constant<caf::atom("id_remove")>;
using identity_enable_atom = caf::atom_constant<caf::atom("id_enable")>;
using identity_rotate_atom = caf::atom_constant<caf::atom("id_rotate")>;
/// Sent to `identity_registry_config::changed` after every change: live sessions check their
/// credentials against the new table (and end if the identity is gone, disabled or re-keyed).
using identities_atom = caf::atom_constant<caf::atom("ids")>;

/// Which SAS keys `identity_rotate_atom` replaces.
enum class key_slot : std::uint8_t { both, primary, secondary };

/// Every identity by id ("<device>" or "<device>/<module>"): what authentication reads.
using identity_table = std::map<std::string, storage::identity, std::less<>>;
using identity_snapshot = snapshot<identity_table>;

/// The answer to a registry change: `error` empty when `value` is the identity as stored
/// (for a removal: the removed identity; `removed` counts its modules too).
struct identity_reply {
  std::error_code error;
  storage::identity value;
  std::size_t removed = 0;
};

struct identity_registry_config {
  std::shared_ptr<storage::kv_store> kv;        ///< read once, to load the identities
  caf::actor writer;                            ///< writes every change (the engine's owner)
  std::shared_ptr<identity_snapshot> published; ///< where readers find the current table
  std::string edge_device_id;                   ///< owner of bare module ids
  std::function<std::string()> new_key;         ///< a fresh base64 key (CSPRNG)
  std::function<std::int64_t()> now_ms;
  caf::group changed; ///< gets `identities_atom` after each change (the hub's sessions group)
};

/// Spawns the identity registry (detached: it waits for the storage writer to make every
/// change durable). Loads the
/// identities, registers the edge device itself on first start, publishes the first
/// snapshot, then:
/// - `(identity_add_atom, storage::identity_request)` -> `identity_reply`
/// - `(identity_remove_atom, std::string id)` -> `identity_reply`
/// - `(identity_enable_atom, std::string id, bool enabled)` -> `identity_reply`
/// - `(identity_rotate_atom, std::string id, key_slot)` -> `identity_reply`: new SAS key(s)
///   (`errc::invalid_argument`-like error for X.509 identities)
/// Every successful change is durable before it is published, and published before the
/// reply, so a client can connect with a new key as soon as the CLI prints it; the sessions
/// are told right after publishing, so a revoked one ends within milliseconds.
result<caf::actor> spawn_identity_registry(caf::actor_system& sys, identity_registry_config cfg);

} // namespace outpost::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::storage::identity_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::identity_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::key_slot)
