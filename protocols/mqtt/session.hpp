#pragma once

#include "protocols/common/ring_queue.hpp"
#include "protocols/mqtt/packets.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

namespace outpost::mqtt {

/// Per-connection protocol limits.
struct session_limits {
  std::size_t max_inflight_out = 64; ///< unacknowledged QoS 1 publishes to the client
  std::size_t max_pending_in = 64;   ///< inbound QoS 1 publishes not yet acknowledged
  /// CONNECT must arrive within this (ARCHITECTURE §7: 10 s, TLS handshake included; IoT
  /// Edge's ConnectArrivalTimeout is 60 s).
  std::int64_t connect_timeout_ms = 10000;
  /// A keepalive of 0 (none) or above this is served as this (IoT Edge's MaxKeepAliveTimeout,
  /// 600 s): a silent client is found within 1.5 x 600 s whatever it asked for.
  std::uint16_t max_keepalive_s = 600;
  /// Topic filters one session may hold; more get SUBACK 0x80.
  std::size_t max_subscriptions = 50;
};

/// Whether a topic filter may be granted to this session's client (SUBACK 0x80 otherwise).
using filter_policy = std::function<bool(std::string_view filter)>;

/// Why the session wants the network connection closed.
enum class close_reason : std::uint8_t {
  protocol_error,     ///< a malformed packet or a protocol violation (§4.8)
  not_authorized,     ///< CONNECT refused
  keepalive_timeout,  ///< nothing received within 1.5 x keepalive (§3.1.2.10)
  connect_timeout,    ///< no CONNECT in time
  client_disconnect,  ///< DISCONNECT received
  qos2_not_supported, ///< IoT Hub semantics: a QoS 2 PUBLISH closes the connection
  taken_over,         ///< another connection with the same client id
  revoked,            ///< the identity was disabled, removed or re-keyed, or its token expired
  output_stalled,     ///< the client did not read what was sent to it for too long
};

/// Send this packet to the client.
struct send_action {
  packet p;
};
/// Authenticate this CONNECT, then call `accept` or `refuse`.
struct authenticate_action {
  connect c;
};
/// Route this publish. For QoS 1 call `persisted(packet_id)` once it is durable.
struct publish_action {
  publish p;
};
/// The client subscribed to filters it did not hold yet (only those, only granted ones); the
/// SUBACK is already among the actions.
struct subscribe_action {
  std::vector<std::pair<std::string, std::uint8_t>> filters;
};
/// The client unsubscribed from filters it held (only those).
struct unsubscribe_action {
  std::vector<std::string> filters;
};
/// The client acknowledged the outbound publish that carried `token`.
struct acked_action {
  std::uint64_t token = 0;
};
/// Close the connection; actions before this one are still sent.
struct close_action {
  close_reason why = close_reason::protocol_error;
  bool publish_will = false; ///< abnormal end: the will message applies (§3.1.2.5)
};

using action = std::variant<send_action, authenticate_action, publish_action, subscribe_action,
                            unsubscribe_action, acked_action, close_action>;
using actions = std::vector<action>;

/// The MQTT 3.1.1 server-side protocol state of one connection: what to send, route, ack and
/// when to close. Pure: packets and time in, actions out; authentication, routing and
/// persistence are the caller's (the session actor's), told back through `accept`,
/// `persisted` and `publish_out`. Owned by one actor; not thread-safe.
class session {
public:
  enum class state : std::uint8_t { awaiting_connect, authenticating, connected, closed };

  session(session_limits limits, std::int64_t now_ms);
  /// Limits shared by a listener's sessions: one copy instead of 40 bytes per connection. (The
  /// clock comes first so that `session{{}, now}` still names the other constructor.)
  session(std::int64_t now_ms, std::shared_ptr<const session_limits> limits);

  /// One decoded packet received at `now_ms`.
  void on_packet(packet&& p, std::int64_t now_ms, actions& out);
  /// The codec rejected a frame: answer CONNACK 1 for an unknown protocol level (§3.1.2.2)
  /// before CONNECT completes, then close.
  void on_decode_error(std::error_code ec, actions& out);
  /// Authentication succeeded: CONNACK 0 with `session_present` (§3.2.2.2).
  void accept(bool session_present, actions& out);
  /// Authentication failed: CONNACK `return_code` (4 bad credentials, 5 not authorized), close.
  void refuse(std::uint8_t return_code, actions& out);
  /// The inbound QoS 1 publish `packet_id` is durable: PUBACKs go out in arrival order
  /// ([MQTT-4.6.0-2]) as soon as every earlier one is durable too.
  void persisted(std::uint16_t packet_id, actions& out);
  /// Sends a QoS 1 publish to the client; false (and nothing sent) when the window is full.
  bool publish_out(std::string topic, std::string payload, std::uint64_t token, actions& out);
  /// Sends a QoS 0 publish (IoT Hub's twin responses, desired patches and method requests);
  /// false (and nothing sent) unless connected.
  bool notify(std::string topic, std::string payload, actions& out);
  /// Checks the connect and keepalive deadlines.
  void on_tick(std::int64_t now_ms, actions& out);
  /// Another connection took the client id over.
  void take_over(actions& out);
  /// The server ends the session (credentials revoked or expired, output stalled): close.
  void end(close_reason why, actions& out);

  /// Who decides which filters are granted (default: all). Set before CONNECT completes.
  void set_filter_policy(filter_policy policy) { policy_ = std::move(policy); }
  /// The filters of a resumed persistent session (§3.1.2.4); those the policy refuses or
  /// beyond `max_subscriptions` are dropped. Returns what is kept.
  const std::vector<std::string>& restore_subscriptions(std::vector<std::string> filters);
  /// The filters held now, in subscription order.
  const std::vector<std::string>& subscriptions() const noexcept { return subscriptions_; }

  state current() const noexcept { return state_; }
  bool clean_session() const noexcept { return clean_session_; }
  /// When `on_tick` has something to do next (ms since the epoch).
  std::int64_t next_deadline() const noexcept;
  /// Inbound QoS 1 publishes not yet acknowledged: the caller stops reading the socket at
  /// `limits.max_pending_in` (backpressure).
  std::size_t pending_in() const noexcept { return pending_in_.size(); }
  bool window_full() const noexcept { return inflight_out_.size() >= limits_->max_inflight_out; }

private:
  void on_connect(connect&& c, actions& out);
  void on_publish(publish&& p, actions& out);
  void on_puback(const puback& p, actions& out);
  void on_subscribe(subscribe&& s, actions& out);
  void on_unsubscribe(unsubscribe&& u, actions& out);
  void close(close_reason why, bool will, actions& out);
  std::uint16_t next_packet_id();

  // Small members together (no padding between them): ten thousand connections hold one each.
  std::shared_ptr<const session_limits> limits_;
  state state_ = state::awaiting_connect;
  bool clean_session_ = true;
  std::uint16_t last_packet_id_ = 0;
  std::int64_t created_ms_;
  std::int64_t last_packet_ms_;
  std::int64_t keepalive_ms_ = 0;
  /// Inbound QoS 1 packet ids in arrival order, with "durable yet?".
  ring_queue<std::pair<std::uint16_t, bool>> pending_in_;
  /// Outbound packet id -> caller's token.
  std::map<std::uint16_t, std::uint64_t> inflight_out_;
  filter_policy policy_;
  std::vector<std::string> subscriptions_;
};

} // namespace outpost::mqtt
