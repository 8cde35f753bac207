#include "actors/hub/amqp_session.hpp"

#include "actors/common/messages.hpp"
#include "actors/hub/authenticator.hpp"
#include "actors/hub/hub_metrics.hpp"
#include "actors/hub/session_directory.hpp"
#include "actors/hub/session_metrics.hpp"
#include "actors/hub/session_ticker.hpp"
#include "protocols/amqp/hub_connection.hpp"
#include "protocols/amqp/message_map.hpp"
#include "protocols/common/log_escape.hpp"
#include "protocols/hub/hub_session.hpp"
#include "protocols/iothub/sas.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/stream_server.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <atomic>
#include <limits>
#include <map>
#include <optional>

namespace outpost::actors {

namespace {

/// One identity authenticated on the connection: its own session core (routing, durability,
/// acknowledgements in arrival order) and a proxy actor that stands for it where the hub's
/// services expect one session per identity (directory take-over, desired pushes, method calls):
/// it forwards what they send, tagged with the identity, to the connection's actor.
struct identity_slot {
  iothub::client_identity who;
  std::optional<session_metrics> metrics; ///< before `core`, which points at it
  std::optional<hub::hub_session> core;
  caf::actor proxy;
  bool registered = false;        ///< with the session directory
  bool c2d_requested = false;     ///< the device's C2D queue was asked for
  bool watching_desired = false;  ///< registered with the twins for desired patches
  bool listening_methods = false; ///< registered with the method router
  std::size_t twins_in_flight = 0;
};

constexpr std::size_t max_twin_requests_in_flight = 16;

/// Bytes the I/O side handed the connection's actor and it has not processed yet.
struct inbound_bytes {
  static constexpr std::size_t limit = 1u << 20;
  std::atomic<std::size_t> bytes{0};
  std::atomic<bool> paused{false}; ///< the forwarder paused reading for it
};

struct amqp_state {
  /// First member, so destroyed last: the hub's shutdown waits until the connection is gone.
  std::shared_ptr<live_count::token> alive;
  std::shared_ptr<const hub_services> hub;
  std::shared_ptr<transport::stream_connection> conn;
  std::optional<amqp::hub_connection> proto;
  std::map<std::string, identity_slot> identities;     ///< by identity id
  std::map<storage::queue_handle, std::string> queues; ///< attached mailboxes: whose
  bool paused = false;
  std::shared_ptr<inbound_bytes> inbound; ///< shared with the connection's byte forwarder
  bool closing = false;
  std::int64_t tick_at = 0;
  session_ticker::handle tick_handle = 0; ///< the pending tick's entry with the hub's ticker
  /// The peer must have authenticated something (an identity, the service policy) by then
  /// (ms, wall clock): an AMQP open alone does not hold a connection.
  std::int64_t open_deadline = 0;
  bool authenticated_once = false;

  static inline const char* name = "amqp_session";
};

using amqp_actor = caf::stateful_actor<amqp_state>;

std::int64_t now(amqp_actor* self) {
  return self->state.hub->now_ms();
}

std::string label(const amqp_state& st) {
  return st.conn->peer_address();
}

void pump(amqp_actor* self, amqp::events evs, const std::string& identity = {},
          hub::actions hacts = {});
void drop_identity(amqp_actor* self, const std::string& id);

/// The checks of an MQTT CONNECT, on the identity a CBS audience or a SASL user name names.
amqp::auth_verdict check_credentials(const hub_services& hub,
                                     const std::optional<transport::peer_certificate>& cert,
                                     const iothub::client_identity& who, const std::string& token,
                                     std::string_view auth_chain, std::int64_t now_ms) {
  if (who.device_id.empty()) {
    // The service policy (azure-iothub's Client.send): `skn` names it, signed with its key.
    const auto key = hub.service_key ? hub.service_key->get() : nullptr;
    auto parsed = iothub::parse_sas_token(token);
    if (!key || key->empty() || !parsed) {
      return {false, "not a service token", 0, true};
    }
    auto ok = iothub::verify_service_token(
        *parsed, {hub.hub_hostname, hub.hostname, "iothubowner", *key, now_ms / 1000},
        [](std::string_view k, std::string_view d) { return transport::hmac_sha256(k, d); });
    if (!ok) {
      return {false, "service token refused: " + ok.error().message(), 0, true};
    }
    return {true, {}, parsed->expiry, true};
  }
  auto snapshot = hub.identities->get();
  const auth_settings settings{hub.hub_hostname, hub.hostname, now_ms / 1000};
  const auto r = authenticate_identity(who, token, *snapshot, settings, cert, auth_chain);
  if (r.connack_code != 0) {
    // Labelled with the identity only when it is registered (a bounded set), as for MQTT.
    const bool known = snapshot->find(who.id()) != snapshot->end();
    hub.metrics->connect_failed.Add({{"id", known ? who.id() : "unknown"}, {"reason", r.reason}})
        .Increment();
    return {false, r.reason, 0, false};
  }
  return {true, {}, r.expires_s, false};
}

void store(amqp_actor* self, const std::string& identity, hub::append_action a) {
  auto& st = self->state;
  self->request(st.hub->writer, caf::infinite, append_atom::value, std::move(a.requests))
      .then([=, batch = a.batch](append_outcomes& outs) {
        auto slot = self->state.identities.find(identity);
        if (slot == self->state.identities.end()) {
          return;
        }
        hub::actions h;
        slot->second.core->on_stored(batch, std::move(outs), now(self), h);
        pump(self, {}, identity, std::move(h));
      });
}

/// Carries out what an identity's core asked for.
void carry_hub(amqp_actor* self, const std::string& identity, hub::actions& hacts) {
  auto& st = self->state;
  for (auto& a : hacts) {
    if (auto* ack = std::get_if<hub::ack_action>(&a)) {
      st.proto->settle(ack->tag, amqp::outcome::accepted);
    } else if (auto* append = std::get_if<hub::append_action>(&a)) {
      store(self, identity, std::move(*append));
    } else if (auto* release = std::get_if<hub::release_action>(&a)) {
      self->send(mailbox_of(*release->mailbox), ack_atom::value, std::move(release->seqs));
    } else if (auto* attach = std::get_if<hub::attach_action>(&a)) {
      st.queues[attach->mailbox->queue] = identity;
      self->send(mailbox_of(*attach->mailbox), subscribe_atom::value,
                 caf::actor_cast<consumer_actor>(caf::actor{self}));
    } else if (auto* d = std::get_if<hub::deliver_action>(&a)) {
      auto slot = st.identities.find(identity);
      if (slot == st.identities.end()) {
        continue;
      }
      if (!d->from->device_bound) {
        d->msg.set(routing::system_property::input_name, d->from->target.input);
      }
      st.proto->deliver(slot->second.who,
                        d->from->device_bound ? amqp::outbound::c2d : amqp::outbound::inputs,
                        d->msg, d->token, d->delivery_count);
    }
  }
}

/// Stands for one identity of a connection: forwards with the identity's id.
caf::behavior identity_proxy(caf::event_based_actor* self, caf::actor owner, std::string id) {
  return {
      [=](take_over_atom a) { self->send(owner, a, id); },
      [=](desired_atom a, std::int64_t version, std::string& patch) {
        self->send(owner, a, version, std::move(patch), id);
      },
      [=](method_request_atom a, std::string& rid, std::string& method, std::string& payload) {
        self->send(owner, a, std::move(rid), std::move(method), std::move(payload), id);
      },
  };
}

identity_slot& slot_of(amqp_actor* self, const iothub::client_identity& who) {
  auto& st = self->state;
  auto [it, fresh] = st.identities.try_emplace(who.id());
  if (fresh) {
    auto& slot = it->second;
    slot.who = who;
    slot.metrics.emplace(*st.hub, "amqp");
    slot.metrics->set_identity(who);
    slot.core.emplace(core_settings(*st.hub), &*slot.metrics);
    st.hub->metrics->connect_success.Add({{"id", who.id()}}).Increment();
    // The connection core ends an identity's links when its token expires; this core keeps
    // no expiry of its own.
    slot.core->open(who, 0);
    slot.proxy = self->spawn<caf::linked>(identity_proxy, caf::actor{self}, who.id());
    spdlog::info("[amqp {} {}] authenticated", label(st), who.id());
    // One identity, one live session: an MQTT or AMQP session of the same identity elsewhere
    // is taken over (and this one is, by a later connection).
    const auto id = who.id();
    self->request(st.hub->directory, std::chrono::seconds(30), register_atom::value, id,
                  caf::actor_cast<directory_session_actor>(slot.proxy), true)
        .then(
            [self, id](session_info&) {
              auto s = self->state.identities.find(id);
              if (s != self->state.identities.end()) {
                s->second.registered = true;
              }
            },
            [](caf::error&) {});
  }
  return it->second;
}

template <class Handle, class On, class Off>
void set_interest(amqp_actor* self, identity_slot& slot, const Handle& service, bool& registered,
                  bool want, On on, Off off) {
  if (want == registered || !service) {
    return;
  }
  registered = want;
  if (want) {
    self->send(service, on, slot.who.id(), slot.proxy);
  } else {
    self->send(service, off, slot.who.id(), slot.proxy);
  }
}

/// A client attached (or detached) a receiving link: what the hub starts (or stops) sending.
void on_link(amqp_actor* self, const amqp::link_event& e) {
  auto& st = self->state;
  auto& slot = slot_of(self, e.who);
  hub::actions h;
  switch (e.kind) {
    case amqp::outbound::inputs:
      if (e.attached) {
        slot.core->want_inputs(st.hub->routes->get(), h);
      }
      break;
    case amqp::outbound::c2d:
      if (e.attached && !slot.c2d_requested && !e.who.is_module() && st.hub->c2d) {
        slot.c2d_requested = true;
        const auto id = e.who.id();
        self->request(st.hub->c2d, std::chrono::seconds(30), c2d_open_atom::value, e.who.device_id)
            .then(
                [self, id](c2d_queue& q) {
                  auto s = self->state.identities.find(id);
                  if (s == self->state.identities.end() || q.error || !q.binding) {
                    return;
                  }
                  hub::actions h2;
                  s->second.core->want_c2d(std::move(q.binding), h2);
                  pump(self, {}, id, std::move(h2));
                },
                [](caf::error&) {});
      }
      break;
    case amqp::outbound::methods:
      set_interest(self, slot, st.hub->methods, slot.listening_methods, e.attached,
                   method_listen_atom::value, method_unlisten_atom::value);
      break;
    case amqp::outbound::twin:
      if (!e.attached) {
        set_interest(self, slot, st.hub->twins, slot.watching_desired, false,
                     twin_watch_atom::value, twin_unwatch_atom::value);
      }
      break;
  }
  carry_hub(self, slot.who.id(), h);
}

/// A service caller's C2D message: into the device's queue (durably), then settled: accepted
/// once queued, rejected when the queue refuses it (full: IoT Hub's 403004).
void send_c2d(amqp_actor* self, amqp::c2d_send_event& e) {
  auto& st = self->state;
  std::int64_t ttl_ms = 3600 * 1000; // IoT Hub's default C2D TTL
  if (auto exp = e.msg.get(routing::system_property::absolute_expiry_time)) {
    if (auto at = amqp::parse_iso8601_ms(std::string{*exp})) {
      ttl_ms = std::max<std::int64_t>(1, *at - now(self));
    }
  }
  const auto delivery = e.delivery;
  // A refusal says why in the rejection's condition (the queue's answer: IoT Hub's error
  // body, e.g. 403004 for a full queue).
  auto settle = [self, delivery](bool ok, const std::string& why) {
    self->state.proto->settle(delivery, ok ? amqp::outcome::accepted : amqp::outcome::rejected,
                              why);
    pump(self, {});
  };
  self->request(st.hub->c2d, std::chrono::seconds(30), c2d_send_atom::value, e.device_id,
                std::move(e.msg), ttl_ms)
      .then([settle](c2d_reply& r) { settle(r.http_status / 100 == 2, r.body); },
            [settle](caf::error&) { settle(false, "the device's queue did not answer"); });
}

/// A twin request on the twin link (wire §3.5): GET, PATCH reported, PUT/DELETE the desired
/// notifications. Answered on the twin link with the request's correlation id.
void on_twin(amqp_actor* self, amqp::twin_request_event& e) {
  auto& st = self->state;
  auto& slot = slot_of(self, e.who);
  const auto who = e.who;
  const auto correlation = e.correlation;
  if (e.op == "PUT" || e.op == "DELETE") {
    set_interest(self, slot, st.hub->twins, slot.watching_desired, e.op == "PUT",
                 twin_watch_atom::value, twin_unwatch_atom::value);
    st.proto->twin_response(who, correlation, 200, {}, 0);
    return;
  }
  const bool patch = e.op == "PATCH";
  if (!patch && e.op != "GET") {
    st.proto->twin_response(who, correlation, 400, R"({"message":"unknown twin operation"})", 0);
    return;
  }
  if (slot.twins_in_flight >= max_twin_requests_in_flight) {
    st.proto->twin_response(who, correlation, 429,
                            R"({"message":"too many twin requests in flight"})", 0);
    return;
  }
  ++slot.twins_in_flight;
  const auto id = who.id();
  const auto started = std::chrono::steady_clock::now();
  auto answer = [self, id, correlation, patch, started,
                 body = patch ? e.body : std::string{}](twin_reply r) mutable {
    auto s = self->state.identities.find(id);
    if (s == self->state.identities.end()) {
      return;
    }
    --s->second.twins_in_flight;
    count_twin_request(*self->state.hub->metrics, !patch, id,
                       std::chrono::steady_clock::now() - started);
    hub::actions h;
    const bool accepted = patch && r.status == 204;
    if (accepted) {
      s->second.core->on_reported(std::move(body), *self->state.hub->routes->get(), h);
    }
    // An accepted patch is answered with its new version and no body; errors keep theirs.
    self->state.proto->twin_response(s->second.who, correlation, r.status,
                                     accepted ? std::string{} : std::move(r.body),
                                     accepted ? r.version : 0);
    pump(self, {}, id, std::move(h));
  };
  auto failed = [answer](caf::error&) mutable {
    answer(twin_reply{500, 0, R"({"message":"twin request failed"})"});
  };
  if (patch) {
    self->request(st.hub->twins, std::chrono::seconds(30), twin_report_atom::value, id,
                  std::move(e.body))
        .then(answer, failed);
  } else {
    self->request(st.hub->twins, std::chrono::seconds(30), twin_get_atom::value, id)
        .then(answer, failed);
  }
}

void carry_events(amqp_actor* self, amqp::events& evs) {
  auto& st = self->state;
  // Looked up once per pass, and only when telemetry came: most passes carry only
  // settlements. Consecutive messages are mostly one identity's (one link's): its slot is
  // kept until another identity's message or any other event (which may drop identities).
  decltype(self->state.hub->routes->get()) routes;
  bool monitored = false;
  identity_slot* last = nullptr;
  for (auto& e : evs) {
    if (auto* t = std::get_if<amqp::telemetry_event>(&e)) {
      if (!routes) {
        routes = st.hub->routes->get();
        monitored = st.hub->monitor && st.hub->monitor->active(now(self));
      }
      if (!last || !(last->who == t->who)) {
        last = &slot_of(self, t->who);
        last->metrics->set_monitored(monitored);
      }
      // Appends wait for the pass's flush (pump): one store request per pass, not per message.
      hub::actions h;
      last->core->on_telemetry(std::move(t->msg), t->delivery, *routes, h);
      if (!h.empty()) {
        carry_hub(self, last->who.id(), h);
      }
      continue;
    }
    last = nullptr;
    if (auto* id = std::get_if<amqp::identity_event>(&e)) {
      if (id->renewed) {
        spdlog::info("[amqp {} {}] token renewed", label(st), id->who.id());
      }
      slot_of(self, id->who);
    } else if (auto* l = std::get_if<amqp::link_event>(&e)) {
      on_link(self, *l);
    } else if (auto* d = std::get_if<amqp::delivered_event>(&e)) {
      // Accepted = complete, rejected = reject: the delivery is done. Released = abandon: a
      // C2D message goes out again (IoT Hub); a module input is done, as IoT Edge drops one
      // that is not completed (facts §4.4).
      auto slot = st.identities.find(d->who.id());
      if (slot != st.identities.end()) {
        hub::actions h;
        if (d->how == amqp::outcome::released) {
          slot->second.core->on_abandoned(d->token, h);
        } else {
          slot->second.core->on_delivered(d->token, h);
        }
        slot->second.core->flush(h);
        carry_hub(self, slot->first, h);
      }
    } else if (auto* t = std::get_if<amqp::twin_request_event>(&e)) {
      on_twin(self, *t);
    } else if (auto* m = std::get_if<amqp::method_response_event>(&e)) {
      self->send(st.hub->methods, method_answer_atom::value, m->who.id(), std::move(m->request_id),
                 m->status, std::move(m->body));
    } else if (auto* c2d = std::get_if<amqp::c2d_send_event>(&e)) {
      send_c2d(self, *c2d);
    } else if (auto* r = std::get_if<amqp::revoked_event>(&e)) {
      spdlog::info("[amqp {} {}] revoked: {}", label(st), r->id, r->why);
      drop_identity(self, r->id);
    } else if (auto* c = std::get_if<amqp::closed_event>(&e)) {
      // Proton's descriptions may quote the peer's bytes: escaped and bounded.
      spdlog::info("[amqp {}] connection closed: {}", label(st), log_escape(c->why));
      st.closing = true;
    }
  }
}

/// Ends what the connection holds for one identity: its core, its registrations, its proxy.
void release_identity(amqp_actor* self, const std::string& id, identity_slot& slot) {
  auto& st = self->state;
  slot.core->close();
  set_interest(self, slot, st.hub->twins, slot.watching_desired, false, twin_watch_atom::value,
               twin_unwatch_atom::value);
  set_interest(self, slot, st.hub->methods, slot.listening_methods, false,
               method_listen_atom::value, method_unlisten_atom::value);
  if (slot.registered) {
    self->send(st.hub->directory, unregister_atom::value, id,
               caf::actor_cast<directory_session_actor>(slot.proxy));
  }
  st.hub->metrics->disconnect.Add({{"id", id}}).Increment();
  // Unlinked first: a linked proxy's exit would take the connection's actor with it.
  self->unlink_from(slot.proxy);
  caf::anon_send_exit(slot.proxy, caf::exit_reason::user_shutdown);
}

void drop_identity(amqp_actor* self, const std::string& id) {
  auto& st = self->state;
  auto it = st.identities.find(id);
  if (it == st.identities.end()) {
    return;
  }
  release_identity(self, id, it->second);
  for (auto q = st.queues.begin(); q != st.queues.end();) {
    q = q->second == id ? st.queues.erase(q) : std::next(q);
  }
  st.identities.erase(it);
}

void finish(amqp_actor* self) {
  auto& st = self->state;
  for (auto& [id, slot] : st.identities) {
    release_identity(self, id, slot);
  }
  st.identities.clear();
  cancel_session_tick(*st.hub, st.tick_handle);
  st.conn->close(true);
  self->quit();
}

void schedule_tick(amqp_actor* self) {
  auto& st = self->state;
  std::int64_t deadline = st.proto->next_tick();
  if (!st.authenticated_once && (deadline == 0 || st.open_deadline < deadline)) {
    deadline = st.open_deadline;
  }
  for (const auto& [id, slot] : st.identities) {
    const auto d = slot.core->next_deadline();
    if (d != std::numeric_limits<std::int64_t>::max() && (deadline == 0 || d < deadline)) {
      deadline = d;
    }
  }
  if (st.closing || deadline <= 0 || (st.tick_at != 0 && st.tick_at <= deadline)) {
    return;
  }
  st.tick_at = deadline;
  schedule_session_tick(self, *st.hub, st.tick_handle, deadline);
}

/// Reads the socket only while no identity's core holds it back (messages awaiting
/// durability, the store refusing them).
void set_paused(amqp_actor* self) {
  auto& st = self->state;
  bool hold = st.inbound && st.inbound->paused.load();
  for (auto& [id, slot] : st.identities) {
    hold = !slot.core->reading() || hold;
  }
  hold_reading(*st.conn, st.paused, hold);
}

/// Carries out events and one identity's actions, then writes what Proton produced.
void pump(amqp_actor* self, amqp::events evs, const std::string& identity, hub::actions hacts) {
  auto& st = self->state;
  if (!hacts.empty()) {
    carry_hub(self, identity, hacts);
  }
  for (;;) {
    carry_events(self, evs);
    // Each core emits its pass's appends and releases on flush.
    for (auto& [id, slot] : st.identities) {
      for (;;) {
        hub::actions h;
        slot.core->flush(h);
        if (h.empty()) {
          break;
        }
        carry_hub(self, id, h);
      }
    }
    if (auto out = st.proto->take_output(); !out.empty()) {
      st.conn->send(std::move(out));
    }
    evs.clear();
    st.proto->take_events(evs); // what writing the output made the engine report
    if (evs.empty()) {
      break;
    }
  }
  if (st.closing || st.proto->finished()) {
    finish(self);
    return;
  }
  set_paused(self);
  schedule_tick(self);
}

/// Runs `f` on the core of the identity that attached mailbox `q` (if it is still here), then
/// carries out what it asked for.
template <class F>
void with_queue_owner(amqp_actor* self, storage::queue_handle q, F f) {
  auto& s = self->state;
  auto owner = s.queues.find(q);
  if (owner == s.queues.end()) {
    return;
  }
  auto slot = s.identities.find(owner->second);
  if (slot == s.identities.end()) {
    return;
  }
  const auto id = owner->second;
  hub::actions h;
  f(*slot->second.core, h);
  pump(self, {}, id, std::move(h));
}

caf::behavior amqp_behavior(amqp_actor* self, std::shared_ptr<const hub_services> hub,
                            std::shared_ptr<transport::stream_connection> conn,
                            std::shared_ptr<live_count::token> alive,
                            std::shared_ptr<inbound_bytes> inbound) {
  auto& st = self->state;
  st.alive = std::move(alive);
  st.inbound = std::move(inbound);
  st.hub = std::move(hub);
  st.conn = std::move(conn);
  amqp::connection_settings settings;
  settings.container_id = st.hub->hostname;
  settings.telemetry_credit =
      static_cast<std::uint32_t>(std::max<std::size_t>(1, st.hub->limits.max_pending_in));
  st.proto.emplace(settings, [self](const iothub::client_identity& who, const std::string& token,
                                    std::string_view auth_chain) {
    auto& s = self->state;
    auto verdict =
        check_credentials(*s.hub, s.conn->peer_cert(), who, token, auth_chain, now(self));
    if (verdict.ok) {
      // No longer counted against [hub] max_unauthenticated_per_source, nor bounded by the
      // connect timeout.
      s.conn->authenticated();
      s.authenticated_once = true;
    }
    return verdict;
  });
  if (st.hub->sessions) {
    self->join(st.hub->sessions);
  }
  // The deadline counts from the TCP accept: the TLS handshake is part of it.
  const auto since_accept = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - st.conn->accepted_at())
                                .count();
  st.open_deadline =
      now(self) - std::max<std::int64_t>(since_accept, 0) + st.hub->limits.connect_timeout_ms;
  schedule_tick(self);
  return {
      [=](data_atom, const std::string& chunk) {
        amqp::events evs;
        auto& s = self->state;
        s.proto->on_bytes(chunk, now(self), evs);
        const auto left = s.inbound->bytes.fetch_sub(chunk.size()) - chunk.size();
        if (left <= inbound_bytes::limit / 2 && s.inbound->paused.exchange(false)) {
          s.paused = true; // the forwarder's pause: set_paused resumes unless a core holds it
        }
        pump(self, std::move(evs));
      },
      [=](closed_atom) {
        self->state.closing = true;
        finish(self);
      },
      [=](tick_atom) {
        auto& s = self->state;
        s.tick_at = 0;
        if (!s.authenticated_once && now(self) >= s.open_deadline) {
          // Silent, slow, stuck in a truncated frame or never authenticating: it costs a
          // socket and a driver, so it is bounded like an MQTT CONNECT.
          spdlog::info("[amqp {}] not authenticated within {} ms: closed", label(s),
                       s.hub->limits.connect_timeout_ms);
          s.closing = true;
          finish(self);
          return;
        }
        amqp::events evs;
        s.proto->on_tick(now(self), evs);
        for (auto& [id, slot] : s.identities) {
          hub::actions h;
          slot.core->on_tick(now(self), h);
          carry_hub(self, id, h);
        }
        pump(self, std::move(evs));
      },
      [=](identities_atom) {
        // Identities changed (removed, disabled, re-keyed): every credential held is checked
        // again; an identity that no longer passes loses its links and its session here.
        amqp::events evs;
        self->state.proto->reauthenticate(evs);
        pump(self, std::move(evs));
      },
      [=](routes_atom) {
        auto& s = self->state;
        for (auto& [id, slot] : s.identities) {
          hub::actions h;
          slot.core->on_routes(s.hub->routes->get(), h);
          carry_hub(self, id, h);
        }
        pump(self, {});
      },
      [=](deliver_atom, storage::queue_handle q, entries& es) {
        with_queue_owner(self, q, [&](hub::hub_session& core, hub::actions& h) {
          core.on_entries(q, std::move(es), h);
        });
      },
      [=](drained_atom, storage::queue_handle q) {
        with_queue_owner(self, q,
                         [&](hub::hub_session& core, hub::actions& h) { core.on_drained(q, h); });
      },
      [=](take_over_atom, const std::string& id) {
        // Another connection of this identity registered: it is the live one now. Its links
        // here stay, but nothing more is delivered to them.
        auto slot = self->state.identities.find(id);
        if (slot != self->state.identities.end()) {
          slot->second.registered = false;
          spdlog::info("[amqp {} {}] taken over by a newer session", label(self->state), id);
        }
      },
      [=](desired_atom, std::int64_t, std::string& patch, const std::string& id) {
        auto slot = self->state.identities.find(id);
        if (slot != self->state.identities.end()) {
          self->state.proto->desired_patch(slot->second.who, std::move(patch));
          pump(self, {});
        }
      },
      [=](method_request_atom, std::string& rid, std::string& method, std::string& payload,
          const std::string& id) {
        auto slot = self->state.identities.find(id);
        if (slot != self->state.identities.end()) {
          self->state.proto->method_request(slot->second.who, rid, method, std::move(payload));
          pump(self, {});
        }
      },
  };
}

/// Forwards the bytes as they come: Proton frames them. Bytes the actor has not taken yet are
/// bounded (`inbound_bytes::limit`): above it the socket is no longer read, so a peer that
/// writes faster than its connection is served (or a 4 MiB frame the guard refuses) waits in
/// the kernel's buffers, not in the daemon's memory.
class byte_forwarder final : public transport::stream_handler {
public:
  byte_forwarder(caf::actor session, std::shared_ptr<transport::stream_connection> conn,
                 std::shared_ptr<inbound_bytes> inbound)
      : session_(std::move(session)),
        conn_(std::move(conn)),
        inbound_(std::move(inbound)) {}
  void on_data(std::string_view bytes) override {
    const auto queued = inbound_->bytes.fetch_add(bytes.size()) + bytes.size();
    caf::anon_send(session_, data_atom::value, std::string{bytes});
    if (queued > inbound_bytes::limit && !inbound_->paused.exchange(true)) {
      conn_->pause_reading();
    }
  }
  void on_closed(std::error_code) override { caf::anon_send(session_, closed_atom::value); }

private:
  caf::actor session_;
  std::shared_ptr<transport::stream_connection> conn_;
  std::shared_ptr<inbound_bytes> inbound_;
};

} // namespace

transport::stream_server::accept_fn amqp_acceptor(caf::actor_system& sys,
                                                  std::shared_ptr<const hub_services> hub) {
  return [&sys, hub](std::shared_ptr<transport::stream_connection> conn)
             -> std::shared_ptr<transport::stream_handler> {
    std::shared_ptr<live_count::token> alive;
    if (hub->live) {
      alive = hub->live->enter();
    }
    auto inbound = std::make_shared<inbound_bytes>();
    auto session = sys.spawn(amqp_behavior, hub, conn, std::move(alive), inbound);
    return std::make_shared<byte_forwarder>(std::move(session), std::move(conn),
                                            std::move(inbound));
  };
}

result<std::unique_ptr<transport::stream_server>> start_amqp_listener(
    transport::io_runner& io, caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
    transport::stream_options opts, std::string& why) {
  return transport::stream_server::start(io, opts, amqp_acceptor(sys, std::move(hub)), why);
}

} // namespace outpost::actors
