#pragma once

#include "actors/common/writer_interface.hpp"
#include "actors/hub/hub_routes.hpp"
#include "protocols/common/result.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <string>

namespace outpost::actors {

/// Binds a compiled route table to persistent mailboxes: opens the queue of every
/// (endpoint, priority) the routes name through the storage writer, reuses the mailboxes of
/// `previous` for queues it already had and spawns the others. Blocks the calling thread on
/// the writer (start-up and reconfiguration only, never an actor handler).
result<std::shared_ptr<const hub_routes>> bind_routes(
    caf::actor_system& sys, const writer_actor& writer,
    std::shared_ptr<const routing::route_table> table, const std::string& edge_device_id,
    std::uint32_t delivery_window, const hub_routes* previous);

} // namespace outpost::actors
