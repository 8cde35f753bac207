#pragma once

#include "storage/identity_store.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace outpost::actors {

using identity_add_atom = caf::atom_constant<caf::atom("id_add")>;
using identity_remove_atom = caf::atom_constant<caf::atom("id_remove")>;
using identity_enable_atom = caf::atom_constant<caf::atom("id_enable")>;
using identity_rotate_atom = caf::atom_constant<caf::atom("id_rotate")>;
using identity_scope_atom = caf::atom_constant<caf::atom("id_scope")>;

/// The devices a parent put in this edge's scope (`identity_scope_atom`).
using scope_devices = std::vector<storage::identity>;

/// Which SAS keys `identity_rotate_atom` replaces.
enum class key_slot : std::uint8_t { both, primary, secondary };

/// The answer to a registry change: `error` empty when `value` is the identity as stored
/// (for a removal: the removed identity; `removed` counts its modules too).
struct identity_reply {
  std::error_code error;
  storage::identity value;
  std::size_t removed = 0;
};

/// The identity registry's typed handle (identity_registry.hpp documents each message).
using registry_actor = caf::typed_actor<
    caf::replies_to<identity_add_atom, storage::identity_request>::with<identity_reply>,
    caf::replies_to<identity_remove_atom, std::string>::with<identity_reply>,
    caf::replies_to<identity_enable_atom, std::string, bool>::with<identity_reply>,
    caf::replies_to<identity_rotate_atom, std::string, key_slot>::with<identity_reply>,
    caf::replies_to<identity_scope_atom, scope_devices>::with<std::size_t>>;

} // namespace outpost::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::storage::identity_request)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::identity_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::key_slot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::scope_devices)
