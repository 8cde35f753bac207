#pragma once

#include "routing/endpoint/endpoint_state.hpp"
#include "routing/endpoint/fifo.hpp"
#include "routing/endpoint/retry_policy.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace outpost::routing {

using endpoint_seq = std::uint64_t; ///< a queue's FIFO position (storage::sequence), from 1

struct endpoint_config {
  std::uint32_t window = 64;       ///< entries handed to the consumer and not yet acknowledged
  std::size_t buffer_limit = 4096; ///< durable entries kept in memory ahead of delivery
  std::uint32_t read_batch = 64;   ///< a read asks for max(window, read_batch) entries
  retry_policy retry;              ///< after a nack or a failed read
};

/// "Read up to `max` live entries with sequence >= `from`"; answer with `on_read` or
/// `on_read_failed`, passing `ticket` back (results of reads the endpoint no longer waits for
/// are recognised by it and dropped).
struct endpoint_read {
  endpoint_seq from = 0;
  std::uint32_t max = 0;
  std::uint64_t ticket = 0;
};

/// "Call `on_retry_timer(token, now)` at `at_ms`".
struct endpoint_retry {
  std::int64_t at_ms = 0;
  std::uint64_t token = 0;
};

/// What the caller must do after an event, in this order: report `expired` to the store,
/// `deliver` to the consumer, then tell it `drained`; write `checkpoint`; ask for `flush`
/// once the current burst of events is handled; start `read`; schedule `retry`. Reused from
/// event to event (`clear()`), so steady state allocates only the batches handed over.
template <class Entry>
struct endpoint_actions {
  std::vector<endpoint_seq> expired;   ///< found expired before delivery: delete and count
  std::vector<Entry> deliver;          ///< to the consumer, oldest first
  bool drained = false;                ///< the backlog at subscription time is out
  endpoint_seq checkpoint = 0;         ///< write: every entry <= it is done (0 = nothing)
  bool flush = false;                  ///< deliver `on_flush()` after the events queued now
  std::optional<endpoint_read> read;   ///< read from the store
  std::optional<endpoint_retry> retry; ///< schedule the retry timer

  void clear() {
    expired.clear();
    deliver.clear();
    drained = false;
    checkpoint = 0;
    flush = false;
    read.reset();
    retry.reset();
  }
  bool empty() const {
    return expired.empty() && deliver.empty() && !drained && checkpoint == 0 && !flush && !read
           && !retry;
  }
};

/// One persistent queue's delivery to one consumer at a time, as a pure state machine
/// (README.md): events in, actions out (`endpoint_actions`), time passed in; no I/O, clocks or
/// threads. `Entry` is the store's entry type: it needs `seq` (endpoint_seq, increasing) and
/// `expires_ms` (std::int64_t, 0 = never); the machine only moves entries.
///
/// Guarantees (tests/unit/routing/endpoint): entries go out in sequence order, at most
/// `window` unacknowledged; after a consumer loss or a failure they go out again from the
/// oldest unacknowledged one; the checkpoint is the contiguous acknowledged (or expired)
/// prefix, so an entry under a written checkpoint is never delivered again; an entry expired
/// when its turn comes is reported, never delivered; `drained` comes once per subscription,
/// when every entry stored at subscription time has been handed out.
template <class Entry>
class endpoint_machine {
public:
  using actions = endpoint_actions<Entry>;

  endpoint_machine() = default;
  /// Starts closed, reading from `checkpoint + 1` (the store also skips what it acknowledged).
  explicit endpoint_machine(endpoint_config cfg, endpoint_seq checkpoint = 0)
      : cfg_(cfg),
        next_read_(checkpoint + 1) {
    cfg_.window = std::max<std::uint32_t>(cfg_.window, 1);
  }

  // ---- events ----------------------------------------------------------------------------

  /// Entries of this queue became durable, in sequence order. Taken into memory (moved from
  /// `es`) only while memory holds everything up to them; otherwise a read fetches them later.
  void on_durable(std::vector<Entry>& es, std::int64_t now_ms, actions& out) {
    for (auto& e : es) {
      if (!synced_ || e.seq < frontier_) {
        continue; // the store has it; a read fetches it when its turn comes
      }
      if (e.seq > frontier_ || buffer_.size() >= cfg_.buffer_limit) {
        synced_ = false; // a gap, or no room: read from the store later
        continue;
      }
      frontier_ = e.seq + 1;
      buffer_.push_back(std::move(e));
    }
    pump(now_ms, out);
  }

  /// The answer to `endpoint_read{.ticket = ticket}`: the live entries read (moved from
  /// `entries`) and the queue's next sequence at read time.
  void on_read(std::uint64_t ticket, std::vector<Entry>& entries, endpoint_seq next,
               std::int64_t now_ms, actions& out) {
    if (ticket == 0 || ticket != read_ticket_) {
      return; // a read from before a rewind: its position is no longer ours
    }
    read_ticket_ = 0;
    if (failure_ == failure_kind::read) {
      attempts_ = 0; // the store answers again
      failure_ = failure_kind::none;
    }
    const bool complete = entries.size() < read_max();
    for (auto& e : entries) {
      if (e.seq >= next_read_ && (buffer_.empty() || e.seq > buffer_.back().seq)) {
        buffer_.push_back(std::move(e));
      }
    }
    if (complete) {
      synced_ = true;
      frontier_ = std::max(next, buffer_.empty() ? next_read_ : buffer_.back().seq + 1);
    }
    if (drain_pending_ && !drain_mark_) {
      // The first read after the subscription saw everything stored before it.
      drain_mark_ = next;
    }
    pump(now_ms, out);
  }

  void on_read_failed(std::uint64_t ticket, std::int64_t now_ms, actions& out) {
    if (ticket == 0 || ticket != read_ticket_) {
      return;
    }
    read_ticket_ = 0;
    fail(failure_kind::read, now_ms, out);
  }

  /// A consumer attaches; one at a time, so a previous one is treated as lost first.
  void on_subscribe(std::int64_t now_ms, actions& out) {
    if (consumer_) {
      on_consumer_lost(out);
    }
    consumer_ = true;
    drain_pending_ = true;
    drain_mark_.reset();
    pump(now_ms, out);
  }

  /// The consumer unsubscribed or went away: what it did not acknowledge goes out again, in
  /// order, to the next one.
  void on_consumer_lost(actions& out) {
    if (!consumer_) {
      return;
    }
    rewind(out);
    consumer_ = false;
    failing_ = false;
    retry_token_ = 0;
    attempts_ = 0;
    failure_ = failure_kind::none;
    drain_pending_ = false;
  }

  /// The consumer is done with `seq` (idempotent; unknown sequences are ignored).
  void on_ack(endpoint_seq seq, std::int64_t now_ms, actions& out) {
    mark_done(seq);
    advance_checkpoint(out);
    pump(now_ms, out);
  }

  /// A burst of acknowledgements, in any order.
  void on_ack(const std::vector<endpoint_seq>& seqs, std::int64_t now_ms, actions& out) {
    for (const auto seq : seqs) {
      mark_done(seq);
    }
    advance_checkpoint(out);
    pump(now_ms, out);
  }

  /// The consumer could not deliver `seq` (retryable). Delivery pauses for the back-off, then
  /// starts again from the oldest unacknowledged entry. Unknown or done sequences are ignored.
  void on_nack(endpoint_seq seq, std::int64_t now_ms, actions& out) {
    auto* slot = find(seq);
    if (failing_ || slot == nullptr || slot->done) {
      return; // already backing off, or not (any more) in flight
    }
    failed_seq_ = seq;
    fail(failure_kind::delivery, now_ms, out);
  }

  /// The timer of `endpoint_actions::retry` fired (stale tokens are ignored).
  void on_retry_timer(std::uint64_t token, std::int64_t now_ms, actions& out) {
    if (!failing_ || token != retry_token_) {
      return;
    }
    failing_ = false;
    retry_token_ = 0;
    rewind(out);
    pump(now_ms, out);
  }

  /// Time passed: entries waiting in memory that expired by `now_ms` are reported and
  /// dropped (useful while the window is full or the endpoint fails for long).
  void on_tick(std::int64_t now_ms, actions& out) {
    buffer_.erase_if([&](const Entry& e) {
      if (!expired(e, now_ms)) {
        return false;
      }
      out.expired.push_back(e.seq);
      return true;
    });
    pump(now_ms, out);
  }

  /// The burst of events that asked for `flush` is handled: write the checkpoint once.
  void on_flush(actions& out) {
    if (checkpoint_pending_ != 0) {
      out.checkpoint = checkpoint_pending_;
      checkpoint_pending_ = 0;
    }
  }

  /// Starts over as after a process restart, from the checkpoint the store holds; whatever
  /// was in memory (including a checkpoint not yet written) is forgotten.
  void on_restart(endpoint_seq checkpoint) {
    const auto ticket = next_ticket_; // answers to the old incarnation's reads stay stale
    *this = endpoint_machine(cfg_, checkpoint);
    next_ticket_ = ticket;
  }

  // ---- queries ---------------------------------------------------------------------------

  endpoint_state state() const noexcept {
    if (!consumer_) {
      return endpoint_state::closed;
    }
    if (failing_) {
      return endpoint_state::failing;
    }
    if (read_ticket_ != 0) {
      return endpoint_state::reading;
    }
    return inflight_.size() >= cfg_.window ? endpoint_state::sending : endpoint_state::idle;
  }
  const endpoint_config& config() const noexcept { return cfg_; }
  bool has_consumer() const noexcept { return consumer_; }
  /// Entries handed out (delivered or found expired) and not yet under the checkpoint.
  std::size_t inflight() const noexcept { return inflight_.size(); }
  /// Of those, the ones the consumer still has to acknowledge.
  std::size_t unacknowledged() const noexcept {
    return static_cast<std::size_t>(
        std::count_if(inflight_.begin(), inflight_.end(), [](const slot& s) { return !s.done; }));
  }
  std::size_t buffered() const noexcept { return buffer_.size(); }
  endpoint_seq next_read() const noexcept { return next_read_; }
  bool synced() const noexcept { return synced_; }
  std::uint32_t attempts() const noexcept { return attempts_; }

private:
  struct slot {
    endpoint_seq seq = 0;
    bool done = false; ///< acknowledged, or expired before delivery
  };
  enum class failure_kind : std::uint8_t { none, delivery, read };

  static bool expired(const Entry& e, std::int64_t now_ms) {
    return e.expires_ms != 0 && e.expires_ms <= now_ms;
  }
  std::uint32_t read_max() const { return std::max(cfg_.window, cfg_.read_batch); }

  slot* find(endpoint_seq seq) {
    auto* it = std::lower_bound(inflight_.begin(), inflight_.end(), seq,
                                [](const slot& s, endpoint_seq v) { return s.seq < v; });
    return it != inflight_.end() && it->seq == seq ? it : nullptr;
  }
  void mark_done(endpoint_seq seq) {
    if (auto* s = find(seq)) {
      s->done = true;
    }
  }

  /// Hands out entries from memory while the window has room; asks the store when memory
  /// runs dry before the queue's end; says `drained` when the subscription's backlog is out.
  void pump(std::int64_t now_ms, actions& out) {
    if (!consumer_ || failing_) {
      return;
    }
    for (bool again = true; again;) {
      again = false;
      bool any_expired = false;
      while (inflight_.size() < cfg_.window) {
        if (buffer_.empty()) {
          if (!synced_ && read_ticket_ == 0) {
            read_ticket_ = next_ticket_++;
            out.read = endpoint_read{next_read_, read_max(), read_ticket_};
          }
          break;
        }
        auto& e = buffer_.front();
        const bool gone = expired(e, now_ms);
        next_read_ = e.seq + 1;
        inflight_.push_back(slot{e.seq, gone}); // expired: never delivered, counts as done
        if (gone) {
          // Reported before any checkpoint passes it: the store deletes and counts it.
          out.expired.push_back(e.seq);
          any_expired = true;
        } else {
          if (out.deliver.empty()) {
            out.deliver.reserve(
                std::min<std::size_t>(cfg_.window - inflight_.size() + 1, buffer_.size()));
          }
          out.deliver.push_back(std::move(e));
        }
        buffer_.pop_front();
      }
      if (any_expired) {
        // Expired entries count as done now, not at the next ack; the room they leave at the
        // front of the window is used at once (else a window of expired entries would stall).
        const auto before = inflight_.size();
        advance_checkpoint(out);
        again = inflight_.size() < before;
      }
    }
    if (drain_pending_ && drain_mark_
        && (next_read_ >= *drain_mark_ || (!buffer_.empty() && buffer_.front().seq >= *drain_mark_)
            || (buffer_.empty() && synced_))) {
      drain_pending_ = false;
      out.drained = true;
    }
  }

  /// Moves the checkpoint over the contiguous done prefix; asks for one flush per burst.
  void advance_checkpoint(actions& out) {
    endpoint_seq done = 0;
    while (!inflight_.empty() && inflight_.front().done) {
      done = inflight_.front().seq;
      inflight_.pop_front();
    }
    if (done == 0) {
      return;
    }
    if (checkpoint_pending_ == 0) {
      out.flush = true;
    }
    checkpoint_pending_ = done;
    if (failure_ == failure_kind::delivery && done >= failed_seq_) {
      attempts_ = 0; // the entry that failed got through: the next failure starts over
      failure_ = failure_kind::none;
    }
  }

  void fail(failure_kind kind, std::int64_t now_ms, actions& out) {
    if (failing_) {
      return; // one back-off at a time; its retry starts over from the store anyway
    }
    failure_ = kind;
    failing_ = true;
    ++attempts_;
    retry_token_ = next_ticket_++;
    out.retry = endpoint_retry{now_ms + cfg_.retry.delay_ms(attempts_), retry_token_};
  }

  /// Forgets what is in memory and goes back to the oldest entry not yet acknowledged.
  void rewind(actions& out) {
    advance_checkpoint(out);
    if (!inflight_.empty()) {
      next_read_ = inflight_.front().seq;
    }
    inflight_.clear();
    buffer_.clear();
    synced_ = false;
    read_ticket_ = 0; // a read under way answers for the old position
  }

  endpoint_config cfg_;
  /// Durable entries not yet handed out, oldest first, all >= next_read_.
  detail::fifo<Entry> buffer_;
  /// Entries handed out, in sequence order; the front's predecessor is the checkpoint.
  detail::fifo<slot> inflight_;
  endpoint_seq next_read_ = 1; ///< first sequence not yet handed out
  /// True when buffer_ + inflight_ hold every live entry below frontier_: new durable entries
  /// can then be queued from memory instead of being read back from the store.
  bool synced_ = false;
  endpoint_seq frontier_ = 0;
  bool consumer_ = false;
  bool failing_ = false;
  failure_kind failure_ = failure_kind::none;
  endpoint_seq failed_seq_ = 0;
  std::uint32_t attempts_ = 0;    ///< consecutive failures, for the back-off
  std::uint64_t read_ticket_ = 0; ///< the read the machine waits for (0 = none)
  std::uint64_t retry_token_ = 0; ///< the retry timer the machine waits for (0 = none)
  std::uint64_t next_ticket_ = 1;
  endpoint_seq checkpoint_pending_ = 0;    ///< acknowledged prefix not yet written
  bool drain_pending_ = false;             ///< the consumer waits for `drained`
  std::optional<endpoint_seq> drain_mark_; ///< the queue's next sequence at subscription
};

} // namespace outpost::routing
