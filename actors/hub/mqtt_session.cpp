#include "actors/hub/mqtt_session.hpp"

#include "actors/common/messages.hpp"
#include "actors/hub/authenticator.hpp"
#include "actors/hub/hub_metrics.hpp"
#include "actors/hub/session_directory.hpp"
#include "protocols/common/log_escape.hpp"
#include "protocols/iothub/topics.hpp"
#include "protocols/mqtt/decoder.hpp"
#include "protocols/mqtt/encoder.hpp"
#include "protocols/mqtt/frame_splitter.hpp"
#include "protocols/transport/stream_server.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

namespace outpost::actors {

namespace {

/// A module-input message handed to the client and not yet acknowledged.
struct delivery {
  caf::actor mailbox;
  storage::sequence seq = 0;
};

struct session_state {
  /// First member, so destroyed last: the hub's shutdown waits until the connection is gone.
  std::shared_ptr<live_count::token> alive;
  std::shared_ptr<const hub_services> hub;
  std::shared_ptr<transport::stream_connection> conn;
  std::shared_ptr<frame_limit> limit; ///< shared with the I/O side's frame forwarder
  std::optional<mqtt::session> proto;
  iothub::client_identity who;
  /// The accepted CONNECT (its credentials): checked again when the identities change.
  std::optional<mqtt::connect> credentials;
  std::int64_t expires_s = 0; ///< the SAS token's expiry; 0 = none
  bool registered = false;
  bool closing = false;
  bool paused = false;              ///< the socket is not read (any of the reasons below)
  bool stalled = false;             ///< the store refused messages: retrying, socket not read
  bool out_full = false;            ///< the client does not read what it is sent
  std::size_t out_queued = 0;       ///< bytes queued for the client at the last look
  std::int64_t out_stuck_since = 0; ///< when the queue last failed to shrink while full
  std::string out;                  ///< bytes for the socket, flushed once per handler
  std::vector<std::string> subscriptions;
  std::shared_ptr<const hub_routes> routes;                   ///< keeps the attached bindings alive
  std::vector<std::shared_ptr<const hub_routes>> held_routes; ///< earlier ones, still attached
  bool inputs_wanted = false; ///< the module subscribed to its inputs
  std::unordered_map<storage::queue_handle, const endpoint_binding*> inputs; ///< subscribed
  /// Per input endpoint: lower-priority mailboxes waiting for the higher one to drain.
  std::map<std::string, std::vector<const endpoint_binding*>> waiting_inputs;
  std::unordered_map<std::uint64_t, delivery> inflight;
  std::uint64_t next_token = 1;
  std::int64_t tick_at = 0;
  prometheus::Counter* received = nullptr; ///< edgehub_messages_received_total, no output
  std::unordered_map<std::string, prometheus::Counter*> received_by_output; ///< capped
  prometheus::Counter* other_output_counter = nullptr; ///< outputs past the cap
  std::string last_output; ///< a module usually sends on one output: no lookup for it
  prometheus::Counter* last_output_counter = nullptr;
  prometheus::Summary* size = nullptr;
  std::unordered_map<std::string, std::pair<prometheus::Counter*, prometheus::Summary*>>
      sent_series;

  static inline const char* name = "mqtt_session";
};

using session_actor = caf::stateful_actor<session_state>;

void run(session_actor* self, mqtt::actions& acts);
void check_output(session_actor* self, std::size_t queued);

std::int64_t now(session_actor* self) {
  return self->state.hub->now_ms();
}

/// Keeps one timer per session. Deadlines only move later as packets arrive, so a pending
/// timer is left alone; when it fires, `on_tick` checks the real deadline and the next timer is
/// set from there (a timer per packet cost ~8% CPU and held memory for 1.5 x keepalive).
void schedule_tick(session_actor* self) {
  auto& st = self->state;
  const auto deadline = st.proto->next_deadline();
  if (st.closing || deadline == std::numeric_limits<std::int64_t>::max()
      || (st.tick_at != 0 && st.tick_at <= deadline)) {
    return;
  }
  st.tick_at = deadline;
  const auto wait = std::max<std::int64_t>(deadline - now(self), 0) + 10;
  self->delayed_send(self, std::chrono::milliseconds(wait), tick_atom::value);
}

void flush(session_actor* self) {
  auto& st = self->state;
  if (!st.out.empty()) {
    const auto queued = st.conn->send(std::move(st.out));
    st.out.clear();
    check_output(self, queued);
  }
}

void finish(session_actor* self) {
  auto& st = self->state;
  if (st.registered) {
    self->send(st.hub->directory, unregister_atom::value, st.who.id(), caf::actor{self});
    st.hub->metrics->disconnect.Add({{"id", st.who.id()}}).Increment();
    st.registered = false;
  }
  st.conn->close(true);
  self->quit();
}

/// Reads the socket only while nothing holds it back: publishes awaiting durability (resumed
/// at half the limit), the store refusing messages, or a client that does not read its output.
void set_paused(session_actor* self) {
  auto& st = self->state;
  const auto pending = st.proto->pending_in();
  const auto limit = st.hub->limits.max_pending_in;
  const bool hold =
      st.stalled || st.out_full || pending >= limit || (st.paused && pending > limit / 2);
  if (hold == st.paused) {
    return;
  }
  st.paused = hold;
  if (hold) {
    st.conn->pause_reading();
  } else {
    st.conn->resume_reading();
  }
}

/// The output queue is over its bound: input is not read until it drains to half; a client
/// whose queue does not shrink for `output_stall_ms` is disconnected.
void check_output(session_actor* self, std::size_t queued) {
  auto& st = self->state;
  const auto t = now(self);
  if (!st.out_full) {
    if (queued < st.hub->max_output_bytes) {
      return;
    }
    st.out_full = true;
    st.out_stuck_since = t;
    self->delayed_send(self, std::chrono::milliseconds(100), out_check_atom::value);
  } else if (queued <= st.hub->max_output_bytes / 2) {
    st.out_full = false;
  } else if (queued < st.out_queued) {
    st.out_stuck_since = t; // draining, if slowly
  }
  st.out_queued = queued;
}

/// Subscribes this session to input mailbox `b`.
void subscribe_input(session_actor* self, const endpoint_binding* b) {
  self->state.inputs.emplace(b->queue, b);
  self->send(b->mailbox, subscribe_atom::value, caf::actor{self});
}

/// Attaches this module client to the input mailboxes of the current routes. Of the priority
/// queues of one input, only the highest-priority one is subscribed at first; the next one
/// follows when that one reports its backlog drained, so a backlog arrives in priority order
/// (IoT Edge: "restart from the highest priority"). Mailboxes already attached stay attached:
/// messages stored under a removed route are still delivered.
void attach_inputs(session_actor* self) {
  auto& st = self->state;
  if (!st.who.is_module() || !st.inputs_wanted) {
    return;
  }
  auto current = st.hub->routes->get();
  if (current == st.routes) {
    return;
  }
  if (st.routes) {
    st.held_routes.push_back(std::move(st.routes)); // pointers in `inputs` point into it
  }
  st.routes = std::move(current);
  std::map<std::string, std::vector<const endpoint_binding*>> by_input;
  for (const auto* b : st.routes->inputs_of(st.who.id())) {
    if (!st.inputs.count(b->queue)) {
      by_input[b->endpoint_id].push_back(b); // bindings are ordered by (endpoint, priority)
    }
  }
  for (auto& [endpoint, bindings] : by_input) {
    const bool started = std::any_of(st.inputs.begin(), st.inputs.end(), [&](const auto& i) {
      return i.second->endpoint_id == endpoint;
    });
    if (started) { // new queues of an input already flowing (a route change): no backlog order
      for (const auto* b : bindings) {
        subscribe_input(self, b);
      }
      continue;
    }
    subscribe_input(self, bindings.front());
    st.waiting_inputs[endpoint].assign(bindings.begin() + 1, bindings.end());
  }
}

/// A mailbox sent its backlog: the next lower priority of the same input may start.
void on_drained(session_actor* self, storage::queue_handle q) {
  auto& st = self->state;
  auto i = st.inputs.find(q);
  if (i == st.inputs.end()) {
    return;
  }
  auto w = st.waiting_inputs.find(i->second->endpoint_id);
  if (w != st.waiting_inputs.end() && !w->second.empty()) {
    const auto* next = w->second.front();
    w->second.erase(w->second.begin());
    subscribe_input(self, next);
  }
}

void on_subscriptions_changed(session_actor* self, std::vector<std::string> added,
                              std::vector<std::string> removed) {
  auto& st = self->state;
  for (const auto& f : st.subscriptions) {
    if (iothub::classify_subscription(f) == iothub::subscription_kind::module_inputs) {
      st.inputs_wanted = true;
      attach_inputs(self);
    }
  }
  if (!added.empty() || !removed.empty()) {
    self->send(st.hub->directory, subs_atom::value, st.who.id(), std::move(added),
               std::move(removed));
  }
}

/// The label a refused CONNECT is counted under: the identity's id when the client id names a
/// registered one (a bounded set), else "unknown". Never the raw bytes of an unauthenticated
/// peer: each distinct value would be a permanent series (200 refused connects were +6 MB).
std::string refused_label(const identity_table& ids, const std::string& client_id) {
  auto i = ids.find(client_id);
  return i == ids.end() ? std::string{"unknown"} : i->first;
}

/// Schedules the end of the session at its token's expiry (IoT Hub closes it then).
void schedule_expiry(session_actor* self) {
  auto& st = self->state;
  if (st.expires_s <= 0) {
    return;
  }
  // A token is valid through its `se` second (expired once `se` is in the past).
  const auto wait = std::max<std::int64_t>((st.expires_s + 1) * 1000 - now(self), 0) + 5;
  self->delayed_send(self, std::chrono::milliseconds(wait), expire_atom::value);
}

/// The identities changed or the token's time is up: the accepted CONNECT must still pass
/// authentication against the current table and clock, else the session ends (disabled,
/// removed, re-keyed, expired).
void recheck_credentials(session_actor* self, bool expiry_timer) {
  auto& st = self->state;
  if (!st.credentials || st.closing) {
    return;
  }
  auto ids = st.hub->identities->get();
  const auth_settings settings{st.hub->hub_hostname, st.hub->hostname, now(self) / 1000};
  auto result = authenticate(*st.credentials, *ids, settings, st.conn->peer_cert());
  if (result.connack_code == 0) {
    if (expiry_timer) {
      schedule_expiry(self); // woke a little early: look again
    }
    return;
  }
  spdlog::info("[mqtt {} {}] session ended: {}", st.conn->peer_address(), st.who.id(),
               result.reason);
  st.hub->metrics->connect_failed.Add({{"id", st.who.id()}, {"reason", "revoked"}}).Increment();
  mqtt::actions acts;
  st.proto->end(mqtt::close_reason::revoked, acts);
  run(self, acts);
}

void on_authenticate(session_actor* self, const mqtt::connect& c) {
  auto& st = self->state;
  auto ids = st.hub->identities->get();
  const auth_settings settings{st.hub->hub_hostname, st.hub->hostname, now(self) / 1000};
  auto result = authenticate(c, *ids, settings, st.conn->peer_cert());
  mqtt::actions acts;
  if (result.connack_code != 0) {
    spdlog::info("[mqtt {} \"{}\"] connection refused: {}", st.conn->peer_address(),
                 log_escape(c.client_id), result.reason);
    st.hub->metrics->connect_failed
        .Add({{"id", refused_label(*ids, c.client_id)}, {"reason", result.reason}})
        .Increment();
    st.proto->refuse(result.connack_code, acts);
    run(self, acts);
    return;
  }
  st.who = result.who;
  st.credentials = c;
  st.expires_s = result.expires_s;
  st.proto->set_filter_policy([who = st.who](std::string_view filter) {
    return iothub::subscription_allowed(who, filter);
  });
  const bool clean = c.clean_session;
  self->request(st.hub->directory, std::chrono::seconds(30), register_atom::value, st.who.id(),
                caf::actor{self}, clean)
      .then(
          [=](session_info& info) {
            auto& s = self->state;
            s.registered = true;
            s.received = &s.hub->metrics->received.Add({{"id", s.who.id()}, {"route_output", ""}});
            s.hub->metrics->connect_success.Add({{"id", s.who.id()}}).Increment();
            spdlog::info("[mqtt {} {}] connected ({} session{})", s.conn->peer_address(),
                         s.who.id(), clean ? "clean" : "persistent",
                         info.present ? ", resumed" : "");
            mqtt::actions a;
            s.proto->accept(info.present, a);
            s.conn->authenticated();
            s.limit->store(s.hub->max_frame_bytes, std::memory_order_relaxed);
            const auto stored = info.subscriptions.size();
            s.subscriptions = s.proto->restore_subscriptions(std::move(info.subscriptions));
            schedule_expiry(self);
            run(self, a);
            if (!s.subscriptions.empty()) {
              // The SDK does not subscribe again; what the rules no longer grant is dropped.
              on_subscriptions_changed(self, {}, {});
            }
            if (s.subscriptions.size() != stored) {
              spdlog::info("[mqtt {}] {} stored subscriptions no longer granted", s.who.id(),
                           stored - s.subscriptions.size());
            }
          },
          [=](caf::error&) {
            mqtt::actions a;
            self->state.proto->refuse(3, a); // server unavailable
            run(self, a);
          });
}

/// Appends routed messages; PUBACKs follow durability. What the store refuses (quota, disk
/// full) is retried while the socket is not read: backpressure, never loss, never a PUBACK
/// for a message that is not stored.
void store(session_actor* self, append_requests reqs, std::vector<std::uint16_t> pids) {
  auto& st = self->state;
  self->request(st.hub->writer, caf::infinite, append_atom::value, std::move(reqs))
      .then([=](append_outcomes& outs) {
        auto& s = self->state;
        mqtt::actions a;
        append_requests retry;
        std::vector<std::uint16_t> retry_pids;
        for (std::size_t i = 0; i < outs.size(); ++i) {
          if (outs[i].error) {
            if (!s.stalled) {
              spdlog::warn("[mqtt {}] store refused a message ({}): not reading until it fits",
                           s.who.id(), outs[i].error.message());
              s.hub->metrics->unack.Add({{"reason", "storage_failure"}, {"from", s.who.id()}})
                  .Increment();
            }
            retry.push_back(std::move(outs[i].rejected));
            retry_pids.push_back(pids[i]);
          } else if (pids[i] != 0) {
            s.proto->persisted(pids[i], a);
          }
        }
        s.stalled = !retry.empty();
        if (s.stalled) {
          s.conn->pause_reading();
          s.paused = true;
          self->delayed_send(self, std::chrono::milliseconds(200), retry_atom::value,
                             std::move(retry), std::move(retry_pids));
        }
        run(self, a);
      });
}

/// Routes one batch of publishes into the mailboxes with one storage request; PUBACKs go out
/// once the writer says every target has them durably.
/// edgehub_messages_received_total{id, route_output}: one series per module output used.
void count_received(session_state& st, std::string_view output) {
  if (output.empty()) {
    st.received->Increment();
    return;
  }
  if (!st.last_output_counter || output != st.last_output) {
    st.last_output.assign(output);
    // Each output name is a series: past the cap, further names share "other" (and are not
    // remembered, so the map stays bounded too).
    if (auto found = st.received_by_output.find(st.last_output);
        found != st.received_by_output.end()) {
      st.last_output_counter = found->second;
    } else if (st.received_by_output.size() < st.hub->max_output_series) {
      st.last_output_counter =
          &st.hub->metrics->received.Add({{"id", st.who.id()}, {"route_output", st.last_output}});
      st.received_by_output.emplace(st.last_output, st.last_output_counter);
    } else {
      if (!st.other_output_counter) {
        st.other_output_counter =
            &st.hub->metrics->received.Add({{"id", st.who.id()}, {"route_output", "other"}});
      }
      st.last_output_counter = st.other_output_counter;
    }
  }
  st.last_output_counter->Increment();
}

void route(session_actor* self, std::vector<mqtt::publish>& batch) {
  auto& st = self->state;
  auto routes = st.hub->routes->get();
  append_requests reqs;
  std::vector<std::uint16_t> pids;
  std::vector<routing::route_target> targets;
  mqtt::actions acts;
  const auto batch_ms = now(self);
  const bool monitored = st.hub->monitor && st.hub->monitor->active(batch_ms);
  for (auto& p : batch) {
    if (!st.size) {
      // Created on the first publish: a summary holds ~20 KiB, too much for idle connections.
      st.size =
          &st.hub->metrics->message_size.Add({{"id", st.who.id()}}, hub_metrics::quantiles(),
                                             hub_metrics::window, hub_metrics::window_buckets);
    }
    st.size->Observe(static_cast<double>(p.payload.size()));
    routing::message msg;
    auto topic = iothub::parse_publish_topic(p.topic, st.who, msg);
    const bool telemetry = topic && topic->kind == iothub::inbound_kind::telemetry;
    count_received(st, msg.get(routing::system_property::output_name).value_or(""));
    if (!telemetry) {
      // Unknown topics are dropped as IoT Edge does; twins and methods come with their issue.
      const char* reason = topic ? "unsupported"
                           : topic.error() == iothub::errc::too_many_properties
                               ? "too_many_properties"
                               : "unknown_topic";
      st.hub->metrics->dropped.Add({{"reason", reason}, {"from", st.who.id()}}).Increment();
      if (p.qos == 1) {
        st.proto->persisted(p.packet_id, acts);
      }
      continue;
    }
    msg.body = std::move(p.payload);
    targets.clear();
    routes->table->match(msg, targets);
    if (monitored) {
      st.hub->monitor->record(msg, targets, batch_ms);
    }
    storage::append_request req;
    for (const auto& t : targets) {
      if (const auto* b = routes->find(t.target.id(st.hub->edge_device_id), t.priority)) {
        req.targets.push_back({b->queue, t.ttl_secs < 0 ? -1 : t.ttl_secs * 1000});
      }
    }
    if (req.targets.empty()) {
      const auto out_name = msg.get(routing::system_property::output_name).value_or("");
      // Only output names that have a series of their own label it (see count_received).
      const bool own = out_name.empty() || st.received_by_output.count(std::string{out_name}) != 0;
      st.hub->metrics->dropped
          .Add({{"reason", "no_route"},
                {"from", st.who.id()},
                {"from_route_output", own ? std::string{out_name} : std::string{"other"}}})
          .Increment();
      if (p.qos == 1) {
        st.proto->persisted(p.packet_id, acts);
      }
      continue;
    }
    req.body = routing::encode(msg);
    reqs.push_back(std::move(req));
    pids.push_back(p.qos == 1 ? p.packet_id : 0);
  }
  run(self, acts);
  if (reqs.empty()) {
    return;
  }
  store(self, std::move(reqs), std::move(pids));
}

/// edgehub_messages_sent_total and edgehub_message_process_duration_seconds, with the series
/// of each (sender, input) looked up once per session.
void count_sent(session_state& st, const routing::message& msg, const endpoint_binding& b,
                std::int64_t enqueued_ms) {
  const auto device = msg.get(routing::system_property::connection_device_id).value_or("");
  const auto module = msg.get(routing::system_property::connection_module_id).value_or("");
  auto output = msg.get(routing::system_property::output_name).value_or("");
  auto key = std::string{device} + "/" + std::string{module} + "/" + std::string{output} + "|"
             + b.target.input;
  if (st.sent_series.size() >= 4 * st.hub->max_output_series && !st.sent_series.count(key)) {
    // Senders' output names are labels too: past the cap they share "other".
    output = "other";
    key = std::string{device} + "/" + std::string{module} + "/other|" + b.target.input;
  }
  auto& series = st.sent_series[key];
  if (!series.first) {
    const auto from =
        module.empty() ? std::string{device} : std::string{device} + "/" + std::string{module};
    const auto priority = std::to_string(b.priority);
    series.first = &st.hub->metrics->sent.Add({{"from", from},
                                               {"to", st.who.id()},
                                               {"from_route_output", std::string{output}},
                                               {"to_route_input", b.target.input},
                                               {"priority", priority}});
    series.second = &st.hub->metrics->process_duration.Add(
        {{"from", from}, {"to", st.who.id()}, {"priority", priority}}, hub_metrics::quantiles(),
        hub_metrics::window, hub_metrics::window_buckets);
  }
  series.first->Increment();
  if (enqueued_ms > 0) {
    series.second->Observe(static_cast<double>(st.hub->now_ms() - enqueued_ms) / 1000.0);
  }
}

void deliver(session_actor* self, storage::queue_handle q, entries& es) {
  auto& st = self->state;
  auto binding = st.inputs.find(q);
  if (binding == st.inputs.end() || st.closing) {
    return; // not ours (any more): the mailbox redelivers once we are gone
  }
  mqtt::actions acts;
  for (auto& e : es) {
    auto msg = routing::decode(e.body);
    if (!msg) {
      spdlog::error("[mqtt {}] undecodable stored message {} dropped", st.who.id(), e.id);
      self->send(binding->second->mailbox, ack_atom::value, std::vector<storage::sequence>{e.seq});
      continue;
    }
    const auto topic = iothub::module_input_topic(st.who, binding->second->target.input, *msg);
    const auto token = st.next_token++;
    if (!st.proto->publish_out(topic, std::move(msg->body), token, acts)) {
      break; // window full: unacknowledged entries come again after a reconnect
    }
    st.inflight.emplace(token, delivery{binding->second->mailbox, e.seq});
    count_sent(st, *msg, *binding->second, e.enqueued_ms);
  }
  run(self, acts);
}

/// Carries out what the protocol state machine asked for.
void run(session_actor* self, mqtt::actions& acts) {
  auto& st = self->state;
  std::vector<mqtt::publish> batch;
  bool subs_changed = false;
  std::vector<std::string> added;
  std::vector<std::string> removed;
  // PUBACKs of one pass go to each mailbox as one message (one actor hop per burst, not per
  // message).
  std::vector<std::pair<caf::actor, std::vector<storage::sequence>>> acked_by;
  for (auto& a : acts) {
    if (auto* send = std::get_if<mqtt::send_action>(&a)) {
      mqtt::encode(send->p, st.out);
    } else if (auto* auth = std::get_if<mqtt::authenticate_action>(&a)) {
      on_authenticate(self, auth->c);
    } else if (auto* pub = std::get_if<mqtt::publish_action>(&a)) {
      batch.push_back(std::move(pub->p));
    } else if (auto* sub = std::get_if<mqtt::subscribe_action>(&a)) {
      for (auto& [filter, qos] : sub->filters) {
        added.push_back(filter); // only new, granted filters (the protocol state decides)
      }
      subs_changed = true;
    } else if (auto* unsub = std::get_if<mqtt::unsubscribe_action>(&a)) {
      for (auto& f : unsub->filters) {
        removed.push_back(std::move(f));
      }
      subs_changed = true;
    } else if (auto* acked = std::get_if<mqtt::acked_action>(&a)) {
      if (auto d = st.inflight.find(acked->token); d != st.inflight.end()) {
        auto to = std::find_if(acked_by.begin(), acked_by.end(),
                               [&](const auto& m) { return m.first == d->second.mailbox; });
        if (to == acked_by.end()) {
          acked_by.emplace_back(d->second.mailbox, std::vector<storage::sequence>{});
          to = std::prev(acked_by.end());
        }
        to->second.push_back(d->second.seq);
        st.inflight.erase(d);
      }
    } else if (auto* close = std::get_if<mqtt::close_action>(&a)) {
      st.closing = true;
      spdlog::debug("[mqtt {}] closing ({})", st.who.id(), static_cast<int>(close->why));
    }
  }
  for (auto& [mailbox, seqs] : acked_by) {
    self->send(mailbox, ack_atom::value, std::move(seqs));
  }
  if (subs_changed) {
    st.subscriptions = st.proto->subscriptions();
    if (st.registered) {
      on_subscriptions_changed(self, std::move(added), std::move(removed));
    }
  }
  if (!batch.empty() && !st.closing) {
    route(self, batch);
  }
  flush(self);
  if (st.closing) {
    finish(self);
    return;
  }
  set_paused(self);
  schedule_tick(self);
}

void on_data(session_actor* self, const std::string& chunk) {
  auto& st = self->state;
  mqtt::actions acts;
  std::string_view rest{chunk};
  const auto t = now(self);
  while (!rest.empty() && st.proto->current() != mqtt::session::state::closed) {
    auto split = mqtt::split_frame(rest, st.hub->max_frame_bytes);
    if (!split || split->frame_size == 0) {
      st.proto->on_decode_error(
          split ? std::make_error_code(std::errc::bad_message) : split.error(), acts);
      break;
    }
    auto pkt = mqtt::decode(rest.substr(0, split->frame_size));
    rest.remove_prefix(split->frame_size);
    if (!pkt) {
      spdlog::info("[mqtt {} {}] malformed packet: {}", st.conn->peer_address(), st.who.id(),
                   pkt.error().message());
      st.proto->on_decode_error(pkt.error(), acts);
      break;
    }
    st.proto->on_packet(std::move(*pkt), t, acts);
  }
  run(self, acts);
}

caf::behavior session_behavior(session_actor* self, std::shared_ptr<const hub_services> hub,
                               std::shared_ptr<transport::stream_connection> conn,
                               std::shared_ptr<frame_limit> limit,
                               std::shared_ptr<live_count::token> alive) {
  auto& st = self->state;
  st.alive = std::move(alive);
  st.hub = std::move(hub);
  st.conn = std::move(conn);
  st.limit = std::move(limit);
  // The CONNECT deadline counts from the TCP accept: the TLS handshake is part of it.
  const auto since_accept = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - st.conn->accepted_at())
                                .count();
  st.proto.emplace(st.hub->limits, now(self) - std::max<std::int64_t>(since_accept, 0));
  if (st.hub->sessions) {
    self->join(st.hub->sessions);
  }
  schedule_tick(self);
  return {
      [=](data_atom, const std::string& chunk) { on_data(self, chunk); },
      [=](frame_error_atom, std::error_code ec) {
        mqtt::actions acts;
        self->state.proto->on_decode_error(ec, acts);
        run(self, acts);
      },
      [=](closed_atom) {
        self->state.closing = true;
        finish(self);
      },
      [=](take_over_atom) {
        self->state.registered = false; // the directory already points at the new session
        mqtt::actions acts;
        self->state.proto->take_over(acts);
        run(self, acts);
      },
      [=](deliver_atom, storage::queue_handle q, entries& es) { deliver(self, q, es); },
      [=](drained_atom, storage::queue_handle q) { on_drained(self, q); },
      [=](routes_atom) { attach_inputs(self); },
      [=](retry_atom, append_requests& reqs, std::vector<std::uint16_t>& pids) {
        if (!self->state.closing) {
          self->state.paused = true; // resumed by set_paused once the backlog drains
          store(self, std::move(reqs), std::move(pids));
        }
      },
      [=](identities_atom) { recheck_credentials(self, false); },
      [=](expire_atom) { recheck_credentials(self, true); },
      [=](out_check_atom) {
        auto& st = self->state;
        if (st.closing || !st.out_full) {
          return;
        }
        check_output(self, st.conn->send({}));
        if (st.out_full && now(self) - st.out_stuck_since >= st.hub->output_stall_ms) {
          spdlog::info("[mqtt {} {}] disconnected: {} bytes unread for {} ms",
                       st.conn->peer_address(), st.who.id(), st.out_queued,
                       st.hub->output_stall_ms);
          mqtt::actions acts;
          st.proto->end(mqtt::close_reason::output_stalled, acts);
          run(self, acts);
          return;
        }
        if (st.out_full) {
          self->delayed_send(self, std::chrono::milliseconds(100), out_check_atom::value);
        }
        set_paused(self);
      },
      [=](tick_atom) {
        self->state.tick_at = 0;
        mqtt::actions acts;
        self->state.proto->on_tick(now(self), acts);
        run(self, acts);
      },
  };
}

} // namespace

caf::actor spawn_mqtt_session(caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
                              std::shared_ptr<transport::stream_connection> conn,
                              std::shared_ptr<frame_limit> limit) {
  // Counted before the spawn returns, so a shutdown racing with an accept still waits for it.
  std::shared_ptr<live_count::token> alive;
  if (hub->live) {
    alive = hub->live->enter();
  }
  return sys.spawn(session_behavior, std::move(hub), std::move(conn), std::move(limit),
                   std::move(alive));
}

} // namespace outpost::actors
