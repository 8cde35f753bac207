#pragma once

#include "protocols/transport/stream_server.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace outpost::transport {

/// What an HTTPS listener does with a WebSocket upgrade (RFC 6455): IoT Hub's
/// `GET /$iothub/websocket` carries MQTT (sub-protocol `mqtt`) or AMQP (`AMQPWSB10`) on port 443.
/// The upgraded connection becomes a `stream_connection` whose bytes are the binary messages'
/// payloads (message boundaries are not kept: the protocols above frame their own bytes), handed
/// to the `accept_fn` of the sub-protocol chosen, so the same session code runs over TLS and over
/// WebSockets.
struct websocket_options {
  /// The request path that upgrades (the query, e.g. `?iothub-no-client-cert=true`, is ignored).
  /// Other paths, and upgrades on them, go to the HTTP handler as before.
  std::string path = "/$iothub/websocket";
  /// Sub-protocols served, each with the accept function of its sessions. The first one the
  /// client lists (`Sec-WebSocket-Protocol`) that is here is chosen and echoed; a client that
  /// lists none of them gets 400 and its connection is closed.
  std::vector<std::pair<std::string, stream_server::accept_fn>> protocols;
  /// Open WebSocket connections beyond this many are refused (503) at their upgrade; they do
  /// not count against the HTTPS listener's connection cap once upgraded.
  std::size_t max_connections = 100000;
  /// Bound of the opening handshake's answer and of a graceful close (flush, close frames).
  std::chrono::seconds close_timeout{5};
};

} // namespace outpost::transport
