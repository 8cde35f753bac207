#pragma once

#include "protocols/common/result.hpp"
#include "protocols/transport/io_runner.hpp"

#include <functional>
#include <memory>
#include <string>

namespace outpost::transport {

namespace detail {
class http_server_state;
} // namespace detail

/// One HTTP request as the handler sees it. A `HEAD` request arrives with `method == "GET"`:
/// the server answers it like GET and drops the body.
struct http_request {
  std::string method; ///< as sent, e.g. "GET", "POST"
  std::string target; ///< request-target as sent, e.g. "/metrics?x=1"
  std::string body;
};

/// The handler's answer. The server adds `Server`, `Content-Length` and `Connection`.
struct http_response {
  unsigned status = 200; ///< 200..599; anything else is answered with 500
  std::string content_type = "text/plain";
  std::string body;
};

/// Called once per request on an I/O thread of the server's `io_runner`, possibly on several
/// threads at once (one connection at a time each). It should answer quickly: it holds up the
/// connection it serves and an I/O thread. An exception it throws becomes a 500 response.
using http_handler = std::function<http_response(const http_request&)>;

/// A small HTTP/1.1 server (keep-alive, no TLS) for the metrics endpoint and local APIs.
///
/// Limits: request headers 16 KiB (431 beyond), body 1 MiB (413 beyond), 30 s idle time per
/// connection. A malformed or unknown request is answered with 400 and its connection is
/// closed; other connections are unaffected.
///
/// Owned by whoever started it; must be destroyed before its `io_runner`. All members may be
/// called from any thread.
class http_server {
public:
  /// Binds `address` ("host:port"; port 0 picks a free port; host is an IPv4 literal, a
  /// bracketed IPv6 literal such as "[::1]", or "localhost") and starts accepting connections
  /// on `io`. Errors: `std::errc::invalid_argument` for a malformed address or an empty
  /// handler, the system's error
  /// (e.g. address in use) when binding or listening fails.
  static result<std::unique_ptr<http_server>> start(io_runner& io, const std::string& address,
                                                    http_handler handler);

  /// The address actually bound, e.g. "127.0.0.1:40123" or "[::1]:40123".
  std::string bound_address() const;

  /// Closes the listening socket (new connections are refused once this returns) and all open
  /// connections. Waits for handler calls in progress to return, except when called from inside
  /// this server's handler; the handler is not called again afterwards. Idempotent.
  void stop();

  /// Calls `stop()`.
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

private:
  explicit http_server(std::shared_ptr<detail::http_server_state> state);

  // Shared with the open connections, which may outlive this object until their last
  // pending I/O operation completes.
  std::shared_ptr<detail::http_server_state> state_;
};

} // namespace outpost::transport
