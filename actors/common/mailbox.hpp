#pragma once

#include "actors/common/live_count.hpp"
#include "actors/common/mailbox_interface.hpp"
#include "actors/common/writer_interface.hpp"
#include "routing/endpoint/retry_policy.hpp"
#include "storage/message_store.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace outpost::actors {

struct mailbox_config {
  writer_actor writer;                  ///< the storage writer that owns the queue
  storage::queue_handle queue = 0;      ///< opened beforehand with `open_atom`
  std::uint32_t window = 64;            ///< entries in flight to the consumer, unacked
  std::size_t buffer_limit = 4096;      ///< durable entries kept in memory for delivery
  std::function<std::int64_t()> now_ms; ///< wall clock in ms, for TTL and retry timers
  routing::retry_policy retry;          ///< back-off after a nack or a failed store read
  /// The checkpoint of a burst of acknowledgements is written this long after its first one
  /// (0 = at once): the acks within it become one message to the writer instead of one each,
  /// which would wake the writer's thread for every delivered message at a moderate rate.
  /// Written at once when the mailbox is told to exit.
  std::chrono::milliseconds checkpoint_interval{0};
  /// Held until the mailbox has handed its last checkpoint to the writer (null = none): the
  /// hub's stop waits for it before the writer is told to stop.
  std::shared_ptr<live_count> live;
};

/// Spawns the actor of one persistent mailbox (one endpoint x priority queue): CAF glue over
/// `routing::endpoint_machine` (routing/endpoint/README.md), which decides everything below.
///
/// Protocol (`mailbox_actor`, mailbox_interface.hpp):
/// - `(append_atom, std::vector<std::string> bodies, int64 ttl_ms)` -> `append_outcomes`,
///   answered when the entries are durable (the writer's group commit).
/// - `(durable_atom, entries)`: from the writer, which this mailbox subscribes to at spawn:
///   entries of this queue that became durable, whoever appended them (sessions, itself).
/// - `(subscribe_atom, consumer_actor consumer)`: deliver to `consumer` as
///   `(deliver_atom, queue_handle, entries)` with at most `window` entries unacknowledged,
///   oldest first, backlog from the store first. One consumer at a time; a new one takes over.
///   Once everything stored when it subscribed has been sent, the consumer hears
///   `(drained_atom, queue_handle)` (once per subscription): a consumer of several priority
///   queues subscribes to the next lower priority only then, so backlogs go out in priority order.
/// - `(ack_atom, sequence)` or `(ack_atom, std::vector<sequence>)`: the consumer is done with
///   those entries (any order). The
///   contiguous acknowledged prefix becomes the queue's checkpoint in the store.
/// - Entries found expired when their turn comes are not delivered; the writer hears
///   `(expired_atom, queue_handle, seqs)`, deletes them and counts them as TTL drops.
/// - `(nack_atom, sequence)`: the consumer could not deliver that entry (retryable). Delivery
///   pauses for the back-off of `retry` (1, 2, 4, ... 60 s), then starts again from the oldest
///   unacknowledged entry. A failed read from the store backs off the same way.
/// - `(unsub_atom)` or the consumer going down: unacknowledged entries are delivered again
///   to the next consumer (at least once, in order).
mailbox_actor spawn_mailbox(caf::actor_system& sys, mailbox_config cfg);

} // namespace outpost::actors
