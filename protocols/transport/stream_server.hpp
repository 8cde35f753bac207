#pragma once

#include "protocols/common/result.hpp"
#include "protocols/transport/certificates.hpp"
#include "protocols/transport/io_runner.hpp"
#include "protocols/transport/tls_context.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace outpost::transport {

namespace detail {
class stream_listener;
} // namespace detail

/// Why a stream connection ended, when no system error (e.g. `connection_reset`) applies. A
/// connection closed by its own side's `close()` reports no error (`std::error_code{}`).
enum class stream_errc {
  peer_closed = 1, ///< orderly end from the peer: TCP FIN, or TLS close_notify
  server_stopped,  ///< `stream_server::stop()` (or its destructor) closed it
  tls_error,       ///< a TLS record failed (bad MAC, unexpected message, alert from the peer)
  handler_failed,  ///< the handler threw from `on_data`
  close_timeout,   ///< a graceful `close()` could not flush within `stream_options::close_timeout`
};

const std::error_category& stream_category() noexcept;
std::error_code make_error_code(stream_errc e) noexcept;

/// One accepted byte stream (TCP, or TLS after a completed handshake) as the protocol layer sees
/// it. Created by `stream_server` and handed to its `accept_fn`; owned by shared_ptr (the server
/// keeps it alive while it is open; the protocol layer may hold it longer, its members then do
/// nothing, but must release it before the `io_runner` is destroyed). Thread-safe: the session
/// actor calls it from CAF threads while the I/O threads run the socket; no member blocks or calls
/// a handler inline.
class stream_connection {
public:
  virtual ~stream_connection() = default;

  /// Unique per server (starts at 1), for logs and registries.
  virtual std::uint64_t id() const = 0;

  /// The peer's address, "a.b.c.d:port" or "[v6]:port".
  virtual std::string peer_address() const = 0;

  /// The client certificate (TLS listeners that request one, if the client sent one). Set
  /// before `accept_fn` runs and constant afterwards.
  virtual const std::optional<peer_certificate>& peer_cert() const = 0;

  /// Queues `bytes` for sending and returns how many bytes are queued but not yet written
  /// (including these), so the caller can apply backpressure (e.g. stop taking messages for
  /// this client above a limit). Never blocks, never copies the string: it is moved into the
  /// queue. Writes are coalesced: each pass gathers everything queued into one `sendmsg` (TCP)
  /// or 16 KiB TLS records (TLS), in order. Bytes sent after `close()` are dropped (returns 0).
  virtual std::size_t send(std::string bytes) = 0;

  /// Stops reading the socket: no `on_data` after this returns (unless one is running on the
  /// connection's strand right now), the kernel's receive buffer fills and the peer's writes
  /// block (TCP flow control). Used when a publisher's mailbox or the store is over its limit.
  /// Idempotent; calls do not nest (one `resume_reading` undoes any number of pauses).
  virtual void pause_reading() = 0;

  /// Reading resumes; data that arrived meanwhile is delivered. Idempotent.
  virtual void resume_reading() = 0;

  /// Closes the connection. With `flush`, the bytes queued before this call are written first
  /// (bounded by `stream_options::close_timeout`), then TLS close_notify and TCP FIN are sent and
  /// the remaining input is read and discarded until the peer closes (so the peer reads
  /// everything before a reset could destroy it); without, the socket is closed at once. No
  /// `on_data` after this returns (unless one is running now); `on_closed` follows, with no
  /// error, or `close_timeout` if the flush did not finish. Idempotent.
  virtual void close(bool flush = true) = 0;

  /// The protocol layer authenticated the peer: the connection no longer counts against
  /// `stream_options::max_unauthenticated_per_source`. Idempotent.
  virtual void authenticated() = 0;

  /// When the TCP connection was accepted (before any TLS handshake), so the protocol layer
  /// can bound the whole time to authenticate, handshake included.
  virtual std::chrono::steady_clock::time_point accepted_at() const = 0;
};

/// The protocol layer's side of one connection. Called on the connection's strand: never
/// concurrently for one connection, but for different connections concurrently on the
/// runner's threads. Calls should be quick (they hold an I/O thread): hand the bytes over
/// (e.g. `anon_send` to the session actor) rather than processing them in place. After
/// `on_closed` the connection drops its reference to the handler, so a handler may hold a
/// shared_ptr to its connection without a leak.
class stream_handler {
public:
  virtual ~stream_handler() = default;

  /// What one read pass returned (up to 64 KiB; for TLS possibly several records). The view is
  /// valid only during the call: the buffer is the I/O thread's and is reused at once. Frames
  /// may be split or merged arbitrarily; the handler buffers incomplete ones. An exception
  /// closes the connection at once (`stream_errc::handler_failed`).
  virtual void on_data(std::string_view bytes) = 0;

  /// The connection is closed: called exactly once, last. `ec` says why: empty after this
  /// side's `close()`, `stream_errc` or a system error (e.g. `connection_reset`) otherwise.
  /// Exceptions are swallowed.
  virtual void on_closed(std::error_code ec) = 0;
};

/// A listener's settings.
struct stream_options {
  /// "host:port" as for `http_server::start`: host an IPv4 literal, "[IPv6 literal]" or
  /// "localhost" (not resolved: 127.0.0.1); port 0 picks a free port.
  std::string address;
  /// Server certificate, key and CA bundle for TLS (read once by `start`; the pointer is not
  /// kept); nullptr = plain TCP.
  const tls_files* tls = nullptr;
  /// TLS: ask clients for a certificate (optional for them; see `tls_server_context`).
  bool request_client_cert = true;
  /// TLS: a connection that has not completed its handshake by then is closed.
  std::chrono::seconds handshake_timeout{10};
  /// Bound of a graceful `close()`: flushing plus waiting for the peer to close.
  std::chrono::seconds close_timeout{5};
  /// Above this many open connections (including those in their handshake) new ones are
  /// closed as soon as they are accepted.
  std::size_t max_connections = 100000;
  /// Connections from one source address (IP, any port) not yet `authenticated()`: above this
  /// many, new ones from that address are closed as soon as they are accepted. 0 = no limit.
  std::size_t max_unauthenticated_per_source = 0;
};

/// A TCP or TLS listener for the byte-stream protocols (MQTT on 8883/1883, AMQP on 5671),
/// built for the broker: thousands of mostly idle connections, 100k small messages per second
/// on two cores, and backpressure both ways.
///
/// Per connection: `TCP_NODELAY`; for TLS, a handshake bounded by `handshake_timeout` (a client
/// that fails or stalls it is closed alone, before `accept_fn` ever sees it), then
/// `accept_fn(connection)` on the connection's strand, which returns the handler or nullptr to
/// refuse (the connection is then closed without callbacks). Reading waits for readiness
/// without a buffer and reads into a per-thread 64 KiB buffer, so an idle connection costs its
/// socket, the OpenSSL session state and about a kilobyte of bookkeeping.
///
/// Owned by whoever started it; must be destroyed before its `io_runner`. All members may be
/// called from any thread; `accept_fn` is called on the runner's threads, concurrently for
/// different connections, and must be thread-safe.
class stream_server {
public:
  /// Returns the handler for a new connection, or nullptr to refuse it. Exceptions refuse too.
  using accept_fn =
      std::function<std::shared_ptr<stream_handler>(std::shared_ptr<stream_connection>)>;

  /// Loads the TLS files (if any), binds and starts accepting. Errors: as `http_server::start`
  /// for the address (`std::errc::invalid_argument`, or the system's bind error such as
  /// `address_in_use`), `tls_server_context::create`'s for the TLS files,
  /// `std::errc::invalid_argument` for an empty `accept`; `why` then says what failed.
  static result<std::unique_ptr<stream_server>> start(io_runner& io, const stream_options& options,
                                                      accept_fn accept, std::string& why);

  /// The address actually bound, e.g. "127.0.0.1:40123".
  std::string bound_address() const;

  /// Closes the listener (new connects are refused once this returns) and every connection
  /// (`on_closed(stream_errc::server_stopped)`, queued bytes dropped). Returns once every
  /// connection has been closed and its `on_closed` has returned, except when called from one of
  /// the runner's threads (e.g. from a handler), where waiting could deadlock: then the closes
  /// complete asynchronously. Idempotent; also run by the destructor.
  void stop();

  /// Connections accepted and not yet closed, including those still in their TLS handshake.
  std::size_t connection_count() const;

  ~stream_server();
  stream_server(const stream_server&) = delete;
  stream_server& operator=(const stream_server&) = delete;

private:
  explicit stream_server(std::shared_ptr<detail::stream_listener> listener);

  // Shared with the connections, which may outlive this object until their last pending I/O
  // operation completes.
  std::shared_ptr<detail::stream_listener> listener_;
};

} // namespace outpost::transport

template <>
struct std::is_error_code_enum<outpost::transport::stream_errc> : std::true_type {};
