#pragma once

#include "protocols/common/result.hpp"
#include "storage/kv_store.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <system_error>
#include <unordered_map>
#include <vector>

namespace outpost::storage {

using queue_handle = std::uint32_t; ///< dense, starts at 1; stable across restarts
using sequence = std::uint64_t;     ///< per-queue FIFO position, starts at 1
using message_id = std::uint64_t;

/// A persistent mailbox is one FIFO queue per (endpoint, priority), as in IoT Edge.
struct queue_name {
  std::string endpoint;
  std::uint32_t priority = 0;
};

struct store_limits {
  std::uint64_t max_size_bytes = 0; ///< 0 = unlimited
};

/// One queue a body goes to, with that route's time to live.
struct append_target {
  queue_handle queue = 0;
  std::int64_t ttl_ms = -1; ///< < 0: never expires
};

/// One body, stored once, referenced from every target queue.
struct append_request {
  std::string body;
  std::vector<append_target> targets;
};

struct append_result {
  message_id id = 0;
  std::vector<sequence> seqs; ///< parallel to `append_request::targets`
};

/// The answer to one append request: `error` is empty when `value` is valid.
struct append_outcome {
  std::error_code error;
  append_result value;
  /// On error, the request as it was sent, so the caller can retry without keeping a copy.
  append_request rejected;
};

struct ack_request {
  queue_handle queue = 0;
  sequence up_to = 0; ///< every entry with a sequence <= up_to is done
};

struct stored_entry {
  sequence seq = 0;
  message_id id = 0;
  std::int64_t enqueued_ms = 0;
  std::int64_t expires_ms = 0; ///< 0 = never
  std::string body;
};

struct queue_stats {
  std::uint64_t length = 0; ///< live entries (unacknowledged, not yet cleaned up)
  std::uint64_t bytes = 0;  ///< body bytes those entries reference
  sequence checkpoint = 0;  ///< highest acknowledged sequence
  sequence next = 1;        ///< sequence the next append gets
};

struct cleanup_result {
  std::size_t scanned = 0;
  std::size_t expired = 0;
  /// Expired entries per queue, for edgehub_messages_dropped_total{reason="ttl_expiry"}.
  std::vector<std::pair<queue_handle, std::uint64_t>> expired_per_queue;
};

/// The store-and-forward message store on top of a `kv_store` (IoT Edge's MessageStore).
///
/// A body is written once under a message id; each target queue holds a small entry that
/// references it (id, enqueue time, expiry, size) under a big-endian (queue, sequence) key, so
/// iteration is FIFO. Acknowledging a prefix deletes its entries and advances the queue's
/// checkpoint; a body goes when its last reference goes. Reference counts
/// are kept only for bodies shared by two or more queues (column `refs`); a body without a
/// count has exactly one reference, so the common single-route case writes nothing extra.
///
/// Every operation builds one write batch and changes the in-memory indexes only after the
/// batch is written, so a failed write leaves the store as it was. Pure logic: time is a
/// parameter (milliseconds since the epoch, since TTLs survive restarts), no I/O but `kv_`.
/// Thread-compatible; owned by the storage writer actor.
class message_store {
public:
  /// Loads queue registry, checkpoints, reference counts and sizes from `kv`.
  static result<message_store> open(kv_store& kv, store_limits limits);

  /// Returns the handle of `name`, registering the queue durably on first use.
  result<queue_handle> open_queue(const queue_name& name);

  /// Appends every request in one durable write batch. A request that would exceed the
  /// quota fails alone with `errc::quota_exceeded`; the others still go in.
  std::vector<result<append_result>> append(const std::vector<append_request>& requests,
                                            std::int64_t now_ms);

  /// Up to `max` live entries of `queue` with sequence >= `from`, oldest first. Entries
  /// that are acknowledged or expired at `now_ms` are never returned; the sequences of the
  /// expired ones passed over go to `expired` when given (for `drop_expired`).
  result<std::vector<stored_entry>> read(queue_handle queue, sequence from, std::size_t max,
                                         std::int64_t now_ms,
                                         std::vector<sequence>* expired = nullptr);

  /// Deletes the entries `seqs` of `queue` that are still stored, not yet acknowledged and
  /// expired at `now_ms`, in one lazy write; returns how many it deleted. With the TTL cleanup
  /// the only place expired entries go, so each one is counted as a TTL drop exactly once.
  result<std::size_t> drop_expired(queue_handle queue, const std::vector<sequence>& seqs,
                                   std::int64_t now_ms);

  /// Acknowledges prefixes of queues, all in one (lazy) write batch.
  result<void> ack(const std::vector<ack_request>& requests);

  /// Deletes up to `budget` entries' worth of expired entries, continuing round-robin over
  /// the queues where the previous step stopped. Call it often with a small budget.
  result<cleanup_result> cleanup_step(std::int64_t now_ms, std::size_t budget);

  result<queue_stats> stats(queue_handle queue) const;
  /// Bytes the store accounts against the quota: bodies plus entries.
  std::uint64_t used_bytes() const noexcept { return used_bytes_; }
  const store_limits& limits() const noexcept { return limits_; }
  void set_limits(store_limits limits) noexcept { limits_ = limits; }
  /// Every registered queue and its handle, in handle order.
  std::vector<std::pair<queue_name, queue_handle>> queues() const;

private:
  struct queue_state {
    bool registered = false;
    queue_name name;
    queue_stats stats;
    /// Where the TTL cleanup continues (0 = at the head, starting a new pass).
    sequence cleanup_cursor = 0;
    /// No entry expires before this, so cleanup skips the queue until then.
    std::int64_t next_expiry = std::numeric_limits<std::int64_t>::max();
    std::int64_t pass_min_expiry = std::numeric_limits<std::int64_t>::max();
  };
  class txn;
  friend class txn;

  message_store(kv_store& kv, store_limits limits) : kv_(&kv), limits_(limits) {}

  result<void> load();
  result<void> load_queue(queue_handle q);
  queue_state* find(queue_handle q);
  const queue_state* find(queue_handle q) const;
  /// Cleans one queue within `budget` entries; true when it reached the queue's end.
  result<bool> cleanup_queue(txn& t, queue_handle q, std::int64_t now_ms, std::size_t budget,
                             cleanup_result& res);

  kv_store* kv_;
  store_limits limits_;
  std::vector<queue_state> queues_;                           ///< index = handle - 1
  std::unordered_map<message_id, std::uint32_t> shared_refs_; ///< bodies with >= 2 refs
  std::uint64_t used_bytes_ = 0;
  message_id next_id_ = 1;
  queue_handle cleanup_queue_ = 1;
};

} // namespace outpost::storage
