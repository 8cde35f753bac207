#include "actors/hub/endpoint_link.hpp"

#include "actors/common/messages.hpp"
#include "actors/hub/drain_set.hpp"
#include "actors/hub/hub_metrics.hpp"
#include "actors/hub/hub_routes.hpp"
#include "actors/hub/link_socket.hpp"
#include "protocols/amqp/broker_connection.hpp"
#include "protocols/transport/stream_client.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <optional>
#include <random>

namespace outpost::actors {

namespace {

struct endpoint_state {
  std::shared_ptr<const hub_services> hub;
  endpoint_link_config cfg;
  std::unique_ptr<transport::stream_client> client;
  std::optional<amqp::broker_connection> proto;
  std::optional<drain_set> drain;
  prometheus::Gauge* connected = nullptr;
  std::uint64_t gen = 0;
  bool opened = false;
  int attempt = 0;
  std::int64_t tick_at = 0;
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "endpoint_link";
};

using endpoint_actor = caf::stateful_actor<endpoint_state>;

std::int64_t now_ms(endpoint_actor* self) {
  return self->state.hub->now_ms();
}

/// The identity a stored message came from, for the metrics ("unknown" when none: a broker
/// takes any message, unlike the parent).
std::string sender_of(const routing::message& m) {
  auto d = m.get(routing::system_property::connection_device_id);
  if (!d || d->empty()) {
    return "unknown";
  }
  auto mod = m.get(routing::system_property::connection_module_id);
  return mod && !mod->empty() ? std::string{*d} + "/" + std::string{*mod} : std::string{*d};
}

void flush(endpoint_actor* self) {
  auto& st = self->state;
  if (st.proto && st.client) {
    auto out = st.proto->take_output();
    if (!out.empty()) {
      st.client->send(std::move(out));
    }
  }
}

void schedule_tick(endpoint_actor* self) {
  auto& st = self->state;
  const auto next = st.proto ? st.proto->next_tick() : 0;
  if (next == 0 || (st.tick_at != 0 && st.tick_at <= next)) {
    return; // no heartbeat due, or a tick is already due before then
  }
  st.tick_at = next;
  self->delayed_send(self,
                     std::chrono::milliseconds(std::max<std::int64_t>(1, next - now_ms(self))),
                     tick_atom::value, st.gen);
}

/// The connection is over (or never came up): what was in flight comes again through the
/// mailboxes, and a new attempt follows after the back-off.
void disconnected(endpoint_actor* self, const std::string& why) {
  auto& st = self->state;
  if (st.proto) {
    amqp::bus::events evs;
    st.proto->on_disconnected(evs); // releases: nothing to do, the unsub below redelivers
  }
  st.drain->unsubscribe_all();
  st.proto.reset();
  st.client.reset(); // joins its thread, which has ended (or ends now)
  st.opened = false;
  st.connected->Set(0);
  ++st.gen; // whatever the old connection still says is ignored
  const auto delay = link_backoff_ms(st.attempt++, st.cfg.max_backoff_ms, st.rng);
  spdlog::warn("[endpoint {}] {}; next attempt in {} ms", st.cfg.name, why, delay);
  self->delayed_send(self, std::chrono::milliseconds(delay), link_retry_atom::value, st.gen);
}

void handle(endpoint_actor* self, amqp::bus::events& evs) {
  auto& st = self->state;
  bool ended = false;
  std::string end_why;
  for (auto& e : evs) {
    if (std::holds_alternative<amqp::bus::opened>(e)) {
      st.opened = true;
      st.attempt = 0;
      st.connected->Set(1);
      spdlog::info("[endpoint {}] connected to {}:{}, sending to {}", st.cfg.name, st.cfg.host,
                   st.cfg.port, st.cfg.address);
      st.drain->subscribe_next();
    } else if (auto* s = std::get_if<amqp::bus::settled>(&e)) {
      st.drain->settle(s->token, s->outcome);
    } else if (auto* c = std::get_if<amqp::bus::closed>(&e)) {
      ended = true;
      end_why = c->why;
    }
  }
  st.drain->flush_acks();
  flush(self);
  if (ended) {
    disconnected(self, "connection ended: " + end_why);
  } else {
    schedule_tick(self);
  }
}

void connect(endpoint_actor* self) {
  auto& st = self->state;
  ++st.gen;
  amqp::broker_settings settings;
  settings.container_id = st.hub->edge_device_id;
  settings.hostname = st.cfg.host;
  settings.user = st.cfg.user;
  settings.password = st.cfg.password;
  settings.address = st.cfg.address;
  st.proto.emplace(settings);
  st.proto->start(now_ms(self));
  transport::client_options opts;
  opts.host = st.cfg.host;
  opts.port = st.cfg.port;
  opts.tls = st.cfg.tls != nullptr;
  opts.tls_context = st.cfg.tls;
  opts.connect_timeout = std::chrono::milliseconds(st.cfg.connect_timeout_ms);
  st.client = transport::stream_client::start(
      opts, std::make_shared<link_forwarder>(caf::actor{self}, st.gen));
}

/// Sends what a mailbox delivered.
void on_entries(endpoint_actor* self, storage::queue_handle q, entries& es) {
  auto& st = self->state;
  const hub::binding* from = st.drain->subscribed(q);
  if (from == nullptr || !st.opened || !st.proto) {
    return; // from before an unsub: the mailbox delivers it again to the next subscription
  }
  for (auto& e : es) {
    auto msg = routing::decode(e.body);
    if (!msg) {
      st.drain->drop_invalid(from, e.seq);
      continue;
    }
    st.proto->send(*msg, st.drain->track(from, e.seq, sender_of(*msg)));
  }
  amqp::bus::events evs;
  st.proto->take_events(evs);
  handle(self, evs);
}

caf::behavior endpoint_link(endpoint_actor* self, std::shared_ptr<const hub_services> hub,
                            endpoint_link_config cfg) {
  auto& st = self->state;
  st.hub = std::move(hub);
  st.cfg = std::move(cfg);
  st.connected = &st.hub->metrics->endpoint_connected.Add({{"endpoint", st.cfg.name}});
  if (st.hub->sessions) {
    self->join(st.hub->sessions);
  }
  self->set_default_handler(caf::drop); // the sessions group says more than this link hears
  st.drain.emplace(
      caf::actor{self},
      [name = st.cfg.name](const hub::binding& b) {
        return b.target.what == routing::endpoint::kind::named && b.target.name == name;
      },
      st.cfg.name, "rejected_endpoint", st.hub->metrics);
  st.drain->read(st.hub->routes->get(), false);
  connect(self);
  return shared_link_handlers(self).or_else(caf::message_handler{
      [=](link_connected_atom, std::uint64_t gen) {
        if (gen == self->state.gen) {
          flush(self); // SASL, the AMQP header and open, queued since start
        }
      },
      [=](link_data_atom, std::uint64_t gen, const std::string& bytes) {
        auto& s = self->state;
        if (gen != s.gen || !s.proto) {
          return;
        }
        amqp::bus::events evs;
        s.proto->on_bytes(bytes, now_ms(self), evs);
        handle(self, evs);
      },
      [=](tick_atom, std::uint64_t gen) {
        auto& s = self->state;
        if (gen != s.gen || !s.proto) {
          return;
        }
        s.tick_at = 0;
        amqp::bus::events evs;
        s.proto->on_tick(now_ms(self), evs);
        handle(self, evs);
      },
      [=](closed_atom) {
        auto& s = self->state;
        if (s.proto) {
          s.proto->close("the edge hub is stopping");
          flush(self);
        }
        s.drain->unsubscribe_all();
        s.connected->Set(0);
        s.client.reset();
        self->quit();
      },
  });
}

} // namespace

caf::actor spawn_endpoint_link(caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
                               endpoint_link_config cfg) {
  return sys.spawn<caf::detached>(endpoint_link, std::move(hub), std::move(cfg));
}

} // namespace outpost::actors
