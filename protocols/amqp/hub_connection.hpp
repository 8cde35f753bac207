#pragma once

#include "protocols/amqp/address.hpp"
#include "protocols/common/result.hpp"
#include "protocols/iothub/identity.hpp"
#include "routing/model/message.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

namespace outpost::amqp {

/// One connection's limits and what the hub advertises.
struct connection_settings {
  std::string container_id = "outpost";
  /// Advertised idle time-out: peers send heartbeats at half of it (facts §4: edgeHub 240 s).
  /// A peer silent for longer than its own advertised time-out is closed.
  std::uint32_t idle_timeout_ms = 240000;
  std::uint32_t max_frame_size = 65536;
  /// Credit granted on a telemetry link: deliveries the client may have unsettled (each is
  /// settled once durable, and its credit comes back then).
  std::uint32_t telemetry_credit = 100;
  /// A message (all its transfer frames) above this closes the connection
  /// (`amqp:link:message-size-exceeded`); IoT Hub's limit is 256 KiB of body.
  std::size_t max_message_bytes = 256 * 1024 + 16 * 1024;
  /// Links open at once on the connection, identities authenticated on it, and sessions.
  std::size_t max_links = 256;
  std::size_t max_identities = 128;
  std::size_t max_sessions = 64;
  /// The same once a child edge authenticated an identity on behalf of its scope (a put-token
  /// with an auth-chain that passed): one session, a few links and a token per identity it
  /// carries (facts §7.1), so thousands of devices below it fit.
  std::size_t edge_max_links = 40000;
  std::size_t edge_max_identities = 10000;
  std::size_t edge_max_sessions = 10016;
};

/// The shell's verdict on credentials (a CBS token, a SASL PLAIN password, or, with an empty
/// token, the TLS client certificate).
struct auth_verdict {
  bool ok = false;
  std::string why;            ///< when refused: said to the client
  std::int64_t expires_s = 0; ///< SAS expiry (seconds since the epoch); 0 = none
  bool service = false;       ///< the hub's service policy (`iothubowner`), not an identity
};
/// Checks `token` for `who` (empty `who`: the service policy; empty `token`: the client
/// certificate). `auth_chain` is the put-token's `com.microsoft:auth-chain` application
/// property (a child edge vouching for an identity of its scope, `"<device>;...;<edge>"`), empty
/// otherwise. Called synchronously from inside the connection's event handling.
using authenticate_fn = std::function<auth_verdict(
    const iothub::client_identity& who, const std::string& token, std::string_view auth_chain)>;

/// An identity is authenticated on this connection (first time, or its token renewed).
struct identity_event {
  iothub::client_identity who;
  std::int64_t expires_s = 0;
  bool renewed = false;
};
/// A telemetry message (device telemetry or module output) from `who`: settle it with
/// `settle(delivery, ...)` once it is durable (or dropped).
struct telemetry_event {
  iothub::client_identity who;
  routing::message msg;
  std::uint64_t delivery = 0;
};
/// The peer closed the connection, or it failed; `why` is the condition, for the log.
struct closed_event {
  std::string why;
};

/// How a delivery is settled (by the hub: a client's telemetry; by the client: what the hub
/// sent it). For C2D: accepted = complete, rejected = reject, released = abandon.
enum class outcome : unsigned char { accepted, rejected, released };

/// What a client's receiving link is for: what the hub may now send it.
enum class outbound : unsigned char {
  inputs,  ///< a module's inputs (`/devices/{d}/modules/{m}/messages/events`)
  c2d,     ///< a device's cloud-to-device messages (`.../messages/devicebound`)
  twin,    ///< twin responses and desired-property patches (`.../twin`)
  methods, ///< direct method requests (`.../methods/devicebound`)
};
const char* to_string(outbound k) noexcept;

/// A client attached (or detached) a receiving link of `kind` for `who`.
struct link_event {
  iothub::client_identity who;
  outbound kind = outbound::inputs;
  bool attached = true;
};
/// The client settled what the hub sent with `deliver(..., token)`.
struct delivered_event {
  iothub::client_identity who;
  std::uint64_t token = 0;
  outcome how = outcome::accepted;
};
/// A twin request (wire §3.5): `op` GET, PATCH (reported), PUT or DELETE (desired
/// notifications); answer with `twin_response(who, correlation, ...)`.
struct twin_request_event {
  iothub::client_identity who;
  std::string op;
  std::string resource;
  std::string correlation; ///< the request's correlation-id, in its string form
  std::string body;
};
/// The client's answer to a direct method request.
struct method_response_event {
  iothub::client_identity who;
  std::string request_id;
  int status = 0;
  std::string body;
};

/// A service caller (authenticated with the service policy's token) sends a C2D message to
/// `device_id` on `/messages/devicebound`: settle `delivery` once the device's queue holds it
/// (accepted) or refuses it (rejected).
struct c2d_send_event {
  std::string device_id;
  routing::message msg;
  std::uint64_t delivery = 0;
};

/// An identity lost its authorization on this connection (`reauthenticate`): its links are
/// closed; the owner ends what it holds for it.
struct revoked_event {
  std::string id;
  std::string why;
};

using event =
    std::variant<identity_event, telemetry_event, closed_event, link_event, delivered_event,
                 twin_request_event, method_response_event, c2d_send_event, revoked_event>;
using events = std::vector<event>;

/// One AMQP 1.0 connection in IoT Hub's dialect (facts §4, wire §3), server side: Qpid
/// Proton's engine (`proton::io::connection_driver`) with the hub's handler, fed with bytes by
/// its owner. SASL ANONYMOUS, MSSBCBS and PLAIN (a SAS token as the password), or no SASL at
/// all (the Node SDK); CBS put-token on `$cbs` for any number of identities, each renewable;
/// links checked against the identity they name. Telemetry deliveries come out as events and
/// are settled by the owner once durable; their credit returns only then.
///
/// Pure: bytes and time in, bytes and events out; no sockets, threads or clocks. Owned by one
/// actor; not thread-safe.
class hub_connection {
public:
  hub_connection(connection_settings settings, authenticate_fn authenticate);
  ~hub_connection();
  hub_connection(const hub_connection&) = delete;
  hub_connection& operator=(const hub_connection&) = delete;

  /// Bytes from the peer (any split), at `now_ms` (wall clock, ms since the epoch).
  void on_bytes(std::string_view bytes, std::int64_t now_ms, events& out);
  /// The socket is gone: the engine is told, closing events follow.
  void on_disconnected(events& out);
  /// Time passed: heartbeats to send, a silent peer to close.
  void on_tick(std::int64_t now_ms, events& out);
  /// When `on_tick` must run next (ms since the epoch); 0 = no timer.
  std::int64_t next_tick() const noexcept { return next_tick_; }

  /// Sends a stored message on `who`'s link of `kind` (inputs or c2d) as IoT Hub does (Data
  /// body, `x-opt-input-name`, the connection ids...); the client's settlement comes back as a
  /// `delivered_event` with `token`. Waits in the link's queue while the client grants no
  /// credit; dropped (never settled) when no such link is attached.
  void deliver(const iothub::client_identity& who, outbound kind, const routing::message& msg,
               std::uint64_t token, std::uint32_t delivery_count);
  /// Answers a twin request (`status` as a message annotation, `body` JSON or empty).
  void twin_response(const iothub::client_identity& who, const std::string& correlation, int status,
                     std::string body, std::int64_t version);
  /// Pushes a desired-properties patch (`{"k":v,"$version":N}`) on the twin link.
  void desired_patch(const iothub::client_identity& who, std::string body);
  /// Sends a direct method request on the methods link.
  void method_request(const iothub::client_identity& who, const std::string& request_id,
                      const std::string& method, std::string payload);
  /// Whether `who` has a receiving link of `kind` attached.
  bool listening(const iothub::client_identity& who, outbound kind) const;

  /// Settles a telemetry delivery and gives its link a credit back.
  void settle(std::uint64_t delivery, outcome how, const std::string& why = {});
  /// Closes the connection with an error condition (e.g. `amqp:unauthorized-access`).
  void close(const std::string& condition, const std::string& description);

  /// The bytes to send now (empty: nothing). Call after every call above.
  std::string take_output();
  /// The engine is done: everything is written and nothing more will be read.
  bool finished() const noexcept;
  /// Events the calls without an `events` parameter queued (deliveries, settlements: links
  /// the engine opened or closed meanwhile).
  void take_events(events& out);

  /// The identities changed: every credential held is checked again through the authenticate
  /// function; identities that fail lose their links (`revoked_event`).
  void reauthenticate(events& out);

  /// Whether `who` holds a valid authentication on this connection at `now_s`.
  bool authenticated(const iothub::client_identity& who, std::int64_t now_s) const;

  class handler; // Proton's callbacks; private to the .cpp

private:
  template <class F>
  void guarded(F&& f);

  std::unique_ptr<handler> handler_;
  std::int64_t next_tick_ = 0;
};

} // namespace outpost::amqp
