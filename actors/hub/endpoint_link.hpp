#pragma once

#include "actors/hub/mqtt_session.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace outpost::transport {
class tls_client_context;
}

namespace outpost::actors {

/// One `[endpoints.<name>]` of the configuration: an AMQP 1.0 broker.
struct endpoint_link_config {
  std::string name; ///< the route sink's `Endpoint("<name>")`
  std::string host;
  unsigned short port = 5672;
  /// TLS (`amqps://`): the broker's certificate is verified against it and `host`; null for
  /// a plain `amqp://` socket.
  std::shared_ptr<const transport::tls_client_context> tls;
  std::string user; ///< SASL PLAIN; "" = ANONYMOUS
  std::string password;
  std::string address; ///< the node the messages go to
  std::int64_t max_backoff_ms = 60000;
  std::int64_t connect_timeout_ms = 10000;
};

/// Spawns the link of one route endpoint (issue 12's routes to an AMQP broker): it drains the
/// `Endpoint("<name>")` mailboxes of the current routes over one `amqp::broker_connection`,
/// highest priority first while a backlog exists, each entry acknowledged to its mailbox only
/// once the broker settled it accepted (rejected: dropped and counted as
/// `rejected_endpoint`; anything else comes again), with the same jittered back-off as the
/// upstream link. `edgehub_messages_sent_total{to="<name>"}` counts what the broker took,
/// `outpost_endpoint_connected{endpoint="<name>"}` says whether it is connected. Joins
/// `hub.sessions`: `routes_atom` re-reads the routes, `closed_atom` stops it.
caf::actor spawn_endpoint_link(caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
                               endpoint_link_config cfg);

} // namespace outpost::actors
