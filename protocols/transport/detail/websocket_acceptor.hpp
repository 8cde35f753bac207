#pragma once

// Private to protocols/transport .cpp files: it includes Asio and Beast (not their websocket
// headers, which only websocket_acceptor.cpp compiles).

#include "protocols/transport/websocket_options.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <memory>
#include <string>

namespace outpost::transport::detail {

using tls_tcp_stream = boost::beast::ssl_stream<boost::beast::basic_stream<boost::asio::ip::tcp>>;
using upgrade_request = boost::beast::http::request<boost::beast::http::string_body>;

class websocket_registry;

/// What the HTTPS listener does with one request (`websocket_acceptor::decide`).
struct upgrade_decision {
  enum kind_type { not_mine, refuse, take };
  kind_type kind = not_mine;
  unsigned status = 0;  ///< refuse: the HTTP status to answer (then the connection closes)
  std::string why;      ///< refuse: the response body
  std::string protocol; ///< take: the sub-protocol chosen
};

/// The WebSocket side of an HTTPS listener: decides which requests upgrade, takes their TLS
/// streams over (answering 101 with the chosen sub-protocol) and keeps the upgraded connections
/// until they close or `stop()` closes them. Thread-safe.
class websocket_acceptor {
public:
  websocket_acceptor(boost::asio::io_context& context, websocket_options options);
  ~websocket_acceptor();

  websocket_acceptor(const websocket_acceptor&) = delete;
  websocket_acceptor& operator=(const websocket_acceptor&) = delete;

  /// `not_mine` for any request but an upgrade to the configured path; `refuse` when no
  /// sub-protocol offered is served (400) or when stopped or full (503); `take` otherwise.
  upgrade_decision decide(const upgrade_request& request) const;

  /// Takes over a stream that `decide` said to `take`: runs the WebSocket handshake on the
  /// stream's executor, then hands the connection to the sub-protocol's `accept_fn`. The stream
  /// must have no operation pending.
  void take(tls_tcp_stream stream, upgrade_request request, std::string peer_address,
            const std::string& protocol);

  /// Closes every upgraded connection (`on_closed(stream_errc::server_stopped)`) and refuses
  /// new upgrades; waits for the closes except on an I/O thread. Idempotent.
  void stop();

  /// Upgraded connections not yet closed (including those in their WebSocket handshake).
  std::size_t connection_count() const;

private:
  std::shared_ptr<websocket_registry> registry_;
};

} // namespace outpost::transport::detail
