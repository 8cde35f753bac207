#pragma once

#include "protocols/common/result.hpp"
#include "protocols/transport/io_runner.hpp"
#include "protocols/transport/websocket_options.hpp"

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::transport {

class tls_server_context;

namespace detail {
class http_server_state;
} // namespace detail

/// One HTTP request as the handler sees it. A `HEAD` request arrives with `method == "GET"`:
/// the server answers it like GET and drops the body.
struct http_request {
  std::string method; ///< as sent, e.g. "GET", "POST"
  std::string target; ///< request-target as sent, e.g. "/metrics?x=1"
  std::string body;
  /// Over a unix socket: the pid of the connecting process (SO_PEERCRED, the workload API's
  /// caller check); 0 over TCP.
  int peer_pid = 0;
  /// Over a unix socket: the connecting process's uid and gid (SO_PEERCRED, at connect time:
  /// the workload API's and the admin API's caller checks); -1 over TCP.
  long long peer_uid = -1;
  long long peer_gid = -1;
  /// The request's header fields in arrival order, names as sent (at most the parser's 16 KiB
  /// of header in all).
  std::vector<std::pair<std::string, std::string>> headers;

  /// The first field named `name` (compared case-insensitively, RFC 9110 §5.1), or "".
  std::string header(std::string_view name) const;
};

/// The handler's answer. The server adds `Server`, `Content-Length` and `Connection`.
struct http_response {
  unsigned status = 200; ///< 200..599; anything else is answered with 500
  std::string content_type = "text/plain";
  std::string body;
  /// Further headers (e.g. `Content-Security-Policy`); names and values are the handler's own,
  /// never a peer's.
  std::vector<std::pair<std::string, std::string>> headers = {};
};

/// Called once per request on a thread of the servers' shared handler pool (4 threads), never on
/// an I/O thread of the `io_runner`, possibly on several threads at once (one request per
/// connection at a time). It may block (ask an actor, wait for a module) without stalling any
/// socket; while all pool threads are busy, further requests wait. An exception it throws
/// becomes a 500 response.
using http_handler = std::function<http_response(const http_request&)>;

/// Answers a request: call it once, from any thread, now or later (a second call is ignored).
using http_responder = std::function<void(http_response)>;

/// A handler that may answer after it returns: a direct method call waits for its device as
/// actor state with a timer, holding no thread. It runs like an `http_handler` (handler pool,
/// exceptions before answering become 500) and must see to it that `respond` is called; the
/// connection reads nothing more until then (its idle timeout does not run meanwhile).
using http_async_handler = std::function<void(const http_request&, http_responder respond)>;

/// A small HTTP/1.1 server (keep-alive) over TCP, TLS or a unix domain socket, for the metrics
/// endpoint, the local APIs and the hub's HTTPS API.
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

  /// Like `start`, but every connection speaks TLS first (`tls`: the listener's certificate and
  /// policy, see `tls_server_context`). A failed or silent handshake (10 s) closes only that
  /// connection. Same HTTP behaviour and limits. It faces the network: beyond
  /// `max_connections` open connections (0 = no cap), or a quarter of them from one address,
  /// a new one is closed as soon as it is accepted, so one peer cannot take every slot.
  /// `std::errc::invalid_argument` also for a null `tls`.
  static result<std::unique_ptr<http_server>> start_tls(io_runner& io, const std::string& address,
                                                        std::shared_ptr<tls_server_context> tls,
                                                        http_handler handler,
                                                        std::size_t max_connections = 1024);
  /// `start_tls` with a handler that may answer later, and WebSocket upgrades served as
  /// `websockets` says (none when it lists no sub-protocol). Upgraded connections leave the
  /// HTTP connection count for the WebSocket one; `stop()` closes them too.
  static result<std::unique_ptr<http_server>> start_tls(io_runner& io, const std::string& address,
                                                        std::shared_ptr<tls_server_context> tls,
                                                        http_async_handler handler,
                                                        std::size_t max_connections = 1024,
                                                        websocket_options websockets = {});

  /// Like `start`, but listens on the unix domain socket `socket_path` (the daemon's local
  /// admin API, the workload API). Same HTTP behaviour and limits as over TCP.
  ///
  /// What is at `socket_path` decides whether binding may replace it: nothing, or a socket
  /// nobody listens on (left behind by a crash; it is removed), is fine; a socket someone
  /// listens on is `std::errc::address_in_use`; anything else (a regular file, a directory, a
  /// symlink) is `std::errc::file_exists` and is left alone. A missing parent directory is not
  /// created: its system error is returned. The socket file gets permissions `mode` (at most
  /// 0777, else `std::errc::invalid_argument`) before it accepts connections. `stop()` removes
  /// the file, unless it has been replaced by another file meanwhile. Other errors:
  /// `std::errc::invalid_argument` for an empty path, a path holding '\0' or an empty handler,
  /// `std::errc::filename_too_long` when the path does not fit a socket address (107 bytes).
  static result<std::unique_ptr<http_server>> start_local(io_runner& io,
                                                          const std::string& socket_path,
                                                          http_handler handler,
                                                          unsigned mode = 0660);
  /// `start_local` with a handler that may answer later.
  static result<std::unique_ptr<http_server>> start_local(io_runner& io,
                                                          const std::string& socket_path,
                                                          http_async_handler handler,
                                                          unsigned mode = 0660);

  /// The address actually bound, e.g. "127.0.0.1:40123", "[::1]:40123" or, for a unix socket,
  /// "unix:/run/outpost/admin.sock" (the path as given to `start_local`).
  std::string bound_address() const;

  /// Closes the listening socket (new connections are refused once this returns; a unix
  /// socket's file is removed) and all open connections. Waits for handler calls in progress
  /// to return, except when called from inside this server's handler; the handler is not called
  /// again afterwards. Idempotent.
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
