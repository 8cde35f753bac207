#pragma once

#include "protocols/common/result.hpp"
#include "protocols/transport/tls_context.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>

namespace outpost::transport {

/// What a `stream_client` tells its owner. Called on the client's own thread, one call at a
/// time; calls should be quick (hand the bytes to an actor).
class client_handler {
public:
  virtual ~client_handler() = default;
  /// Connected (and, for TLS, the handshake and the peer's certificate checks passed).
  virtual void on_connected() = 0;
  /// Bytes from the peer (any split); the view is valid during the call only.
  virtual void on_data(std::string_view bytes) = 0;
  /// The connection is over, or never came up: called exactly once, last. `why` says what
  /// failed (resolving, connecting, the handshake with OpenSSL's reason, the peer closing).
  virtual void on_closed(std::error_code ec, const std::string& why) = 0;
};

struct client_options {
  std::string host; ///< a name or an IP literal to connect to
  unsigned short port = 0;
  bool tls = true;
  std::string server_name; ///< TLS: SNI and the name the certificate must carry ("" = host)
  std::shared_ptr<const tls_client_context> tls_context; ///< TLS: required
  std::chrono::milliseconds connect_timeout{10000};      ///< TCP connect and TLS handshake together
};

/// One outbound byte stream (TCP, or TLS with the peer verified) for the upstream link: a
/// single long-lived connection, so it runs on its own thread with `poll`, not on the I/O
/// runner built for thousands of accepted ones. Sends are queued and written in order;
/// `close` ends it. Owned by one owner; `send` and `close` may be called from any thread.
class stream_client {
public:
  /// Starts connecting at once (on the client's thread); the handler hears the outcome.
  static std::unique_ptr<stream_client> start(client_options options,
                                              std::shared_ptr<client_handler> handler);
  /// Closes and joins the thread; `on_closed` has run when this returns.
  ~stream_client();
  stream_client(const stream_client&) = delete;
  stream_client& operator=(const stream_client&) = delete;

  /// Queues `bytes` (written after what was queued before). Dropped once closed. Returns the
  /// bytes queued and not yet written.
  std::size_t send(std::string bytes);
  /// Ends the connection: queued bytes are written first (bounded by a second), then the
  /// socket closes. `on_closed` follows. Idempotent.
  void close();

  struct impl;

private:
  explicit stream_client(std::unique_ptr<impl> impl);
  std::unique_ptr<impl> impl_;
};

} // namespace outpost::transport
