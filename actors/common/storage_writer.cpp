#include "actors/common/storage_writer.hpp"

#include "actors/common/messages.hpp"
#include "actors/common/store_metrics.hpp"
#include "storage/errc.hpp"
#include "storage/message_store.hpp"
#include "storage/session_store.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace outpost::actors {

namespace {

struct writer_state {
  storage_writer_config cfg;
  std::optional<storage::message_store> store;
  append_requests pending; ///< requests of this pass, in arrival order
  std::vector<std::pair<caf::typed_response_promise<append_outcomes>, std::size_t>> promises;
  ack_requests acks;
  /// Records of the typed stores (identities, agent, sessions) for this pass, written before
  /// the appends: one write (and at most one sync) however many arrived.
  storage::write_batch records;
  bool records_durable = false;
  std::vector<caf::typed_response_promise<records_reply>> record_promises;
  std::optional<storage::session_store> sessions;
  /// Clients whose session changes are in `records`: only their restore must commit first
  /// (another client's reads cannot see them), so a connect storm does not sync per connect.
  std::unordered_set<std::string> session_changes;
  bool flush_scheduled = false;
  /// Group commit: this flush already waited once; when the last flush with appends began, and
  /// how many messages the last pass with appends had.
  bool gathered = false;
  std::chrono::steady_clock::time_point last_commit{};
  std::size_t last_pass_appends = 0;
  /// The mailbox of each queue: told what became durable, in commit order. Weak, so a
  /// mailbox and its writer never keep each other alive.
  std::unordered_map<storage::queue_handle, caf::actor_addr> listeners;
  /// The disk as the engine last saw it (every cleanup tick and report).
  storage::space_report space;
  /// Appends are being refused for want of space (quota or disk) since the last success;
  /// cleared by a successful append, or once acks or expiry freed bytes and the disk is fine.
  bool refusing = false;
  bool refused_for_disk = false;
  std::uint64_t used_at_refusal = 0;

  static inline const char* name = "storage_writer";
};

/// The public interface plus the writer's own timers, which only it sends itself.
using writer_impl = writer_actor::extend<caf::reacts_to<flush_atom>, caf::reacts_to<cleanup_atom>>;
using writer_pointer = writer_impl::stateful_pointer<writer_state>;

void schedule_flush(writer_pointer self) {
  auto& st = self->state;
  if (!st.flush_scheduled) {
    st.flush_scheduled = true;
    // Everything already in the mailbox is handled before this message: one pass.
    self->send(self, flush_atom::value);
  }
}

/// Tells each queue's mailbox about the entries this pass made durable, oldest first, so it
/// can deliver them from memory instead of reading them back.
void notify_listeners(writer_state& st, const std::vector<result<storage::append_result>>& results,
                      std::int64_t now) {
  if (st.listeners.empty()) {
    return;
  }
  std::unordered_map<storage::queue_handle, entries> durable;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!results[i]) {
      continue;
    }
    const auto& req = st.pending[i];
    for (std::size_t t = 0; t < req.targets.size(); ++t) {
      const auto& target = req.targets[t];
      if (st.listeners.count(target.queue)) {
        const auto expires = target.ttl_ms > 0 ? now + target.ttl_ms : 0;
        durable[target.queue].push_back(
            {results[i]->seqs[t], results[i]->id, now, expires, req.body});
      }
    }
  }
  for (auto& [q, es] : durable) {
    if (auto mailbox = caf::actor_cast<durable_listener_actor>(st.listeners[q])) {
      caf::anon_send(mailbox, durable_atom::value, std::move(es));
    } else {
      st.listeners.erase(q);
    }
  }
}

void commit_appends(writer_pointer self) {
  auto& st = self->state;
  const auto now = st.cfg.now_ms();
  auto results = st.store->append(st.pending, now);
  notify_listeners(st, results, now);
  std::size_t i = 0;
  std::size_t failed = 0;
  std::error_code why;
  for (auto& [promise, n] : st.promises) {
    append_outcomes out(n);
    for (auto& o : out) {
      auto& r = results[i++];
      if (r) {
        o.value = std::move(*r);
      } else {
        o.error = r.error();
        o.rejected = std::move(st.pending[i - 1]);
        why = o.error;
        ++failed;
      }
    }
    promise.deliver(std::move(out));
  }
  const bool for_space = why == storage::errc::quota_exceeded || why == storage::errc::disk_full;
  if (failed > 0 && !(for_space && st.refusing)) {
    // Once per episode: publishers retry every 200 ms while the store is full.
    spdlog::warn("[storage writer] {} of {} appends refused: {}", failed, results.size(),
                 why.message());
  }
  if (failed < results.size()) {
    st.refusing = false;
  } else if (for_space) {
    st.refusing = true;
    st.refused_for_disk = why == storage::errc::disk_full;
    st.used_at_refusal = st.store->used_bytes();
  }
  if (auto* m = st.cfg.metrics.get()) {
    m->commits.Increment();
    m->appends.Increment(static_cast<double>(results.size() - failed));
    m->append_failures.Increment(static_cast<double>(failed));
  }
  st.pending.clear();
  st.promises.clear();
}

/// Logs a failed write once per disk-full episode (a full disk must not fill the log too).
bool quiet(writer_state& st, std::error_code ec) {
  if (ec != storage::errc::disk_full) {
    return false;
  }
  const bool known = st.space.disk_full;
  st.space.disk_full = true;
  return known;
}

void commit_acks(writer_pointer self) {
  auto& st = self->state;
  if (auto r = st.store->ack(st.acks); !r) {
    if (!quiet(st, r.error())) {
      spdlog::error("[storage writer] ack of {} queues failed: {}", st.acks.size(),
                    r.error().message());
    }
  } else if (auto* m = st.cfg.metrics.get()) {
    m->acks.Increment();
  }
  st.acks.clear();
}

/// Writes the typed stores' records of this pass and answers their callers.
void commit_records(writer_pointer self) {
  auto& st = self->state;
  if (st.records.empty() && st.record_promises.empty()) {
    return;
  }
  std::error_code error;
  if (!st.records.empty()) {
    const auto mode = st.records_durable ? storage::write_mode::durable : storage::write_mode::lazy;
    if (auto r = st.cfg.kv->write(st.records, mode); !r) {
      error = r.error();
      if (!quiet(st, error)) {
        spdlog::error("[storage writer] {} record changes failed: {}", st.records.ops().size(),
                      error.message());
      }
    }
  }
  st.records.clear();
  st.records_durable = false;
  st.session_changes.clear();
  for (auto& p : st.record_promises) {
    p.deliver(records_reply{error});
  }
  st.record_promises.clear();
}

/// Group commit (storage_writer_config::group_commit): at 10k msgs/s a sync took ~1.5
/// messages, and the writer's passes (a futex wake, the write, the sync's two block requests
/// and their interrupts) made the hub spend 85 µs of CPU per message; waiting 120 µs for more
/// made it 57 µs, p99 618 -> 826 µs (compare.sh, 3 runs each).
bool should_gather(const writer_state& st, std::chrono::steady_clock::time_point now) {
  const auto window = st.cfg.group_commit;
  // Under a heavy load the passes are large already: waiting there only adds latency (fan-in
  // went from 95k to 74k msgs/s when every pass waited).
  // And only where the window can catch something: at the rate of the last pass (its
  // messages over the time since), at least one more message is due within it. At 1,000
  // msgs/s (one per ms) waiting caught nothing and added 140 µs to the p50.
  return window.count() > 0 && st.cfg.detached && !st.gathered && !st.pending.empty()
         && st.pending.size() < st.cfg.group_commit_max
         && st.last_pass_appends < st.cfg.group_commit_max
         && now - st.last_commit <= static_cast<long>(st.last_pass_appends) * window;
}

/// Commits what this pass collected: records, appends (durable), then acknowledgements (lazy).
void commit_pass(writer_pointer self) {
  commit_records(self);
  if (auto& st = self->state; !st.pending.empty()) {
    st.last_pass_appends = st.pending.size();
    commit_appends(self);
  }
  if (!self->state.acks.empty()) {
    commit_acks(self);
  }
}

void publish_metrics(writer_pointer self) {
  auto& st = self->state;
  auto* m = st.cfg.metrics.get();
  if (!m) {
    return;
  }
  for (const auto& [name, q] : st.store->queues()) {
    auto s = st.store->stats(q);
    m->queue_length(name.endpoint, name.priority).Set(static_cast<double>(s->length));
    m->queue_bytes(name.endpoint, name.priority).Set(static_cast<double>(s->bytes));
  }
  m->used_bytes.Set(static_cast<double>(st.store->used_bytes()));
  m->quota_bytes.Set(static_cast<double>(st.store->limits().max_size_bytes));
  m->full.Set(st.refusing ? 1 : 0);
  m->disk_full.Set(st.space.disk_full ? 1 : 0);
  m->disk_free_bytes.Set(static_cast<double>(st.space.free_bytes));
  m->reserve_bytes.Set(static_cast<double>(st.space.reserve_bytes));
}

/// Asks the engine about the disk (which also lets it resume after ENOSPC) and ends a
/// refusal episode that freed space has ended.
void check_space(writer_state& st) {
  const bool was_full = st.space.disk_full;
  st.space = st.cfg.kv->check_space();
  if (st.space.disk_full != was_full) {
    if (st.space.disk_full) {
      spdlog::error(
          "[storage writer] the disk under the store is full ({} bytes free): "
          "appends are refused, publishers are not acknowledged",
          st.space.free_bytes);
    } else {
      spdlog::info("[storage writer] disk space is back ({} bytes free): appends resume",
                   st.space.free_bytes);
    }
  }
  if (st.refusing && !st.space.disk_full
      && (st.refused_for_disk || st.store->used_bytes() < st.used_at_refusal)) {
    st.refusing = false;
  }
}

void cleanup(writer_pointer self) {
  auto& st = self->state;
  check_space(st);
  auto r = st.store->cleanup_step(st.cfg.now_ms(), st.cfg.cleanup_budget);
  if (!r) {
    if (!quiet(st, r.error())) {
      spdlog::error("[storage writer] TTL cleanup failed: {}", r.error().message());
    }
  } else if (r->expired > 0) {
    const auto names = st.store->queues();
    for (const auto& [q, n] : r->expired_per_queue) {
      spdlog::debug("[storage writer] queue {}: {} entries expired", names[q - 1].first.endpoint,
                    n);
      if (auto* m = st.cfg.metrics.get()) {
        m->ttl_dropped(names[q - 1].first.endpoint).Increment(static_cast<double>(n));
      }
    }
  }
  publish_metrics(self);
}

/// Deletes expired entries a reader passed over (or a mailbox found expired in memory) and
/// counts them as TTL drops: the store says which were still there, so none counts twice.
void drop_expired(writer_pointer self, storage::queue_handle q,
                  const std::vector<storage::sequence>& seqs) {
  auto& st = self->state;
  auto r = st.store->drop_expired(q, seqs, st.cfg.now_ms());
  if (!r) {
    if (!quiet(st, r.error())) {
      spdlog::error("[storage writer] dropping expired entries failed: {}", r.error().message());
    }
    return;
  }
  if (*r > 0) {
    if (auto* m = st.cfg.metrics.get()) {
      const auto names = st.store->queues();
      m->ttl_dropped(names[q - 1].first.endpoint).Increment(static_cast<double>(*r));
    }
  }
}

store_report report(writer_state& st) {
  store_report rep;
  const auto now = st.cfg.now_ms();
  for (auto& [name, q] : st.store->queues()) {
    const auto stats = *st.store->stats(q);
    std::int64_t oldest = 0;
    if (stats.length > 0) {
      // One seek per non-empty queue: the first live entry after the checkpoint.
      if (auto head = st.store->read(q, stats.checkpoint + 1, 1, now); head && !head->empty()) {
        oldest = head->front().enqueued_ms;
      }
    }
    rep.queues.push_back({name, q, stats, oldest});
  }
  rep.used_bytes = st.store->used_bytes();
  rep.max_size_bytes = st.store->limits().max_size_bytes;
  check_space(st);
  rep.full = st.refusing;
  rep.disk_full = st.space.disk_full;
  rep.disk_free_bytes = st.space.free_bytes;
  rep.reserve_bytes = st.space.reserve_bytes;
  return rep;
}

writer_impl::behavior_type writer_behavior(writer_pointer self, storage_writer_config cfg,
                                           std::shared_ptr<storage::message_store> loaded) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.store.emplace(std::move(*loaded));
  st.sessions.emplace(*st.cfg.kv);
  if (st.cfg.cleanup_interval.count() > 0) {
    self->delayed_send(self, st.cfg.cleanup_interval, cleanup_atom::value);
  }
  // What arrived before the exit (the mailboxes' last checkpoints at a stop) is written first.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    commit_pass(self);
    self->quit(msg.reason);
  });
  return {
      [=](open_atom, const storage::queue_name& name) {
        auto q = self->state.store->open_queue(name);
        return q ? open_reply{{}, *q} : open_reply{q.error(), 0};
      },
      [=](append_atom, append_requests& reqs) {
        auto& s = self->state;
        auto rp = self->make_response_promise<append_outcomes>();
        s.promises.emplace_back(rp, reqs.size());
        std::move(reqs.begin(), reqs.end(), std::back_inserter(s.pending));
        schedule_flush(self);
        return rp; // answered by commit_appends, once durable
      },
      [=](ack_atom, ack_requests& acks) {
        auto& s = self->state;
        std::move(acks.begin(), acks.end(), std::back_inserter(s.acks));
        schedule_flush(self);
      },
      [=](flush_atom) {
        auto& s = self->state;
        const auto now = std::chrono::steady_clock::now();
        if (should_gather(s, now)) {
          // Blocking is the detached writer's to do: the appends that arrive meanwhile wait
          // in its mailbox, ahead of this second flush, and go in the same sync.
          s.gathered = true;
          std::this_thread::sleep_for(s.cfg.group_commit);
          self->send(self, flush_atom::value);
          return;
        }
        s.gathered = false;
        s.flush_scheduled = false;
        if (!s.pending.empty()) {
          s.last_commit = now; // the flush's own passes set the pace, not reads' commits
        }
        commit_pass(self);
      },
      [=](read_atom, storage::queue_handle q, storage::sequence from, std::uint32_t max) {
        auto& s = self->state;
        commit_pass(self); // a read sees every append and ack that arrived before it
        std::vector<storage::sequence> expired;
        auto r = s.store->read(q, from, max, s.cfg.now_ms(), &expired);
        if (!r) {
          return read_reply{r.error(), {}, 0};
        }
        if (!expired.empty()) {
          drop_expired(self, q, expired);
        }
        return read_reply{{}, std::move(*r), s.store->stats(q)->next};
      },
      [=](expired_atom, storage::queue_handle q, const std::vector<storage::sequence>& seqs) {
        commit_pass(self);
        drop_expired(self, q, seqs);
      },
      [=](subscribe_atom, storage::queue_handle q, const durable_listener_actor& mailbox) {
        self->state.listeners[q] = mailbox.address();
      },
      [=](records_atom, storage::write_batch& b, bool durable) {
        auto& s = self->state;
        s.records.append(std::move(b));
        s.records_durable = s.records_durable || durable;
        auto rp = self->make_response_promise<records_reply>();
        s.record_promises.push_back(rp);
        schedule_flush(self);
        return rp; // answered by commit_records, once written
      },
      [=](session_restore_atom, const std::string& client_id, bool clean) {
        auto& s = self->state;
        if (s.session_changes.count(client_id)) {
          commit_records(self); // the session's reads see its earlier changes
        }
        bool durable = false;
        const auto before = s.records.ops().size();
        auto info = s.sessions->restore(client_id, clean, s.records, durable);
        s.records_durable = s.records_durable || durable;
        if (s.records.ops().size() != before) {
          s.session_changes.insert(client_id);
          schedule_flush(self);
        }
        if (info.discarded) {
          spdlog::warn("[session directory {}] stored session unreadable, starting clean",
                       client_id);
        }
        return info;
      },
      [=](session_subs_atom, const std::string& client_id, const std::vector<std::string>& added,
          const std::vector<std::string>& removed) {
        auto& s = self->state;
        storage::session_store::change(client_id, added, removed, s.records);
        s.records_durable = true;
        s.session_changes.insert(client_id);
        schedule_flush(self);
      },
      [=](stats_atom) {
        commit_pass(self);
        return report(self->state);
      },
      [=](cleanup_atom) {
        cleanup(self);
        if (self->state.cfg.cleanup_interval.count() > 0) {
          self->delayed_send(self, self->state.cfg.cleanup_interval, cleanup_atom::value);
        }
      },
  };
}

} // namespace

result<writer_actor> spawn_storage_writer(caf::actor_system& sys, storage_writer_config cfg) {
  auto store = storage::message_store::open(*cfg.kv, {cfg.max_size_bytes});
  if (!store) {
    return store.error();
  }
  auto loaded = std::make_shared<storage::message_store>(std::move(*store));
  if (cfg.detached) {
    return writer_actor{
        sys.spawn<caf::detached>(writer_behavior, std::move(cfg), std::move(loaded))};
  }
  return writer_actor{sys.spawn(writer_behavior, std::move(cfg), std::move(loaded))};
}

} // namespace outpost::actors
