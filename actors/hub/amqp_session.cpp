#include "actors/hub/amqp_session.hpp"

#include "actors/common/messages.hpp"
#include "actors/hub/authenticator.hpp"
#include "protocols/amqp/hub_connection.hpp"
#include "protocols/common/log_escape.hpp"
#include "protocols/hub/hub_session.hpp"
#include "protocols/transport/stream_server.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <limits>
#include <map>
#include <optional>

namespace outpost::actors {

namespace {

/// One identity authenticated on the connection: its own session core (routing, durability,
/// acknowledgements in arrival order).
struct identity_slot {
  iothub::client_identity who;
  std::optional<hub::hub_session> core;
};

struct amqp_state {
  /// First member, so destroyed last: the hub's shutdown waits until the connection is gone.
  std::shared_ptr<live_count::token> alive;
  std::shared_ptr<const hub_services> hub;
  std::shared_ptr<transport::stream_connection> conn;
  std::optional<amqp::hub_connection> proto;
  std::map<std::string, identity_slot> identities; ///< by identity id
  bool paused = false;
  bool closing = false;
  std::int64_t tick_at = 0;
  std::int64_t open_deadline = 0; ///< the peer's AMQP open must come by then (ms, wall clock)

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

hub::session_settings core_settings(const hub_services& hub) {
  hub::session_settings s;
  s.edge_device_id = hub.edge_device_id;
  s.max_pending_in = hub.limits.max_pending_in;
  s.max_inflight_out = hub.limits.max_inflight_out;
  s.max_output_bytes = hub.max_output_bytes;
  s.output_stall_ms = hub.output_stall_ms;
  return s;
}

/// The checks of an MQTT CONNECT, on the identity a CBS audience or a SASL user name names.
amqp::auth_verdict check_credentials(const hub_services& hub,
                                     const std::optional<transport::peer_certificate>& cert,
                                     const iothub::client_identity& who, const std::string& token,
                                     std::int64_t now_ms) {
  if (who.device_id.empty()) {
    return {false, "service tokens are not accepted on AMQP yet", 0, true};
  }
  auto snapshot = hub.identities->get();
  const auth_settings settings{hub.hub_hostname, hub.hostname, now_ms / 1000};
  const auto r = authenticate_identity(who, token, *snapshot, settings, cert);
  if (r.connack_code != 0) {
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
    }
    // Deliveries, twins and methods over AMQP come with the next parts of the dialect; the
    // connection core refuses the links that would ask for them.
  }
}

identity_slot& slot_of(amqp_actor* self, const iothub::client_identity& who) {
  auto& st = self->state;
  auto [it, fresh] = st.identities.try_emplace(who.id());
  if (fresh) {
    it->second.who = who;
    it->second.core.emplace(core_settings(*st.hub));
    // The connection core ends an identity's links when its token expires; this core keeps
    // no expiry of its own.
    it->second.core->open(who, 0);
    spdlog::info("[amqp {} {}] authenticated", label(st), who.id());
  }
  return it->second;
}

void carry_events(amqp_actor* self, amqp::events& evs) {
  auto& st = self->state;
  const auto routes = st.hub->routes->get();
  for (auto& e : evs) {
    if (auto* t = std::get_if<amqp::telemetry_event>(&e)) {
      auto& slot = slot_of(self, t->who);
      hub::actions h;
      slot.core->on_telemetry(std::move(t->msg), t->delivery, *routes, h);
      slot.core->flush(h);
      carry_hub(self, slot.who.id(), h);
    } else if (auto* id = std::get_if<amqp::identity_event>(&e)) {
      if (id->renewed) {
        spdlog::info("[amqp {} {}] token renewed", label(st), id->who.id());
      }
      slot_of(self, id->who);
    } else if (auto* c = std::get_if<amqp::closed_event>(&e)) {
      // Proton's descriptions may quote the peer's bytes: escaped and bounded.
      spdlog::info("[amqp {}] connection closed: {}", label(st), log_escape(c->why));
      st.closing = true;
    }
  }
}

void finish(amqp_actor* self) {
  auto& st = self->state;
  for (auto& [id, slot] : st.identities) {
    slot.core->close();
  }
  st.conn->close(true);
  self->quit();
}

void schedule_tick(amqp_actor* self) {
  auto& st = self->state;
  std::int64_t deadline = st.proto->next_tick();
  if (!st.proto->opened() && (deadline == 0 || st.open_deadline < deadline)) {
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
  const auto wait = std::max<std::int64_t>(deadline - now(self), 0) + 5;
  self->delayed_send(self, std::chrono::milliseconds(wait), tick_atom::value);
}

/// Reads the socket only while no identity's core holds it back (messages awaiting
/// durability, the store refusing them).
void set_paused(amqp_actor* self) {
  auto& st = self->state;
  bool hold = false;
  for (auto& [id, slot] : st.identities) {
    hold = !slot.core->reading() || hold;
  }
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

/// Carries out events and one identity's actions, then writes what Proton produced.
void pump(amqp_actor* self, amqp::events evs, const std::string& identity, hub::actions hacts) {
  auto& st = self->state;
  if (!hacts.empty()) {
    carry_hub(self, identity, hacts);
  }
  carry_events(self, evs);
  for (;;) {
    if (auto out = st.proto->take_output(); !out.empty()) {
      st.conn->send(std::move(out));
    }
    amqp::events more;
    st.proto->on_tick(now(self), more); // settles may have queued events
    if (more.empty()) {
      break;
    }
    carry_events(self, more);
  }
  if (st.closing || st.proto->finished()) {
    finish(self);
    return;
  }
  set_paused(self);
  schedule_tick(self);
}

caf::behavior amqp_behavior(amqp_actor* self, std::shared_ptr<const hub_services> hub,
                            std::shared_ptr<transport::stream_connection> conn,
                            std::shared_ptr<live_count::token> alive) {
  auto& st = self->state;
  st.alive = std::move(alive);
  st.hub = std::move(hub);
  st.conn = std::move(conn);
  amqp::connection_settings settings;
  settings.container_id = st.hub->hostname;
  settings.telemetry_credit =
      static_cast<std::uint32_t>(std::max<std::size_t>(1, st.hub->limits.max_pending_in));
  st.proto.emplace(settings, [self](const iothub::client_identity& who, const std::string& token) {
    auto& s = self->state;
    return check_credentials(*s.hub, s.conn->peer_cert(), who, token, now(self));
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
        self->state.proto->on_bytes(chunk, now(self), evs);
        pump(self, std::move(evs));
      },
      [=](closed_atom) {
        self->state.closing = true;
        finish(self);
      },
      [=](tick_atom) {
        auto& s = self->state;
        s.tick_at = 0;
        if (!s.proto->opened() && now(self) >= s.open_deadline) {
          // Silent, slow or stuck before its AMQP open (a truncated frame): it costs a socket
          // and a driver, so it is bounded like an MQTT CONNECT.
          spdlog::info("[amqp {}] no AMQP open within {} ms: closed", label(s),
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
        // Identities changed (removed, disabled, re-keyed): the next link or put-token is
        // checked against the new table; live links of a removed identity end with it.
      },
      [=](routes_atom) {},
  };
}

/// Forwards the bytes as they come: Proton frames them.
class byte_forwarder final : public transport::stream_handler {
public:
  explicit byte_forwarder(caf::actor session) : session_(std::move(session)) {}
  void on_data(std::string_view bytes) override {
    caf::anon_send(session_, data_atom::value, std::string{bytes});
  }
  void on_closed(std::error_code) override { caf::anon_send(session_, closed_atom::value); }

private:
  caf::actor session_;
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
    auto session = sys.spawn(amqp_behavior, hub, std::move(conn), std::move(alive));
    return std::make_shared<byte_forwarder>(std::move(session));
  };
}

result<std::unique_ptr<transport::stream_server>> start_amqp_listener(
    transport::io_runner& io, caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
    transport::stream_options opts, std::string& why) {
  return transport::stream_server::start(io, opts, amqp_acceptor(sys, std::move(hub)), why);
}

} // namespace outpost::actors
