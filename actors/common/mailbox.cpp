#include "actors/common/mailbox.hpp"

#include "actors/common/messages.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <deque>
#include <map>

namespace outpost::actors {

namespace {

using storage::sequence;

struct mailbox_state {
  mailbox_config cfg;
  caf::actor consumer;
  /// Durable entries not yet delivered, oldest first, all >= next_read.
  std::deque<storage::stored_entry> buffer;
  /// Delivered entries -> acknowledged?; the front's predecessor is the checkpoint.
  std::map<sequence, bool> inflight;
  sequence next_read = 0; ///< first sequence not yet handed to the consumer
  /// True when buffer + inflight hold every live entry below `frontier`: new durable
  /// entries can then be queued from memory instead of being read back from the store.
  bool synced = false;
  sequence frontier = 0;
  bool reading = false;
  sequence checkpoint_pending = 0; ///< acknowledged prefix not yet sent to the writer
  bool drained_pending = false;    ///< the consumer waits for `drained_atom`

  static inline const char* name = "mailbox";
};

using mailbox_actor = caf::stateful_actor<mailbox_state>;

void pump(mailbox_actor* self);
void advance_checkpoint(mailbox_actor* self);

/// Takes durable entries in sequence order; drops from memory what the store can give back.
void on_durable(mailbox_actor* self, entries& es) {
  auto& st = self->state;
  for (auto& e : es) {
    if (!st.synced || e.seq < st.frontier) {
      continue; // the store has it; a read fetches it when its turn comes
    }
    if (e.seq > st.frontier || st.buffer.size() >= st.cfg.buffer_limit) {
      st.synced = false; // a gap, or no room: read from the store later
      continue;
    }
    st.frontier = e.seq + 1;
    st.buffer.push_back(std::move(e));
  }
  pump(self);
}

void read_backlog(mailbox_actor* self) {
  auto& st = self->state;
  st.reading = true;
  const sequence from = st.buffer.empty() ? st.next_read : st.buffer.back().seq + 1;
  const auto max = static_cast<std::uint32_t>(std::max<std::size_t>(st.cfg.window, 64));
  self->request(st.cfg.writer, caf::infinite, read_atom::value, st.cfg.queue, from, max)
      .then(
          [=](read_reply& r) {
            auto& s = self->state;
            s.reading = false;
            if (r.error) {
              spdlog::error("[mailbox {}] read failed: {}", s.cfg.queue, r.error.message());
              return;
            }
            const bool complete = r.entries.size() < max;
            for (auto& e : r.entries) {
              if (e.seq >= s.next_read && (s.buffer.empty() || e.seq > s.buffer.back().seq)) {
                s.buffer.push_back(std::move(e));
              }
            }
            if (complete) {
              s.synced = true;
              s.frontier = r.next;
            }
            pump(self);
          },
          [=](caf::error& err) {
            self->state.reading = false;
            spdlog::error("[mailbox {}] read failed: {}", self->state.cfg.queue,
                          self->system().render(err));
          });
}

void pump(mailbox_actor* self) {
  auto& st = self->state;
  if (!st.consumer) {
    return;
  }
  entries batch;
  const auto now = st.cfg.now_ms();
  std::vector<sequence> expired_seqs;
  while (st.inflight.size() < st.cfg.window) {
    if (st.buffer.empty()) {
      if (!st.synced && !st.reading) {
        read_backlog(self);
      }
      break;
    }
    auto e = std::move(st.buffer.front());
    st.buffer.pop_front();
    st.next_read = e.seq + 1;
    const bool expired = e.expires_ms != 0 && e.expires_ms <= now;
    st.inflight.emplace(e.seq, expired); // expired: never delivered, counts as done
    if (!expired) {
      batch.push_back(std::move(e));
    } else {
      expired_seqs.push_back(e.seq);
    }
  }
  if (!batch.empty()) {
    self->send(st.consumer, deliver_atom::value, st.cfg.queue, std::move(batch));
  }
  if (!expired_seqs.empty()) {
    // Before the checkpoint passes them: the writer deletes and counts them (TTL drops).
    self->send(st.cfg.writer, expired_atom::value, st.cfg.queue, std::move(expired_seqs));
    advance_checkpoint(self); // expired entries count as done now, not at the next ack
  }
  if (st.drained_pending && st.buffer.empty() && st.synced && !st.reading) {
    st.drained_pending = false;
    self->send(st.consumer, drained_atom::value, st.cfg.queue);
  }
}

/// Writes the contiguous acknowledged prefix as the checkpoint.
void advance_checkpoint(mailbox_actor* self) {
  auto& st = self->state;
  sequence done = 0;
  while (!st.inflight.empty() && st.inflight.begin()->second) {
    done = st.inflight.begin()->first;
    st.inflight.erase(st.inflight.begin());
  }
  if (done != 0) {
    // One checkpoint per burst of acks: the flush message queues behind the acks already in
    // this mailbox, so the writer hears the highest of them once.
    if (st.checkpoint_pending == 0) {
      self->send(self, flush_atom::value);
    }
    st.checkpoint_pending = done;
  }
}

void flush_checkpoint(mailbox_actor* self) {
  auto& st = self->state;
  if (st.checkpoint_pending != 0) {
    self->send(st.cfg.writer, ack_atom::value, ack_requests{{st.cfg.queue, st.checkpoint_pending}});
    st.checkpoint_pending = 0;
  }
}

/// The consumer went away: what it did not acknowledge goes out again, in order.
void rewind(mailbox_actor* self) {
  auto& st = self->state;
  advance_checkpoint(self);
  if (!st.inflight.empty()) {
    st.next_read = st.inflight.begin()->first;
  }
  st.inflight.clear();
  st.buffer.clear();
  st.synced = false;
  st.consumer = nullptr;
}

caf::behavior mailbox_behavior(mailbox_actor* self, mailbox_config cfg) {
  self->state.cfg = std::move(cfg);
  self->send(self->state.cfg.writer, subscribe_atom::value, self->state.cfg.queue,
             caf::actor{self});
  self->set_down_handler([=](const caf::down_msg& down) {
    if (down.source == self->state.consumer.address()) {
      rewind(self);
    }
  });
  return {
      [=](append_atom, std::vector<std::string>& bodies, std::int64_t ttl_ms) {
        auto& st = self->state;
        append_requests reqs;
        reqs.reserve(bodies.size());
        for (auto& b : bodies) {
          reqs.push_back({std::move(b), {{st.cfg.queue, ttl_ms}}});
        }
        auto rp = self->make_response_promise();
        self->request(st.cfg.writer, caf::infinite, append_atom::value, std::move(reqs))
            .then(
                // The writer tells this mailbox what became durable (subscribed at spawn).
                [=](append_outcomes& outs) mutable { rp.deliver(std::move(outs)); },
                [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
      },
      [=](durable_atom, entries& es) { on_durable(self, es); },
      [=](flush_atom) { flush_checkpoint(self); },
      [=](subscribe_atom, const caf::actor& consumer) {
        if (self->state.consumer) {
          self->demonitor(self->state.consumer);
          rewind(self);
        }
        self->state.consumer = consumer;
        self->state.drained_pending = true;
        self->monitor(consumer);
        pump(self);
      },
      [=](unsub_atom) {
        if (self->state.consumer) {
          self->demonitor(self->state.consumer);
          rewind(self);
        }
      },
      [=](ack_atom, sequence seq) {
        auto& st = self->state;
        auto i = st.inflight.find(seq);
        if (i == st.inflight.end()) {
          return; // unknown or already done: acks are idempotent
        }
        i->second = true;
        advance_checkpoint(self);
        pump(self);
      },
      [=](ack_atom, const std::vector<sequence>& seqs) { // a consumer's burst of acks
        auto& st = self->state;
        for (const auto seq : seqs) {
          if (auto i = st.inflight.find(seq); i != st.inflight.end()) {
            i->second = true;
          }
        }
        advance_checkpoint(self);
        pump(self);
      },
  };
}

} // namespace

caf::actor spawn_mailbox(caf::actor_system& sys, mailbox_config cfg) {
  return sys.spawn(mailbox_behavior, std::move(cfg));
}

} // namespace outpost::actors
