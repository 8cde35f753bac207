#include "actors/common/mailbox.hpp"

#include "actors/common/messages.hpp"
#include "routing/endpoint/endpoint_machine.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

namespace outpost::actors {

namespace {

using storage::sequence;

/// The machine's retry timer (internal: only the mailbox sends it to itself).
using mailbox_retry_atom = caf::atom_constant<caf::atom("mbretry")>;

using machine = routing::endpoint_machine<storage::stored_entry>;

struct mailbox_state {
  /// First member, so released last: the hub's stop waits for it (mailbox_config::live).
  std::unique_ptr<live_count::token> alive;
  mailbox_config cfg;
  consumer_actor consumer;
  machine fsm;
  machine::actions out; ///< reused from event to event

  static inline const char* name = "mailbox";
};

/// The public interface plus the mailbox's own flush and retry timer.
using mailbox_impl = mailbox_actor::extend<caf::reacts_to<flush_atom>,
                                           caf::reacts_to<mailbox_retry_atom, std::uint64_t>>;
using mailbox_pointer = mailbox_impl::stateful_pointer<mailbox_state>;

void start_read(mailbox_pointer self, const routing::endpoint_read& rd);

/// Carries out what the machine decided, in its order (endpoint_actions).
void carry_out(mailbox_pointer self) {
  auto& st = self->state;
  auto& out = st.out;
  if (!out.expired.empty()) {
    // Before the checkpoint passes them: the writer deletes and counts them (TTL drops).
    self->send(st.cfg.writer, expired_atom::value, st.cfg.queue, std::move(out.expired));
  }
  if (st.consumer) {
    if (!out.deliver.empty()) {
      self->send(st.consumer, deliver_atom::value, st.cfg.queue, std::move(out.deliver));
    }
    if (out.drained) {
      self->send(st.consumer, drained_atom::value, st.cfg.queue);
    }
  }
  if (out.checkpoint != 0) {
    self->send(st.cfg.writer, ack_atom::value, ack_requests{{st.cfg.queue, out.checkpoint}});
  }
  if (out.flush) {
    // One checkpoint per burst of acks: the flush message queues behind the acks already in
    // this mailbox, so the writer hears the highest of them once; with an interval, the burst
    // is every ack until the timer fires.
    if (st.cfg.checkpoint_interval.count() > 0) {
      self->delayed_send(self, st.cfg.checkpoint_interval, flush_atom::value);
    } else {
      self->send(self, flush_atom::value);
    }
  }
  if (out.read) {
    start_read(self, *out.read);
  }
  if (out.retry) {
    const auto wait = std::max<std::int64_t>(out.retry->at_ms - st.cfg.now_ms(), 0);
    self->delayed_send(self, std::chrono::milliseconds(wait), mailbox_retry_atom::value,
                       out.retry->token);
  }
  out.clear();
}

void start_read(mailbox_pointer self, const routing::endpoint_read& rd) {
  const auto ticket = rd.ticket;
  self->request(self->state.cfg.writer, caf::infinite, read_atom::value, self->state.cfg.queue,
                rd.from, rd.max)
      .then(
          [=](read_reply& r) {
            auto& s = self->state;
            if (r.error) {
              spdlog::error("[mailbox {}] read failed: {}", s.cfg.queue, r.error.message());
              s.fsm.on_read_failed(ticket, s.cfg.now_ms(), s.out);
            } else {
              s.fsm.on_read(ticket, r.entries, r.next, s.cfg.now_ms(), s.out);
            }
            carry_out(self);
          },
          [=](caf::error& err) {
            auto& s = self->state;
            spdlog::error("[mailbox {}] read failed: {}", s.cfg.queue, self->system().render(err));
            s.fsm.on_read_failed(ticket, s.cfg.now_ms(), s.out);
            carry_out(self);
          });
}

void drop_consumer(mailbox_pointer self) {
  auto& st = self->state;
  if (st.consumer) {
    self->demonitor(st.consumer.address());
    st.consumer = nullptr;
  }
  st.fsm.on_consumer_lost(st.out);
  carry_out(self);
}

mailbox_impl::behavior_type mailbox_behavior(mailbox_pointer self, mailbox_config cfg) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  routing::endpoint_config ec;
  ec.window = st.cfg.window;
  ec.buffer_limit = st.cfg.buffer_limit;
  ec.read_batch = 64;
  ec.retry = st.cfg.retry;
  st.fsm = machine{ec};
  if (st.cfg.live) {
    st.alive = st.cfg.live->enter();
  }
  self->send(st.cfg.writer, subscribe_atom::value, st.cfg.queue, durable_listener_actor{self});
  // Told to exit (the hub stops): the checkpoint a timer would have written goes to the writer
  // now, ahead of the writer's own exit, so a restart does not deliver acknowledged messages
  // again.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    self->state.fsm.on_flush(self->state.out);
    carry_out(self);
    self->quit(msg.reason);
  });
  self->set_down_handler([=](const caf::down_msg& down) {
    if (self->state.consumer && down.source == self->state.consumer.address()) {
      drop_consumer(self);
    }
  });
  return {
      [=](append_atom, std::vector<std::string>& bodies, std::int64_t ttl_ms) {
        auto& s = self->state;
        append_requests reqs;
        reqs.reserve(bodies.size());
        for (auto& b : bodies) {
          reqs.push_back({std::move(b), {{s.cfg.queue, ttl_ms}}});
        }
        auto rp = self->make_response_promise<append_outcomes>();
        self->request(s.cfg.writer, caf::infinite, append_atom::value, std::move(reqs))
            .then(
                // The writer tells this mailbox what became durable (subscribed at spawn).
                [=](append_outcomes& outs) mutable { rp.deliver(std::move(outs)); },
                [=](caf::error& err) mutable { rp.deliver(std::move(err)); });
        return rp;
      },
      [=](durable_atom, entries& es) {
        auto& s = self->state;
        s.fsm.on_durable(es, s.cfg.now_ms(), s.out);
        carry_out(self);
      },
      [=](flush_atom) {
        auto& s = self->state;
        s.fsm.on_flush(s.out);
        carry_out(self);
      },
      [=](subscribe_atom, const consumer_actor& consumer) {
        auto& s = self->state;
        if (s.consumer) {
          self->demonitor(s.consumer.address()); // a new consumer takes over; the machine rewinds
        }
        s.consumer = consumer;
        self->monitor(consumer);
        s.fsm.on_subscribe(s.cfg.now_ms(), s.out);
        carry_out(self);
      },
      [=](unsub_atom) {
        if (self->state.consumer) {
          drop_consumer(self);
        }
      },
      [=](ack_atom, sequence seq) {
        auto& s = self->state;
        s.fsm.on_ack(seq, s.cfg.now_ms(), s.out);
        carry_out(self);
      },
      [=](ack_atom, const std::vector<sequence>& seqs) { // a consumer's burst of acks
        auto& s = self->state;
        s.fsm.on_ack(seqs, s.cfg.now_ms(), s.out);
        carry_out(self);
      },
      [=](nack_atom, sequence seq) {
        auto& s = self->state;
        s.fsm.on_nack(seq, s.cfg.now_ms(), s.out);
        carry_out(self);
      },
      [=](mailbox_retry_atom, std::uint64_t token) {
        auto& s = self->state;
        s.fsm.on_retry_timer(token, s.cfg.now_ms(), s.out);
        carry_out(self);
      },
  };
}

} // namespace

mailbox_actor spawn_mailbox(caf::actor_system& sys, mailbox_config cfg) {
  return mailbox_actor{sys.spawn(mailbox_behavior, std::move(cfg))};
}

} // namespace outpost::actors
