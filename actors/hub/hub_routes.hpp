#pragma once

#include "actors/common/mailbox_interface.hpp"
#include "actors/common/snapshot.hpp"
#include "protocols/hub/bound_routes.hpp"

namespace outpost::actors {

/// The compiled routes bound to their mailboxes: an immutable snapshot that session actors
/// read on every publish batch (no actor hop), swapped whole when the routes change. Each
/// binding's `handle` holds its mailbox actor (see `mailbox_of`).
using hub_routes = hub::bound_routes;
using routes_snapshot = snapshot<hub_routes>;

/// The mailbox actor behind binding `b` (set by `bind_routes`).
inline const mailbox_actor& mailbox_of(const hub::binding& b) {
  return *static_cast<const mailbox_actor*>(b.handle.get());
}

} // namespace outpost::actors
