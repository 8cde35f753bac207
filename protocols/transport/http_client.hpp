#pragma once

#include "protocols/common/result.hpp"

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace outpost::transport {

class tls_client_context;

/// A response as `http_call` returns it.
struct http_reply {
  unsigned status = 0;
  std::string content_type; ///< empty when the response has no Content-Type
  std::string body;         ///< empty for HEAD, 204 and 304
};

/// A blocking HTTP/1.1 request for tools and tests (the `outpost` CLI, integration tests).
///
/// `address` is "host:port" (TCP; host an IPv4 literal, "localhost" or a bracketed IPv6
/// literal such as "[::1]", as `http_server::bound_address()` reports them) or
/// "unix:/path/to.sock" (a unix domain socket). `method` and `target` are sent as given
/// ("POST", "/modules?api-version=1"). A non-empty `body` is sent with `Content-Type:
/// content_type` (omitted when `content_type` is empty) and `Content-Length`; POST, PUT and
/// PATCH send `Content-Length: 0` without one. Always sends `Connection: close`.
///
/// The response body is read by Content-Length, chunked coding or to the end of the connection;
/// interim 1xx responses are skipped. `timeout` bounds the whole call (connect, send, receive).
///
/// Errors: `std::errc::invalid_argument` for a malformed address, or a method, target or content
/// type that cannot go into a request line or header; `std::errc::filename_too_long` for a
/// socket path over 107 bytes; `std::errc::timed_out`; `std::errc::bad_message` for a response
/// that is not HTTP/1.x or ends early; `std::errc::message_size` beyond 64 MiB; otherwise the
/// system's error (e.g. `connection_refused`, or `no_such_file_or_directory` for a missing
/// socket). Any thread may call it; it does not raise SIGPIPE.
///
/// `cancel_fd`, when not -1, is polled with the socket: once it is readable (an eventfd another
/// thread wrote to), the call ends with `std::errc::operation_canceled`. A daemon that shuts
/// down ends its calls to a hung peer this way instead of waiting out their timeouts.
result<http_reply> http_call(const std::string& address, const std::string& method,
                             const std::string& target, const std::string& body = {},
                             const std::string& content_type = "application/json",
                             std::chrono::milliseconds timeout = std::chrono::seconds(5),
                             int cancel_fd = -1);

/// HTTPS for `https_call`: the peer verified against `tls` (its trust bundle) and
/// `server_name` (SNI and the certificate's name; "" = the address's host), and extra request
/// headers (e.g. `Authorization`).
struct https_options {
  std::shared_ptr<const tls_client_context> tls;
  std::string server_name;
  std::vector<std::pair<std::string, std::string>> headers;
};

/// `http_call` over TLS (TCP addresses only), for the upstream link's calls to the parent's
/// HTTPS API. A handshake that fails (a certificate the trust bundle or the name refuses
/// included) is `std::errc::protocol_error`; header names or values that cannot go into a
/// request are `std::errc::invalid_argument`. Blocking: call it from a detached actor or thread.
result<http_reply> https_call(const std::string& address, const https_options& tls,
                              const std::string& method, const std::string& target,
                              const std::string& body = {},
                              const std::string& content_type = "application/json",
                              std::chrono::milliseconds timeout = std::chrono::seconds(5),
                              int cancel_fd = -1);

/// Ends blocking calls (`https_call`'s `cancel_fd`) from any thread: once `cancel` ran, every
/// call given `fd()` returns at once (`std::errc::operation_canceled`), and so does every later
/// one. Shared between the caller that stops and the thread that calls.
class cancel_source {
public:
  cancel_source();
  ~cancel_source();
  cancel_source(const cancel_source&) = delete;
  cancel_source& operator=(const cancel_source&) = delete;
  int fd() const noexcept { return fd_; }
  void cancel() noexcept;

private:
  int fd_;
};

/// `http_call(address, "GET", target)`: the CLI's `outpost health` and `outpost metrics`.
result<http_reply> http_get(const std::string& address, const std::string& target,
                            std::chrono::milliseconds timeout = std::chrono::seconds(5));

} // namespace outpost::transport
