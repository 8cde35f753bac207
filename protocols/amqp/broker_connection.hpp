#pragma once

#include "protocols/amqp/upstream_connection.hpp"
#include "routing/model/message.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace outpost::amqp {

/// The client side of a connection to a plain AMQP 1.0 broker (RabbitMQ's AMQP 1.0 plugin,
/// ActiveMQ Artemis, Qpid Dispatch...): a route's `Endpoint("<name>")`.
struct broker_settings {
  std::string container_id; ///< this edge's device id
  std::string hostname;     ///< `open.hostname` (the broker's host; RabbitMQ's vhost is "vhost:x")
  /// SASL PLAIN with these (empty user: SASL ANONYMOUS). PLAIN goes over a plain socket only
  /// because the configuration asked for `amqp://` with a password.
  std::string user;
  std::string password;
  std::string address; ///< the target node, e.g. RabbitMQ's "/queue/telemetry"
  std::uint32_t idle_timeout_ms = 60000;
  std::uint32_t max_frame_size = 65536;
};

namespace bus {

/// The connection is open, the sender attached and the broker granted it credit.
using opened = up::opened;
/// The broker settled message `token` (accepted: it holds it; rejected: it never will;
/// released: again later, also for what was unsettled when the connection ended).
using settled = up::settled;
/// The connection is over (refused by SASL, closed by the broker, failed, socket gone).
using closed = up::closed;

using event = std::variant<opened, settled, closed>;
using events = std::vector<event>;

} // namespace bus

/// One AMQP 1.0 client connection to a broker with one session and one sender to
/// `settings.address`. Messages go out in IoT Hub's event format (`to_amqp`: properties, ids,
/// content type, application properties and the `iothub-connection-device-id`/`-module-id`
/// and `iothub-enqueuedtime` annotations, as an Event Hubs consumer of IoT Hub reads them), as
/// many in flight as the broker grants credit, each settled exactly once through an event.
///
/// Pure: Qpid Proton's `connection_driver`, bytes and time in, bytes and events out; no
/// sockets, threads or clocks. Owned by one actor; not thread-safe.
class broker_connection {
public:
  explicit broker_connection(broker_settings settings);
  ~broker_connection();
  broker_connection(const broker_connection&) = delete;
  broker_connection& operator=(const broker_connection&) = delete;

  /// Starts the connection (SASL, AMQP header, open, the session and the sender) at `now_ms`.
  void start(std::int64_t now_ms);
  /// Bytes from the broker (any split).
  void on_bytes(std::string_view bytes, std::int64_t now_ms, bus::events& out);
  /// The socket is gone: every message not settled comes back `released`, then `closed`.
  void on_disconnected(bus::events& out);
  /// Time passed: heartbeats to send, a silent broker to close.
  void on_tick(std::int64_t now_ms, bus::events& out);
  /// When `on_tick` must run next (ms since the epoch); 0 = no timer.
  std::int64_t next_tick() const noexcept { return next_tick_; }

  /// Sends `msg`; waits until the sender is attached and has credit. Settled by a `settled`
  /// event with `token`.
  void send(const routing::message& msg, std::uint64_t token);
  /// Messages handed to `send` and not settled yet.
  std::size_t in_flight() const noexcept;

  /// Closes the connection (an orderly AMQP close).
  void close(const std::string& why);
  /// The bytes to send now (empty: nothing). Call after every call above.
  std::string take_output();
  /// Events the calls without an `events` parameter queued.
  void take_events(bus::events& out);
  /// The engine is done: nothing more will be read or written.
  bool finished() const noexcept;

  class handler; // Proton's callbacks; private to the .cpp

private:
  template <class F>
  void guarded(F&& f);

  std::unique_ptr<handler> handler_;
  std::int64_t next_tick_ = 0;
};

} // namespace outpost::amqp
