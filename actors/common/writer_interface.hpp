#pragma once

#include "actors/common/messages.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace outpost::actors {

/// What the storage writer tells a queue's listener (its mailbox) after every commit: the
/// entries of that queue that became durable, in sequence order. A handle of its own so the
/// writer's interface does not depend on the mailbox's (any actor that takes this message
/// converts to it: `mailbox_actor` does).
using durable_listener_actor = caf::typed_actor<caf::reacts_to<durable_atom, entries>>;

/// The storage writer's typed handle (storage_writer.hpp documents each message). A message
/// it does not take, or a reply handler of the wrong type, is a compile error.
using writer_actor = caf::typed_actor<
    caf::replies_to<open_atom, storage::queue_name>::with<open_reply>,
    caf::replies_to<append_atom, append_requests>::with<append_outcomes>,
    caf::reacts_to<ack_atom, ack_requests>,
    caf::replies_to<read_atom, storage::queue_handle, storage::sequence,
                    std::uint32_t>::with<read_reply>,
    caf::reacts_to<expired_atom, storage::queue_handle, std::vector<storage::sequence>>,
    caf::reacts_to<subscribe_atom, storage::queue_handle, durable_listener_actor>,
    caf::replies_to<records_atom, storage::write_batch, bool>::with<records_reply>,
    caf::replies_to<session_restore_atom, std::string, bool>::with<storage::stored_session>,
    caf::reacts_to<session_subs_atom, std::string, std::vector<std::string>,
                   std::vector<std::string>>,
    caf::replies_to<stats_atom>::with<store_report>>;

} // namespace outpost::actors
