#pragma once

#include "protocols/iothub/identity.hpp"
#include "routing/model/message.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace outpost::amqp {

/// The client side of the upstream link's connection.
struct upstream_settings {
  std::string container_id; ///< the child edge's device id
  std::string hostname;     ///< `open.hostname`: the parent's (IoT hub's) host name
  /// Advertised idle time-out (facts §7.1: the SDK's server heartbeat, 60 s): the parent sends
  /// heartbeats at half of it, and one silent for longer than its own is taken as gone.
  std::uint32_t idle_timeout_ms = 60000;
  std::uint32_t max_frame_size = 65536;
  /// Put-token requests waiting for their answer at once (a parent that never answers cannot
  /// make the child queue without bound).
  std::size_t max_pending_tokens = 256;
};

namespace up {

/// The connection is open and its `$cbs` links attached: tokens may be put.
struct opened {};
/// A put-token was answered: `status` 200 means `id` may send.
struct token_answered {
  std::string id; ///< "<device>" or "<device>/<module>"
  int status = 0;
  std::string description;
};
/// The parent settled message `token` (`accepted`: it is durable there; `rejected`: it will
/// never take it; `released`: try again later, also for messages whose link or connection
/// ended before they were settled).
struct settled {
  std::uint64_t token = 0;
  enum class how : unsigned char { accepted, rejected, released } outcome = how::accepted;
  std::string why;
};
/// The parent closed `id`'s telemetry link (e.g. `amqp:unauthorized-access`): `why` says why.
struct link_closed {
  std::string id;
  std::string why;
};
/// The connection is over (closed by the parent, failed, or the socket went): `why` for logs.
struct closed {
  std::string why;
};
/// A cloud-to-device message for device `id` (its C2D link, `listen`): settle it with
/// `settle_c2d(delivery, ...)` once the child holds it.
struct c2d_message {
  std::string id;
  routing::message msg;
  std::uint64_t delivery = 0;
};
/// A direct method call for `id` (its methods link, `listen`): answer with `method_response`.
struct method_request {
  std::string id;
  std::string request_id;
  std::string method;
  std::string payload;
};

/// The parent answered a `twin_request` (`status` 200 GET with the twin JSON, 204 PATCH, 200
/// PUT; errors with IoT Hub's body).
struct twin_response {
  std::string id;
  std::string correlation;
  int status = 0;
  std::string body;
};
/// The parent pushed a desired-properties patch (`{"k":v,"$version":N}`) for `id`, which
/// subscribed with a `PUT` twin request.
struct desired_patch {
  std::string id;
  std::string body;
};

using event = std::variant<opened, token_answered, settled, link_closed, closed, c2d_message,
                           method_request, twin_response, desired_patch>;
using events = std::vector<event>;

} // namespace up

/// One AMQP 1.0 client connection to a parent hub in IoT Hub's dialect, carrying many
/// identities (facts §7.1: the pooled AMQP connection of edgeHub's cloud proxies): no SASL,
/// `$cbs` put-token per identity (with `com.microsoft:auth-chain` when the child edge vouches
/// for it), then one session per identity with a sender to its telemetry address
/// (`/devices/{d}[/modules/{m}]/messages/events`). Messages go out in IoT Hub's client format
/// (`to_amqp_telemetry`), as many in flight as the parent grants credit; every one is settled
/// exactly once through an event.
///
/// Pure: Qpid Proton's `connection_driver`, bytes and time in, bytes and events out; no
/// sockets, threads or clocks. Owned by one actor; not thread-safe.
class upstream_connection {
public:
  explicit upstream_connection(upstream_settings settings);
  ~upstream_connection();
  upstream_connection(const upstream_connection&) = delete;
  upstream_connection& operator=(const upstream_connection&) = delete;

  /// Starts the connection (AMQP header, open, the `$cbs` links) at `now_ms`.
  void start(std::int64_t now_ms);
  /// Bytes from the parent (any split).
  void on_bytes(std::string_view bytes, std::int64_t now_ms, up::events& out);
  /// The socket is gone: every message not settled comes back `released`, then `closed`.
  void on_disconnected(up::events& out);
  /// Time passed: heartbeats to send, a silent parent to close.
  void on_tick(std::int64_t now_ms, up::events& out);
  /// When `on_tick` must run next (ms since the epoch); 0 = no timer.
  std::int64_t next_tick() const noexcept { return next_tick_; }

  /// Puts `token` (a SAS token for `audience`, e.g. `hub/devices/leaf`) for identity `who` on
  /// `$cbs`; `auth_chain` is empty for the edge's own identities signed with their own keys.
  /// Answered by `token_answered`; the identity's link opens with the first success. A renewal
  /// is another call: the link stays. False when too many tokens already await an answer.
  bool put_token(const iothub::client_identity& who, const std::string& audience,
                 const std::string& token, const std::string& auth_chain);
  /// Sends `msg` as `who`'s telemetry (a module's output when it carries an output name);
  /// waits in the identity's queue until its token is accepted and the parent grants credit.
  /// Settled by a `settled` event with `token`.
  void send(const iothub::client_identity& who, const routing::message& msg, std::uint64_t token);
  /// Receives what the parent sends `who` (IoT Edge's cloud proxy subscriptions, facts §7.1):
  /// direct method calls (`methods`: a receiver and a sender on `.../methods/devicebound`, one
  /// channel) and, for a device, its C2D messages (`.../messages/devicebound`). Opened once the
  /// identity's token is accepted; idempotent.
  void listen(const iothub::client_identity& who);
  /// Stops receiving for `who` (its client left this edge): its C2D link and method links
  /// close, C2D messages not settled yet are released (the parent keeps them), calls in flight
  /// are forgotten (the parent times them out). Idempotent.
  void unlisten(const iothub::client_identity& who);
  /// Settles a `c2d_message` (accepted: the child holds it; rejected: it never will; released:
  /// not now) and grants its link the next credit.
  void settle_c2d(std::uint64_t delivery, up::settled::how outcome);
  /// Answers a `method_request` on `who`'s methods link.
  void method_response(const iothub::client_identity& who, const std::string& request_id,
                       int status, const std::string& payload);
  /// A twin request for `who` (wire §3.5): `op` GET, PATCH (reported, `body` the patch) or
  /// PUT/DELETE (desired notifications on/off), answered by a `twin_response` with
  /// `correlation`. The twin links open with the first request (once the token is accepted).
  void twin_request(const iothub::client_identity& who, const std::string& op,
                    const std::string& correlation, const std::string& body);
  /// Messages handed to `send` and not settled yet.
  std::size_t in_flight() const noexcept;
  /// Whether `who`'s token was accepted (and its link is not closed).
  bool authorized(const iothub::client_identity& who) const;

  /// Closes the connection (an orderly AMQP close).
  void close(const std::string& why);
  /// The bytes to send now (empty: nothing). Call after every call above.
  std::string take_output();
  /// Events the calls without an `events` parameter queued.
  void take_events(up::events& out);
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
