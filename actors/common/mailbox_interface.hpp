#pragma once

#include "actors/common/messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace outpost::actors {

/// What a mailbox sends its consumer (a module's session): entries to deliver, and once per
/// subscription that the backlog is out.
using consumer_actor =
    caf::typed_actor<caf::reacts_to<deliver_atom, storage::queue_handle, entries>,
                     caf::reacts_to<drained_atom, storage::queue_handle>>;

/// A persistent mailbox's typed handle (mailbox.hpp documents each message). It converts to
/// `durable_listener_actor`, which is how the writer knows it.
using mailbox_actor = caf::typed_actor<
    caf::replies_to<append_atom, std::vector<std::string>, std::int64_t>::with<append_outcomes>,
    caf::reacts_to<durable_atom, entries>, caf::reacts_to<subscribe_atom, consumer_actor>,
    caf::reacts_to<unsub_atom>, caf::reacts_to<ack_atom, storage::sequence>,
    caf::reacts_to<ack_atom, std::vector<storage::sequence>>,
    caf::reacts_to<nack_atom, storage::sequence>>;

} // namespace outpost::actors
