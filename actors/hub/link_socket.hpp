#pragma once

// Private to actors/hub: what the outbound links (the upstream link, the route endpoints'
// brokers) share about their one socket: the messages its thread sends the link's actor, and
// the reconnect back-off.

#include "actors/common/messages.hpp"
#include "actors/hub/hub_routes.hpp"
#include "actors/hub/mqtt_session.hpp" // routes_atom and the hub's services
#include "protocols/transport/stream_client.hpp"

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/message_handler.hpp>
#include <caf/send.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace outpost::actors {

using link_connected_atom = caf::atom_constant<caf::atom("lnkconn")>;
using link_data_atom = caf::atom_constant<caf::atom("lnkdata")>;
using link_closed_atom = caf::atom_constant<caf::atom("lnkclosed")>;
using link_retry_atom = caf::atom_constant<caf::atom("lnkretry")>;

/// The socket side: forwards to the actor, tagged with the connection's generation so that
/// what a previous connection said is told apart.
class link_forwarder final : public transport::client_handler {
public:
  link_forwarder(caf::actor owner, std::uint64_t gen) : owner_(std::move(owner)), gen_(gen) {}
  void on_connected() override { caf::anon_send(owner_, link_connected_atom::value, gen_); }
  void on_data(std::string_view bytes) override {
    caf::anon_send(owner_, link_data_atom::value, gen_, std::string{bytes});
  }
  void on_closed(std::error_code, const std::string& why) override {
    caf::anon_send(owner_, link_closed_atom::value, gen_, why);
  }

private:
  caf::actor owner_;
  std::uint64_t gen_;
};

/// The wait before attempt `attempt` (0 = the first after a loss): 1 s doubling up to
/// `max_ms`, jittered over its upper half so that many links do not retry in step.
inline std::int64_t link_backoff_ms(int attempt, std::int64_t max_ms, std::mt19937_64& rng) {
  const auto base = std::min<std::int64_t>(max_ms, std::int64_t{1000} << std::min(attempt, 16));
  std::uniform_int_distribution<std::int64_t> jitter(base / 2, base);
  return jitter(rng);
}

/// The handlers both links share: their socket's end, the retry timer, the mailboxes'
/// deliveries and `drained` notices, and new routes. `Self`'s state has `gen`, `client`,
/// `opened`, `drain` and `hub`; `disconnected(self, why)`, `connect(self)` and
/// `on_entries(self, q, es)` are each link's own (found where `Self` is declared).
template <class Self>
caf::message_handler shared_link_handlers(Self* self) {
  return {
      [=](link_closed_atom, std::uint64_t gen, const std::string& why) {
        if (gen == self->state.gen) {
          disconnected(self, why);
        }
      },
      [=](link_retry_atom, std::uint64_t gen) {
        if (gen == self->state.gen && !self->state.client) {
          connect(self);
        }
      },
      [=](deliver_atom, storage::queue_handle q, entries& es) { on_entries(self, q, es); },
      [=](drained_atom, storage::queue_handle) {
        if (self->state.opened) {
          self->state.drain->subscribe_next();
        }
      },
      [=](routes_atom) {
        self->state.drain->read(self->state.hub->routes->get(), self->state.opened);
      },
  };
}

} // namespace outpost::actors
