#include "actors/hub/mqtt_session.hpp"

#include "actors/common/messages.hpp"
#include "actors/hub/authenticator.hpp"
#include "actors/hub/hub_metrics.hpp"
#include "actors/hub/session_directory.hpp"
#include "actors/hub/session_metrics.hpp"
#include "actors/hub/session_ticker.hpp"
#include "protocols/common/log_escape.hpp"
#include "protocols/hub/hub_session.hpp"
#include "protocols/iothub/topics.hpp"
#include "protocols/iothub/twin.hpp"
#include "protocols/mqtt/decoder.hpp"
#include "protocols/mqtt/encoder.hpp"
#include "protocols/mqtt/frame_splitter.hpp"
#include "protocols/transport/stream_server.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

namespace outpost::actors {

namespace {

struct session_state;

struct session_state {
  /// First member, so destroyed last: the hub's shutdown waits until the connection is gone.
  std::shared_ptr<live_count::token> alive;
  std::shared_ptr<const hub_services> hub;
  std::shared_ptr<transport::stream_connection> conn;
  std::shared_ptr<frame_limit> limit; ///< shared with the I/O side's frame forwarder
  std::optional<mqtt::session> proto; ///< MQTT 3.1.1: packets, packet ids, keepalive
  std::optional<session_metrics> metrics;
  std::optional<hub::hub_session> core; ///< the hub's side: routing, storage, delivery
  /// The accepted CONNECT's SAS token (its password; empty with a client certificate),
  /// checked again for `who` when the identities change or it expires. The client id and the
  /// user name were checked once and cannot change: keeping the whole CONNECT cost ~500 B per
  /// connection (the packet and its strings), the token alone ~190.
  std::string token;
  bool authenticated = false;
  bool registered = false;
  bool closing = false;
  bool paused = false; ///< the socket is not read (backpressure: see hub_session::reading)
  bool watching_desired = false;     ///< registered with the twins for desired patches
  bool listening_methods = false;    ///< registered with the method router
  bool c2d_requested = false;        ///< the device's C2D queue was asked for
  std::uint32_t twins_in_flight = 0; ///< twin requests sent to the registry, not yet answered
  std::int64_t tick_at = 0;
  session_ticker::handle tick_handle = 0; ///< the pending tick's entry with the hub's ticker

  static inline const char* name = "mqtt_session";
};

using session_actor = caf::stateful_actor<session_state>;
// Ten thousand idle connections hold ten thousand of these, each behind CAF's 64-byte control
// block: jemalloc serves 1,793-2,048 bytes from its 2,048-byte class, so a member that takes
// the two past 1,792 costs every connection 256 bytes. (What only some sessions use lives
// behind pointers: hub_session's outbound side and store refusals, session_metrics' routed
// series; what all share is shared: settings, limits.)
static_assert(sizeof(session_actor) <= 1792 - 64,
              "the session actor grew into the next size class");

void pump(session_actor* self, mqtt::actions macts, hub::actions hacts = {});

std::int64_t now(session_actor* self) {
  return self->state.hub->now_ms();
}

/// Keeps one timer per session. Deadlines only move later as packets arrive, so a pending
/// timer is left alone; when it fires, the tick checks the real deadlines and the next timer
/// is set from there (a timer per packet cost ~8% CPU and held memory for 1.5 x keepalive).
void schedule_tick(session_actor* self) {
  auto& st = self->state;
  const auto deadline = std::min(st.proto->next_deadline(), st.core->next_deadline());
  if (st.closing || deadline == std::numeric_limits<std::int64_t>::max()
      || (st.tick_at != 0 && st.tick_at <= deadline)) {
    return;
  }
  st.tick_at = deadline;
  schedule_session_tick(self, *st.hub, st.tick_handle, deadline);
}

/// The session as the directory knows it. Sessions stay untyped (they join the sessions group,
/// which CAF 0.17's typed actors cannot: actors/README.md, "Typed handles"); this is the one
/// place they become the typed handle the directory takes, and the behavior below does take
/// `take_over_atom`.
directory_session_actor as_directory_session(session_actor* self) {
  return caf::actor_cast<directory_session_actor>(caf::actor{self});
}

/// Tells `service` (the twins, the method router) whether this session wants its identity's
/// pushes (desired patches, method calls): `on` or `off` once per change of `want`.
template <class Handle, class On, class Off>
void set_interest(session_actor* self, const Handle& service, bool& registered, bool want, On on,
                  Off off) {
  if (want == registered || !service) {
    return;
  }
  registered = want;
  if (want) {
    self->send(service, on, self->state.core->who().id(), caf::actor{self});
  } else {
    self->send(service, off, self->state.core->who().id(), caf::actor{self});
  }
}

void finish(session_actor* self) {
  auto& st = self->state;
  st.core->close();
  set_interest(self, st.hub->twins, st.watching_desired, false, twin_watch_atom::value,
               twin_unwatch_atom::value);
  set_interest(self, st.hub->methods, st.listening_methods, false, method_listen_atom::value,
               method_unlisten_atom::value);
  if (st.registered) {
    self->send(st.hub->directory, unregister_atom::value, st.core->who().id(),
               as_directory_session(self));
    st.hub->metrics->disconnect.Add({{"id", st.core->who().id()}}).Increment();
    st.registered = false;
  }
  cancel_session_tick(*st.hub, st.tick_handle);
  st.conn->close(true);
  self->quit();
}

/// Reads the socket only while the core sees no reason to hold it back: messages awaiting
/// durability, the store refusing messages, or a client that does not read its output.
void set_paused(session_actor* self) {
  auto& st = self->state;
  hold_reading(*st.conn, st.paused, !st.core->reading());
}

// -- authentication --------------------------------------------------------------------------

/// The label a refused CONNECT is counted under: the identity's id when the client id names a
/// registered one (a bounded set), else "unknown". Never the raw bytes of an unauthenticated
/// peer: each distinct value would be a permanent series (200 refused connects were +6 MB).
std::string refused_label(const identity_table& ids, const std::string& client_id) {
  auto i = ids.find(client_id);
  return i == ids.end() ? std::string{"unknown"} : i->first;
}

/// The identities changed or the token's time is up: the accepted identity and token must still
/// pass authentication against the current table and clock (`authenticate` is the CONNECT's
/// fixed checks, then `authenticate_identity`), else the session ends (disabled, removed,
/// re-keyed, expired).
/// The session's end goes into `acts`: a pass in progress carries it out (a nested pump would
/// send its bytes ahead of the pass's own).
void recheck_credentials(session_actor* self, bool expiry_timer, mqtt::actions& acts) {
  auto& st = self->state;
  if (!st.authenticated || st.closing) {
    return;
  }
  auto ids = st.hub->identities->get();
  const auto t = now(self);
  const auth_settings settings{st.hub->hub_hostname, st.hub->hostname, t / 1000};
  auto result =
      authenticate_identity(st.core->who(), st.token, *ids, settings, st.conn->peer_cert());
  if (result.connack_code == 0) {
    if (expiry_timer) {
      st.core->set_expiry(result.expires_s); // still valid (the clock moved back): look again
    }
    return;
  }
  spdlog::info("[mqtt {} {}] session ended: {}", st.conn->peer_address(), st.core->who().id(),
               result.reason);
  st.hub->metrics->connect_failed.Add({{"id", st.core->who().id()}, {"reason", "revoked"}})
      .Increment();
  st.proto->end(mqtt::close_reason::revoked, acts);
}

void on_subscriptions_changed(session_actor* self, std::vector<std::string> added,
                              std::vector<std::string> removed, hub::actions& hacts) {
  auto& st = self->state;
  bool desired = false;
  bool methods = false;
  bool c2d = false;
  for (const auto& f : st.proto->subscriptions()) {
    const auto kind = iothub::classify_subscription(f);
    if (kind == iothub::subscription_kind::module_inputs) {
      st.core->want_inputs(st.hub->routes->get(), hacts);
    }
    desired = desired || kind == iothub::subscription_kind::twin_desired;
    methods = methods || kind == iothub::subscription_kind::methods;
    c2d = c2d || kind == iothub::subscription_kind::c2d;
  }
  if (c2d && !st.c2d_requested && !st.core->who().is_module() && st.hub->c2d) {
    st.c2d_requested = true;
    self->request(st.hub->c2d, std::chrono::seconds(30), c2d_open_atom::value,
                  st.core->who().device_id)
        .then(
            [self](c2d_queue& q) {
              if (q.error || !q.binding) {
                spdlog::warn("[mqtt {}] C2D queue not available: {}", self->state.core->who().id(),
                             q.error.message());
                return;
              }
              hub::actions h;
              self->state.core->want_c2d(std::move(q.binding), h);
              pump(self, {}, std::move(h));
            },
            [self](caf::error& e) {
              spdlog::warn("[mqtt {}] C2D queue not available: {}", self->state.core->who().id(),
                           to_string(e));
            });
  }
  set_interest(self, st.hub->methods, st.listening_methods, methods, method_listen_atom::value,
               method_unlisten_atom::value);
  set_interest(self, st.hub->twins, st.watching_desired, desired, twin_watch_atom::value,
               twin_unwatch_atom::value);
  if (!added.empty() || !removed.empty()) {
    self->send(st.hub->directory, subs_atom::value, st.core->who().id(), std::move(added),
               std::move(removed));
  }
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
    pump(self, std::move(acts));
    return;
  }
  st.core->identify(result.who);
  st.authenticated = true;
  st.token = c.password.value_or(std::string{});
  // The core's identity by address (it lives as long as the session): a capture of 8 bytes
  // fits std::function's own buffer, where a copy of the identity was a heap block per client.
  st.proto->set_filter_policy([who = &st.core->who()](std::string_view filter) {
    return iothub::subscription_allowed(*who, filter);
  });
  const bool clean = c.clean_session;
  // No timeout: the directory answers at once or after the writer restores the session (whose
  // requests have none either), and a dead directory answers with an error. A 30 s timeout
  // held an entry in CAF's clock per connecting client for 30 s (a connect storm of 10k: ~1.5
  // MB at the peak).
  self->request(st.hub->directory, caf::infinite, register_atom::value, st.core->who().id(),
                as_directory_session(self), clean)
      .then(
          [=, expires_s = result.expires_s](session_info& info) {
            auto& s = self->state;
            s.registered = true;
            s.metrics->set_identity(s.core->who());
            s.hub->metrics->connect_success.Add({{"id", s.core->who().id()}}).Increment();
            spdlog::info("[mqtt {} {}] connected ({} session{})", s.conn->peer_address(),
                         s.core->who().id(), clean ? "clean" : "persistent",
                         info.present ? ", resumed" : "");
            s.core->open(s.core->who(), expires_s);
            mqtt::actions a;
            s.proto->accept(info.present, a);
            s.conn->authenticated();
            s.limit->store(s.hub->max_frame_bytes, std::memory_order_relaxed);
            const auto stored = info.subscriptions.size();
            const auto& subscriptions =
                s.proto->restore_subscriptions(std::move(info.subscriptions));
            hub::actions h;
            if (!subscriptions.empty()) {
              // The SDK does not subscribe again; what the rules no longer grant is dropped.
              on_subscriptions_changed(self, {}, {}, h);
            }
            if (subscriptions.size() != stored) {
              spdlog::info("[mqtt {}] {} stored subscriptions no longer granted",
                           s.core->who().id(), stored - subscriptions.size());
            }
            pump(self, std::move(a), std::move(h));
          },
          [=](caf::error&) {
            mqtt::actions a;
            self->state.proto->refuse(3, a); // server unavailable
            pump(self, std::move(a));
          });
}

// -- carrying out actions ----------------------------------------------------------------------

/// Hands one batch to the storage writer; the core hears the outcome (PUBACKs follow
/// durability; what the store refuses is retried by the core while the socket is not read).
void store(session_actor* self, hub::append_action a) {
  auto& st = self->state;
  self->request(st.hub->writer, caf::infinite, append_atom::value, std::move(a.requests))
      .then([=, batch = a.batch](append_outcomes& outs) {
        hub::actions h;
        self->state.core->on_stored(batch, std::move(outs), now(self), h);
        pump(self, {}, std::move(h));
      });
}

/// Whether the client listens to `filter`'s topics (IoT Hub answers twin requests on
/// `$iothub/twin/res/#` only to a client subscribed to it).
bool subscribed(const session_state& st, iothub::subscription_kind kind) {
  const auto& subscriptions = st.proto->subscriptions();
  return std::any_of(subscriptions.begin(), subscriptions.end(), [&](const std::string& f) {
    return iothub::classify_subscription(f) == kind;
  });
}

/// edgehub_gettwin_* and edgehub_reported_properties_* (IoT Edge's names), labelled with the
/// authenticated identity.
void count_twin(session_state& st, hub::twin_op op, std::chrono::steady_clock::duration took) {
  count_twin_request(*st.hub->metrics, op == hub::twin_op::get, st.core->who().id(), took);
}

/// Twin requests of one session the registry works on at once.
constexpr std::size_t max_twin_requests_in_flight = 16;
/// session -> itself: answer a twin request 429 (over the cap), `(request id, index)`.
using twin_busy_atom = caf::atom_constant<caf::atom("twin_busy")>;

/// Asks the twin registry, answers on `$iothub/twin/res/{status}/?$rid=` (a reported patch
/// only once it is durable, with the new `$version`), then lets the core acknowledge it.
void twin_request(session_actor* self, hub::twin_action a) {
  auto& st = self->state;
  // A reported patch that is accepted is also routed (FROM /twinChangeNotifications).
  std::string patch = a.op == hub::twin_op::patch_reported ? a.body : std::string{};
  const auto started = std::chrono::steady_clock::now();
  auto answer = [self, rid = a.request_id, index = a.index, op = a.op, started,
                 patch = std::move(patch)](twin_reply r) mutable {
    auto& s = self->state;
    --s.twins_in_flight;
    count_twin(s, op, std::chrono::steady_clock::now() - started);
    mqtt::actions m;
    hub::actions h;
    if (op == hub::twin_op::patch_reported && r.status == 204) {
      s.core->on_reported(std::move(patch), *s.hub->routes->get(), h);
    }
    if (subscribed(s, iothub::subscription_kind::twin_response)) {
      const bool versioned = op == hub::twin_op::patch_reported && r.status == 204;
      s.proto->notify(
          iothub::twin_response_topic(
              r.status, rid, versioned ? std::optional<std::int64_t>{r.version} : std::nullopt),
          std::move(r.body), m);
    }
    s.core->on_twin_done(index, h);
    pump(self, std::move(m), std::move(h));
  };
  auto failed = [answer](caf::error& e) mutable {
    answer(twin_reply{
        500, 0, iothub::hub_error{500, 500001, "twin request failed: " + to_string(e)}.body()});
  };
  // QoS 1 requests are bounded by max_pending_in; QoS 0 ones are not acknowledged, so a
  // client could pile them up: past the cap they are answered 429 at once (IoT Hub's
  // throttling code) without reaching the registry.
  if (st.twins_in_flight >= max_twin_requests_in_flight) {
    // Answered in a pass of its own: this runs inside one (carry_hub).
    self->send(self, twin_busy_atom::value, std::move(a.request_id), a.index);
    return;
  }
  ++st.twins_in_flight;
  if (a.op == hub::twin_op::get) {
    self->request(st.hub->twins, std::chrono::seconds(30), twin_get_atom::value,
                  st.core->who().id())
        .then(answer, failed);
  } else {
    self->request(st.hub->twins, std::chrono::seconds(30), twin_report_atom::value,
                  st.core->who().id(), std::move(a.body))
        .then(answer, failed);
  }
}

/// Carries out what the MQTT state machine asked for; hub operations go to the core.
void carry_mqtt(session_actor* self, mqtt::actions& acts, hub::actions& hacts, std::string& out) {
  auto& st = self->state;
  std::shared_ptr<const hub_routes> routes; // taken once per pass, when a publish needs it
  bool subs_changed = false;
  std::vector<std::string> added;
  std::vector<std::string> removed;
  for (auto& a : acts) {
    if (auto* send = std::get_if<mqtt::send_action>(&a)) {
      mqtt::encode(send->p, out);
    } else if (auto* pub = std::get_if<mqtt::publish_action>(&a)) {
      if (st.closing) {
        continue;
      }
      if (!routes) {
        routes = st.hub->routes->get();
        st.metrics->set_monitored(st.hub->monitor && st.hub->monitor->active(now(self)));
      }
      // QoS 1 packet ids are never 0: the id is the core's acknowledgement tag.
      st.core->on_publish(pub->p.topic, std::move(pub->p.payload),
                          pub->p.qos == 1 ? pub->p.packet_id : 0, *routes, hacts);
    } else if (auto* acked = std::get_if<mqtt::acked_action>(&a)) {
      st.core->on_delivered(acked->token, hacts);
    } else if (auto* auth = std::get_if<mqtt::authenticate_action>(&a)) {
      on_authenticate(self, auth->c);
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
    } else if (auto* close = std::get_if<mqtt::close_action>(&a)) {
      st.closing = true;
      spdlog::debug("[mqtt {}] closing ({})", st.core->who().id(), static_cast<int>(close->why));
    }
  }
  if (subs_changed) {
    if (st.registered) {
      on_subscriptions_changed(self, std::move(added), std::move(removed), hacts);
    }
  }
}

/// Carries out what the core asked for; answers to the client go to the MQTT state machine.
void carry_hub(session_actor* self, hub::actions& hacts, mqtt::actions& macts) {
  auto& st = self->state;
  for (auto& a : hacts) {
    if (auto* ack = std::get_if<hub::ack_action>(&a)) {
      st.proto->persisted(static_cast<std::uint16_t>(ack->tag), macts);
    } else if (auto* append = std::get_if<hub::append_action>(&a)) {
      store(self, std::move(*append));
    } else if (auto* d = std::get_if<hub::deliver_action>(&a)) {
      auto topic = d->from->device_bound
                       ? iothub::c2d_topic(st.core->who().device_id, d->msg)
                       : iothub::module_input_topic(st.core->who(), d->from->target.input, d->msg);
      st.proto->publish_out(std::move(topic), std::move(d->msg.body), d->token, macts);
    } else if (auto* release = std::get_if<hub::release_action>(&a)) {
      self->send(mailbox_of(*release->mailbox), ack_atom::value, std::move(release->seqs));
    } else if (auto* attach = std::get_if<hub::attach_action>(&a)) {
      // The session is untyped (it joins the sessions group): it takes the consumer's
      // messages, so it is cast to that handle here, its one subscription point.
      self->send(mailbox_of(*attach->mailbox), subscribe_atom::value,
                 caf::actor_cast<consumer_actor>(caf::actor{self}));
    } else if (auto* tw = std::get_if<hub::twin_action>(&a)) {
      twin_request(self, std::move(*tw));
    } else if (auto* answer = std::get_if<hub::method_response_action>(&a)) {
      self->send(st.hub->methods, method_answer_atom::value, st.core->who().id(),
                 std::move(answer->request_id), answer->status, std::move(answer->body));
    } else if (std::holds_alternative<hub::reauthenticate_action>(a)) {
      recheck_credentials(self, true, macts);
    } else if (std::holds_alternative<hub::end_action>(a)) { // output_stalled, its only reason
      spdlog::info("[mqtt {} {}] disconnected: output unread for {} ms", st.conn->peer_address(),
                   st.core->who().id(), st.hub->output_stall_ms);
      st.proto->end(mqtt::close_reason::output_stalled, macts);
    }
  }
}

/// Runs both state machines until neither has anything left to do, then sends what the pass
/// produced with one write and decides whether the socket is read.
void pump(session_actor* self, mqtt::actions macts, hub::actions hacts) {
  auto& st = self->state;
  std::string out; // bytes for the socket: one send per pass
  while (!macts.empty() || !hacts.empty() || !out.empty()) {
    if (!macts.empty()) {
      mqtt::actions m = std::move(macts);
      macts.clear();
      carry_mqtt(self, m, hacts, out);
    }
    st.core->flush(hacts);
    if (!hacts.empty()) {
      hub::actions h = std::move(hacts);
      hacts.clear();
      carry_hub(self, h, macts);
    }
    if (macts.empty() && !out.empty()) {
      const auto queued = st.conn->send(std::move(out));
      out.clear();
      st.core->on_output(queued, now(self), hacts);
    }
  }
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
      spdlog::info("[mqtt {} {}] malformed packet: {}", st.conn->peer_address(),
                   st.core->who().id(), pkt.error().message());
      st.proto->on_decode_error(pkt.error(), acts);
      break;
    }
    st.proto->on_packet(std::move(*pkt), t, acts);
  }
  pump(self, std::move(acts));
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
  // The hub's limits, shared (an aliasing pointer: the session keeps the hub alive anyway).
  st.proto.emplace(now(self) - std::max<std::int64_t>(since_accept, 0),
                   std::shared_ptr<const mqtt::session_limits>(st.hub, &st.hub->limits));
  st.metrics.emplace(*st.hub, "mqtt");
  st.core.emplace(core_settings(*st.hub), &*st.metrics);
  if (st.hub->sessions) {
    self->join(st.hub->sessions);
  }
  schedule_tick(self);
  return {
      [=](data_atom, const std::string& chunk) { on_data(self, chunk); },
      [=](frame_error_atom, std::error_code ec) {
        mqtt::actions acts;
        self->state.proto->on_decode_error(ec, acts);
        pump(self, std::move(acts));
      },
      [=](closed_atom) {
        self->state.closing = true;
        finish(self);
      },
      [=](take_over_atom) {
        self->state.registered = false; // the directory already points at the new session
        self->state.core->close();
        mqtt::actions acts;
        self->state.proto->take_over(acts);
        pump(self, std::move(acts));
      },
      [=](deliver_atom, storage::queue_handle q, entries& es) {
        hub::actions h;
        self->state.core->on_entries(q, std::move(es), h);
        pump(self, {}, std::move(h));
      },
      [=](drained_atom, storage::queue_handle q) {
        hub::actions h;
        self->state.core->on_drained(q, h);
        pump(self, {}, std::move(h));
      },
      [=](routes_atom) {
        hub::actions h;
        self->state.core->on_routes(self->state.hub->routes->get(), h);
        pump(self, {}, std::move(h));
      },
      [=](identities_atom) {
        mqtt::actions acts;
        recheck_credentials(self, false, acts);
        pump(self, std::move(acts));
      },
      [=](twin_busy_atom, std::string& rid, std::uint64_t index) {
        auto& s = self->state;
        mqtt::actions m;
        hub::actions h;
        if (subscribed(s, iothub::subscription_kind::twin_response)) {
          s.proto->notify(iothub::twin_response_topic(429, rid),
                          iothub::hub_error{429, 429001, "too many twin requests in flight"}.body(),
                          m);
        }
        s.core->on_twin_done(index, h);
        pump(self, std::move(m), std::move(h));
      },
      [=](method_request_atom, std::string& rid, std::string& method, std::string& payload) {
        auto& s = self->state;
        if (!subscribed(s, iothub::subscription_kind::methods)) {
          return; // the caller times out (504), as with a client that does not answer
        }
        mqtt::actions m;
        s.proto->notify(iothub::method_request_topic(method, rid), std::move(payload), m);
        pump(self, std::move(m));
      },
      [=](desired_atom, std::int64_t version, std::string& patch) {
        auto& s = self->state;
        if (!subscribed(s, iothub::subscription_kind::twin_desired)) {
          return;
        }
        mqtt::actions m;
        s.proto->notify(iothub::desired_patch_topic(version), std::move(patch), m);
        pump(self, std::move(m));
      },
      [=](tick_atom) {
        auto& s = self->state;
        s.tick_at = 0;
        const auto t = now(self);
        mqtt::actions m;
        s.proto->on_tick(t, m);
        hub::actions h;
        if (s.core->output_full()) {
          s.core->on_output(s.conn->send({}), t, h);
        }
        s.core->on_tick(t, h);
        pump(self, std::move(m), std::move(h));
      },
  };
}

} // namespace

void hold_reading(transport::stream_connection& conn, bool& paused, bool hold) {
  if (hold == paused) {
    return;
  }
  paused = hold;
  if (hold) {
    conn.pause_reading();
  } else {
    conn.resume_reading();
  }
}

std::shared_ptr<const hub::session_settings> core_settings(const hub_services& hub) {
  if (hub.core_settings) {
    return hub.core_settings;
  }
  hub::session_settings s;
  s.edge_device_id = hub.edge_device_id;
  s.max_pending_in = hub.limits.max_pending_in;
  s.max_inflight_out = hub.limits.max_inflight_out;
  s.max_output_bytes = hub.max_output_bytes;
  s.output_stall_ms = hub.output_stall_ms;
  return std::make_shared<const hub::session_settings>(std::move(s));
}

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
