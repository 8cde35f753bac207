#pragma once

#include "actors/common/mailbox.hpp"
#include "actors/hub/hub_routes.hpp"
#include "protocols/common/result.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <string>

namespace outpost::actors {

/// Binds a compiled route table to persistent mailboxes: opens the queue of every
/// (endpoint, priority) the routes name through the storage writer (`mailboxes.writer`),
/// reuses the mailboxes of `previous` for queues it already had and spawns the others with
/// `mailboxes` (its queue set to theirs). Blocks the calling thread on the writer (start-up
/// and reconfiguration only, never an actor handler).
result<std::shared_ptr<const hub_routes>> bind_routes(
    caf::actor_system& sys, const mailbox_config& mailboxes,
    std::shared_ptr<const routing::route_table> table, const std::string& edge_device_id,
    const hub_routes* previous);

} // namespace outpost::actors
