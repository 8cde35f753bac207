#include "protocols/transport/http_server.hpp"

#include "protocols/transport/detail/io_runner_impl.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace outpost::transport {
namespace detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::uint64_t body_limit = 1024 * 1024;
constexpr std::uint32_t header_limit = 16 * 1024;
constexpr auto idle_timeout = std::chrono::seconds(30);
// How long a closing connection keeps reading (and discarding) what the peer still sends.
constexpr auto linger_timeout = std::chrono::seconds(5);
// Back-off after accept() fails for want of resources (EMFILE, ENOBUFS): retrying at once
// would spin a thread at 100 % until a descriptor is freed.
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);
constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

/// Boost's system and generic categories become the std ones, so callers can compare with
/// `std::errc` and print the usual messages.
std::error_code to_std(const boost::system::error_code& ec) {
  if (ec.category() == boost::system::system_category()) {
    return {ec.value(), std::system_category()};
  }
  if (ec.category() == boost::system::generic_category()) {
    return {ec.value(), std::generic_category()};
  }
  return ec;
}

result<tcp::endpoint> parse_address(const std::string& address) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  // The last ':' separates the port, so "[::1]:80" splits correctly.
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return invalid;
  }
  std::string host = address.substr(0, colon);
  const std::string_view port_text = std::string_view{address}.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5) {
    return invalid;
  }
  unsigned port = 0;
  const auto* const last = port_text.data() + port_text.size();
  const auto [end, err] = std::from_chars(port_text.data(), last, port);
  if (err != std::errc{} || end != last || port > 65535) {
    return invalid;
  }

  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return invalid;
  }
  asio::ip::address ip;
  boost::system::error_code ec;
  if (bracketed) {
    ip = asio::ip::make_address_v6(host, ec);
  } else if (host == "localhost") {
    // Not resolved: a listener must not depend on DNS or /etc/hosts, and IPv4 loopback is
    // what every client tries for "localhost".
    ip = asio::ip::address_v4::loopback();
  } else {
    ip = asio::ip::make_address_v4(host, ec);
  }
  if (ec) {
    return invalid;
  }
  return tcp::endpoint{ip, static_cast<unsigned short>(port)};
}

std::string format_endpoint(const tcp::endpoint& endpoint) {
  const auto ip = endpoint.address();
  const auto port = std::to_string(endpoint.port());
  if (ip.is_v6()) {
    return "[" + ip.to_string() + "]:" + port;
  }
  return ip.to_string() + ":" + port;
}

bool is_parse_error(const beast::error_code& ec) {
  static const auto& http_category = http::make_error_code(http::error::bad_method).category();
  return ec.category() == http_category && ec != http::error::end_of_stream
         && ec != http::error::partial_message;
}

unsigned status_for_parse_error(const beast::error_code& ec) {
  if (ec == http::error::body_limit) {
    return 413; // Payload Too Large
  }
  if (ec == http::error::header_limit) {
    return 431; // Request Header Fields Too Large
  }
  return 400;
}

http_response plain_response(unsigned status, std::string body) {
  return http_response{status, "text/plain", std::move(body)};
}

/// Which server's handler the current thread is running, so `stop()` called from inside a
/// handler does not wait for itself.
thread_local const void* running_handler_of = nullptr;

} // namespace

class http_session;

/// State shared by `http_server` and its connections. Thread-safe: `mutex_` guards the
/// acceptor, the retry timer, the connection registry and the handler gate.
class http_server_state : public std::enable_shared_from_this<http_server_state> {
public:
  http_server_state(asio::io_context& context, http_handler handler)
      : context_(context),
        acceptor_(asio::make_strand(context)),
        retry_timer_(acceptor_.get_executor()),
        handler_(std::move(handler)) {}

  result<void> listen(const tcp::endpoint& endpoint) {
    std::lock_guard<std::mutex> lock{mutex_};
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
      // Lets a restarted daemon bind while old connections sit in TIME_WAIT; on Linux it does
      // not allow two listeners on one port.
      acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    }
    if (!ec) {
      acceptor_.bind(endpoint, ec);
    }
    if (!ec) {
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    }
    tcp::endpoint local;
    if (!ec) {
      local = acceptor_.local_endpoint(ec);
    }
    if (ec) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return to_std(ec);
    }
    bound_address_ = format_endpoint(local);
    accept_locked();
    return ok();
  }

  const std::string& bound_address() const { return bound_address_; }

  void stop();

  bool stopped() {
    std::lock_guard<std::mutex> lock{mutex_};
    return stopped_;
  }

  /// Runs the handler unless the server is stopped (then nullopt). Exceptions become 500.
  std::optional<http_response> invoke(const http_request& request) {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      if (stopped_) {
        return std::nullopt;
      }
      ++in_flight_;
    }
    const void* const outer = running_handler_of;
    running_handler_of = this;
    std::optional<http_response> response;
    try {
      response = handler_(request);
    } catch (...) {
      // The handler's failure is the server's 500, never a dead I/O thread.
      response = plain_response(500, "internal server error\n");
    }
    running_handler_of = outer;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      --in_flight_;
    }
    idle_.notify_all();
    return response;
  }

  /// Called by a session's destructor.
  void forget(const http_session* s) {
    std::lock_guard<std::mutex> lock{mutex_};
    sessions_.erase(s);
  }

private:
  void accept_locked() {
    acceptor_.async_accept(
        asio::make_strand(context_),
        [self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
          self->on_accept(ec, std::move(socket));
        });
  }

  void on_accept(boost::system::error_code ec, tcp::socket socket);

  void retry_accept_locked() {
    retry_timer_.expires_after(accept_retry_delay);
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      std::lock_guard<std::mutex> lock{self->mutex_};
      if (!ec && !self->stopped_) {
        self->accept_locked();
      }
    });
  }

  asio::io_context& context_;
  std::mutex mutex_;
  std::condition_variable idle_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  std::string bound_address_;
  const http_handler handler_;
  bool stopped_ = false;
  int in_flight_ = 0; // handler calls in progress
  std::unordered_map<const http_session*, std::weak_ptr<http_session>> sessions_;
};

/// One accepted connection. Runs on its own strand: every member below is touched only by
/// handlers on that strand, and `close()` posts onto it.
class http_session : public std::enable_shared_from_this<http_session> {
public:
  http_session(tcp::socket socket, std::shared_ptr<http_server_state> server)
      : stream_(std::move(socket)),
        server_(std::move(server)) {}

  ~http_session() { server_->forget(this); }

  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_header(); });
  }

  /// Any thread.
  void close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->close_now(); });
  }

private:
  void read_header() {
    if (closed_) {
      return;
    }
    parser_.emplace();
    parser_->body_limit(body_limit);
    parser_->header_limit(header_limit);
    stream_.expires_after(idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (ec) {
      return on_read_error(ec);
    }
    if (parser_->is_done()) {
      return on_request();
    }
    const auto expect = parser_->get()[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      // RFC 9110 §10.1.1: curl and .NET wait (up to a second) for this before sending a body.
      asio::async_write(stream_, asio::buffer(continue_response.data(), continue_response.size()),
                        [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                          if (write_ec) {
                            return self->close_now();
                          }
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) {
                         return self->on_read_error(ec);
                       }
                       self->on_request();
                     });
  }

  void on_read_error(beast::error_code ec) {
    if (is_parse_error(ec)) {
      // Malformed or over a limit: answer and hang up. Only this connection is affected.
      return send(plain_response(status_for_parse_error(ec), "bad request\n"), 11, false, false);
    }
    // Peer closed, reset, idle timeout or stop(): nothing to answer.
    close_now();
  }

  void on_request() {
    auto& req = parser_->get();
    if (req.method() == http::verb::unknown || (req.version() != 10 && req.version() != 11)) {
      return send(plain_response(400, "bad request\n"), 11, false, false);
    }
    const bool head = req.method() == http::verb::head;
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    http_request request{head ? std::string{"GET"} : std::string{req.method_string()},
                         std::string{req.target()}, std::move(req.body())};
    parser_.reset();
    auto response = server_->invoke(request);
    if (!response) {
      return close_now(); // stopped meanwhile
    }
    send(std::move(*response), version, keep_alive, head);
  }

  void send(http_response response, unsigned version, bool keep_alive, bool head) {
    if (response.status < 200 || response.status > 599) {
      response = plain_response(500, "invalid status from handler\n");
    }
    keep_alive_ = keep_alive && !server_->stopped();
    response_ = http::response<http::string_body>{};
    response_.version(version);
    response_.result(response.status);
    response_.set(http::field::server, "outpost");
    response_.keep_alive(keep_alive_);
    if (response.status == 204 || response.status == 304) {
      // RFC 9110 §8.6: these carry no content, so no Content-Length either.
    } else {
      response_.set(http::field::content_type, response.content_type);
      response_.content_length(response.body.size());
      if (!head) {
        response_.body() = std::move(response.body);
      }
    }
    stream_.expires_after(idle_timeout);
    http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    response_ = http::response<http::string_body>{};
    if (ec) {
      return close_now();
    }
    if (!keep_alive_ || server_->stopped()) {
      return shut_down();
    }
    read_header();
  }

  /// Graceful close: FIN, then read and discard until the peer closes too. Closing with unread
  /// input would send RST, and the peer could lose the response it has not read yet.
  void shut_down() {
    if (closed_) {
      return;
    }
    closed_ = true;
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    buffer_.consume(buffer_.size());
    stream_.expires_after(linger_timeout);
    drain();
  }

  void drain() {
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) {
                                return self->close_now();
                              }
                              self->drain();
                            });
  }

  void close_now() {
    closed_ = true;
    boost::system::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  const std::shared_ptr<http_server_state> server_;
  bool keep_alive_ = false;
  bool closed_ = false;
};

void http_server_state::on_accept(boost::system::error_code ec, tcp::socket socket) {
  std::shared_ptr<http_session> accepted;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    if (stopped_) {
      return;
    }
    if (ec == asio::error::connection_aborted) {
      // The client gave up before we accepted; nothing wrong with the listener.
      accept_locked();
      return;
    }
    if (ec) {
      retry_accept_locked();
      return;
    }
    // Responses are written whole; Nagle would only delay the last segment.
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    accepted = std::make_shared<http_session>(std::move(socket), shared_from_this());
    sessions_.emplace(accepted.get(), accepted);
    accept_locked();
  }
  accepted->run();
}

void http_server_state::stop() {
  std::vector<std::shared_ptr<http_session>> open;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    if (!stopped_) {
      stopped_ = true;
      // Closed here, synchronously, so a connect() after stop() returns is refused. Asio's
      // reactor tolerates closing while an accept is pending; `mutex_` serialises the rest.
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
      for (auto& entry : sessions_) {
        if (auto s = entry.second.lock()) {
          open.push_back(std::move(s));
        }
      }
    }
  }
  for (auto& s : open) {
    s->close();
  }
  // Released outside the lock: the last reference runs ~http_session, which takes `mutex_`.
  open.clear();
  std::unique_lock<std::mutex> lock{mutex_};
  const int own = running_handler_of == this ? 1 : 0;
  idle_.wait(lock, [&] { return in_flight_ <= own; });
}

} // namespace detail

http_server::http_server(std::shared_ptr<detail::http_server_state> state)
    : state_(std::move(state)) {}

http_server::~http_server() {
  stop();
}

result<std::unique_ptr<http_server>> http_server::start(io_runner& io, const std::string& address,
                                                        http_handler handler) {
  if (!handler) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  auto endpoint = detail::parse_address(address);
  if (!endpoint) {
    return endpoint.error();
  }
  try {
    auto state = std::make_shared<detail::http_server_state>(detail::io_runner_access::context(io),
                                                             std::move(handler));
    if (auto listening = state->listen(*endpoint); !listening) {
      return listening.error();
    }
    return std::unique_ptr<http_server>{new http_server{std::move(state)}};
  } catch (const boost::system::system_error& e) {
    return detail::to_std(e.code());
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

std::string http_server::bound_address() const {
  return state_->bound_address();
}

void http_server::stop() {
  state_->stop();
}

} // namespace outpost::transport
