#include "protocols/transport/http_server.hpp"

#include "protocols/transport/detail/io_runner_impl.hpp"
#include "protocols/transport/detail/tcp_address.hpp"
#include "protocols/transport/detail/websocket_acceptor.hpp"
#include "protocols/transport/tls_context.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <optional>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace outpost::transport {
namespace detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using local_stream = asio::local::stream_protocol;

namespace {

constexpr std::uint64_t body_limit = 1024 * 1024;
constexpr std::uint32_t header_limit = 16 * 1024;
constexpr auto idle_timeout = std::chrono::seconds(30);
constexpr auto handshake_timeout = std::chrono::seconds(10);
// How long a closing connection keeps reading (and discarding) what the peer still sends.
constexpr auto linger_timeout = std::chrono::seconds(5);
// Back-off after accept() fails for want of resources (EMFILE, ENOBUFS): retrying at once
// would spin a thread at 100 % until a descriptor is freed.
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);
constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

using detail::format_endpoint; // the TCP overload, next to the unix-socket one below

std::string format_endpoint(const local_stream::endpoint& endpoint) {
  return "unix:" + endpoint.path();
}

std::error_code last_error() {
  return {errno, std::system_category()};
}

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/// The file a unix socket listener binds. What is there before bind decides whether binding may
/// replace it; `remove()` deletes it only while it is still the socket this server created, so
/// a stopping server never deletes the socket of a newer one. Not thread-safe: the listener
/// calls it under its mutex.
class socket_file {
public:
  /// Makes `path` free to bind: nothing there, or a socket nobody listens on (left by a crash),
  /// which is removed. A live socket is `address_in_use`, anything else `file_exists`.
  static result<void> clear_stale(const std::string& path) {
    struct stat before {};
    if (::lstat(path.c_str(), &before) != 0) {
      // ENOENT: free (a missing parent directory is reported by bind()); anything else, e.g.
      // EACCES or ENOTDIR, would fail bind() too.
      return errno == ENOENT ? ok() : result<void>{last_error()};
    }
    if (!S_ISSOCK(before.st_mode)) {
      return std::make_error_code(std::errc::file_exists); // never delete what is not a socket
    }
    // Non-blocking, so a listener whose backlog is full answers EAGAIN instead of blocking us.
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0) {
      return last_error();
    }
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    const int connected =
        ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    const int connect_errno = connected == 0 ? 0 : errno;
    ::close(probe);
    if (connected == 0 || connect_errno == EAGAIN) {
      return std::make_error_code(std::errc::address_in_use);
    }
    if (connect_errno != ECONNREFUSED) {
      // E.g. EACCES: we cannot tell whether someone listens, so the file stays.
      return std::error_code{connect_errno, std::system_category()};
    }
    // Unlink only the file probed: another server may have replaced it since.
    struct stat now {};
    if (::lstat(path.c_str(), &now) != 0) {
      return errno == ENOENT ? ok() : result<void>{last_error()};
    }
    if (!same_file(before, now)) {
      return std::make_error_code(std::errc::address_in_use);
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return last_error();
    }
    return ok();
  }

  /// Right after bind, before listen: remembers the file (so `remove()` recognises it) and sets
  /// its permissions. Until listen() every connect is refused, so no client gets in while the
  /// umask's permissions apply. On failure the caller still calls `remove()`.
  result<void> claim(const std::string& path, unsigned mode) {
    struct stat bound {};
    if (::lstat(path.c_str(), &bound) != 0) {
      return last_error();
    }
    path_ = path;
    file_ = bound;
    claimed_ = true;
    if (::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
      return last_error();
    }
    return ok();
  }

  /// Unlinks the file if it is still the one claimed. Idempotent; a no-op for TCP listeners.
  void remove() {
    if (!claimed_) {
      return;
    }
    claimed_ = false;
    struct stat now {};
    if (::lstat(path_.c_str(), &now) == 0 && same_file(now, file_)) {
      ::unlink(path_.c_str());
    }
  }

private:
  std::string path_;
  struct stat file_ {};
  bool claimed_ = false;
};

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

/// What `http_server` holds, whatever the socket type: the handler and the gate around it
/// (`invoke`, `wait_for_handlers`), the stopped flag and the bound address. The listeners below
/// add the acceptor and the connections. Thread-safe: `mutex_` guards everything mutable here
/// and, in the derived listener, the acceptor, the retry timer and the connection registry.
class http_server_state {
public:
  explicit http_server_state(http_async_handler handler) : handler_(std::move(handler)) {}
  virtual ~http_server_state() = default;

  http_server_state(const http_server_state&) = delete;
  http_server_state& operator=(const http_server_state&) = delete;

  /// See `http_server::stop()`.
  virtual void stop() = 0;

  /// Set before the server is handed out, constant afterwards.
  const std::string& bound_address() const { return bound_address_; }

  bool stopped() {
    std::lock_guard<std::mutex> lock{mutex_};
    return stopped_;
  }

  /// Runs the handler unless the server is stopped (then false, and `respond` is not called).
  /// `respond` (any thread, now or later) is called at most once however often the handler
  /// calls it; a handler that throws before answering answers 500. `stop()` waits for the
  /// handler call, not for a later answer: a late `respond` only finds its connection closed.
  bool invoke(const http_request& request, http_responder respond) {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      if (stopped_) {
        return false;
      }
      ++in_flight_;
    }
    auto answered = std::make_shared<std::atomic<bool>>(false);
    http_responder once = [answered, respond = std::move(respond)](http_response r) {
      if (!answered->exchange(true)) {
        respond(std::move(r));
      }
    };
    const void* const outer = running_handler_of;
    running_handler_of = this;
    try {
      handler_(request, once);
    } catch (...) {
      // The handler's failure is the server's 500, never a dead I/O thread.
      once(plain_response(500, "internal server error\n"));
    }
    running_handler_of = outer;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      --in_flight_;
    }
    idle_.notify_all();
    return true;
  }

private:
protected:
  /// Once stopped: waits until no handler call is in progress, except the caller's own.
  void wait_for_handlers() {
    std::unique_lock<std::mutex> lock{mutex_};
    const int own = running_handler_of == this ? 1 : 0;
    idle_.wait(lock, [&] { return in_flight_ <= own; });
  }

  std::mutex mutex_;
  bool stopped_ = false;
  std::string bound_address_;

private:
  std::condition_variable idle_;
  const http_async_handler handler_;
  int in_flight_ = 0; // handler calls in progress
};

template <class Protocol, bool Tls>
class http_listener;

/// One accepted connection of a `Protocol` (TCP or unix stream) listener, in TLS when `Tls`.
/// Runs on its own strand: every member below is touched only by handlers on that strand, and
/// `close()` posts onto it.
template <class Protocol, bool Tls>
class http_session : public std::enable_shared_from_this<http_session<Protocol, Tls>> {
  using plain_stream = beast::basic_stream<Protocol>;
  using stream_type = std::conditional_t<Tls, beast::ssl_stream<plain_stream>, plain_stream>;

public:
  http_session(typename Protocol::socket socket,
               std::shared_ptr<http_listener<Protocol, Tls>> server)
      : peer_(peer_of(socket)),
        executor_(socket.get_executor()),
        stream_(make_stream(std::move(socket), *server)),
        server_(std::move(server)) {}

  ~http_session() { server_->forget(this); }

  http_session(const http_session&) = delete;
  http_session& operator=(const http_session&) = delete;

  void run() {
    asio::dispatch(executor_, [self = this->shared_from_this()] {
      if constexpr (Tls) {
        self->handshake();
      } else {
        self->read_header();
      }
    });
  }

  /// Any thread.
  void close() {
    asio::post(executor_, [self = this->shared_from_this()] { self->close_now(); });
  }

private:
  static stream_type make_stream(typename Protocol::socket socket,
                                 http_listener<Protocol, Tls>& server) {
    if constexpr (Tls) {
      return stream_type{std::move(socket), server.ssl_context()};
    } else {
      return stream_type{std::move(socket)};
    }
  }

  plain_stream& lowest() { return beast::get_lowest_layer(stream_); }

  /// TLS only: the server side of the handshake, bounded like an idle connection.
  void handshake() {
    if constexpr (Tls) {
      lowest().expires_after(handshake_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (ec) {
                                  return self->close_now(); // no HTTP without TLS: nothing to say
                                }
                                self->read_header();
                              });
    }
  }

  void read_header() {
    if (closed_) {
      return;
    }
    parser_.emplace();
    parser_->body_limit(body_limit);
    parser_->header_limit(header_limit);
    lowest().expires_after(idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
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
                        [self = this->shared_from_this()](beast::error_code write_ec, std::size_t) {
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
    lowest().expires_after(idle_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
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
    if constexpr (std::is_same_v<Protocol, tcp> && Tls) {
      if (upgrade_to_websocket()) {
        return;
      }
    }
    const bool head = req.method() == http::verb::head;
    const bool keep_alive = req.keep_alive();
    const unsigned version = req.version();
    http_request request{head ? std::string{"GET"} : std::string{req.method_string()},
                         std::string{req.target()},
                         std::move(req.body()),
                         peer_.pid,
                         peer_.uid,
                         peer_.gid,
                         {}};
    for (const auto& field : req) {
      request.headers.emplace_back(std::string{field.name_string()}, std::string{field.value()});
    }
    parser_.reset();
    // The handler runs on the handler pool; the answer, now or later (an asynchronous handler
    // answers from wherever its work ends), comes back to this connection's strand. The
    // responder holds the connection: it waits for its answer without a pending operation.
    asio::post(server_->handlers(), [self = this->shared_from_this(), request = std::move(request),
                                     version, keep_alive, head]() mutable {
      http_responder respond = [self, version, keep_alive, head](http_response response) {
        asio::post(self->executor_,
                   [self, response = std::move(response), version, keep_alive, head]() mutable {
                     self->send(std::move(response), version, keep_alive, head);
                   });
      };
      if (!self->server_->invoke(request, std::move(respond))) {
        asio::post(self->executor_, [self] { self->close_now(); }); // stopped
      }
    });
  }

  /// TLS over TCP: a WebSocket upgrade the listener serves hands the stream over (true), one it
  /// refuses is answered here (true); anything else is an HTTP request (false).
  bool upgrade_to_websocket() {
    auto* websockets = server_->websockets();
    if (websockets == nullptr) {
      return false;
    }
    auto decision = websockets->decide(parser_->get());
    switch (decision.kind) {
      case upgrade_decision::not_mine:
        return false;
      case upgrade_decision::refuse:
        send(plain_response(decision.status, std::move(decision.why)), 11, false, false);
        return true;
      case upgrade_decision::take:
        break;
    }
    if (buffer_.size() != 0) {
      // RFC 6455 §4.1: a client waits for the 101 before it sends frames.
      send(plain_response(400, "data before the WebSocket handshake\n"), 11, false, false);
      return true;
    }
    boost::system::error_code ignored;
    auto peer = format_endpoint(lowest().socket().remote_endpoint(ignored));
    lowest().expires_never();
    upgraded_ = true;
    closed_ = true;
    websockets->take(std::move(stream_), parser_->release(), std::move(peer), decision.protocol);
    parser_.reset();
    return true;
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
    for (const auto& [name, value] : response.headers) {
      response_.set(name, value);
    }
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
    lowest().expires_after(idle_timeout);
    http::async_write(stream_, response_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_write(ec);
                      });
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
    if (closed_ || upgraded_) {
      return;
    }
    closed_ = true;
    if constexpr (Tls) {
      // close_notify, then wait (bounded) for the peer's: TLS's own graceful close.
      lowest().expires_after(linger_timeout);
      stream_.async_shutdown(
          [self = this->shared_from_this()](beast::error_code) { self->close_now(); });
      return;
    }
    boost::system::error_code ignored;
    lowest().socket().shutdown(asio::socket_base::shutdown_send, ignored);
    buffer_.consume(buffer_.size());
    lowest().expires_after(linger_timeout);
    drain();
  }

  void drain() {
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) {
                                return self->close_now();
                              }
                              self->drain();
                            });
  }

  void close_now() {
    if (upgraded_) {
      return; // the stream belongs to the WebSocket connection now
    }
    closed_ = true;
    boost::system::error_code ignored;
    lowest().socket().shutdown(asio::socket_base::shutdown_both, ignored);
    lowest().close();
  }

  // basic_stream adds the timeouts; the same class serves TCP and unix sockets.
  struct peer_cred {
    int pid = 0;
    long long uid = -1;
    long long gid = -1;
  };

  /// The connecting process (unix sockets: SO_PEERCRED, read once at accept); none over TCP.
  static peer_cred peer_of(typename Protocol::socket& socket) {
    if constexpr (std::is_same_v<Protocol, local_stream>) {
      ucred cred{};
      socklen_t len = sizeof cred;
      if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
        return {cred.pid, static_cast<long long>(cred.uid), static_cast<long long>(cred.gid)};
      }
    }
    return {};
  }

  const peer_cred peer_;
  const asio::any_io_executor executor_; // the connection's strand (the stream may be moved out)
  stream_type stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  const std::shared_ptr<http_listener<Protocol, Tls>> server_;
  bool keep_alive_ = false;
  bool closed_ = false;
  bool upgraded_ = false; // stream_ was handed to a WebSocket connection
};

/// The acceptor and the open connections of a TCP (`tcp`) or unix socket (`local_stream`)
/// server, in TLS when `Tls` (TCP only). Instantiated exactly for those three.
template <class Protocol, bool Tls>
class http_listener final : public http_server_state,
                            public std::enable_shared_from_this<http_listener<Protocol, Tls>> {
public:
  using session = http_session<Protocol, Tls>;
  static constexpr bool is_tcp = std::is_same_v<Protocol, tcp>;

  http_listener(asio::io_context& context, asio::io_context& handlers, http_async_handler handler,
                const std::shared_ptr<tls_server_context>& tls)
      : http_server_state(std::move(handler)),
        ssl_(asio_context_of(tls)),
        context_(context),
        handlers_(handlers),
        acceptor_(asio::make_strand(context)),
        retry_timer_(acceptor_.get_executor()) {}

  /// Binds and listens on `endpoint`; `mode` is the unix socket file's permissions (unused for
  /// TCP). On failure nothing is left open or on disk.
  result<void> listen(const typename Protocol::endpoint& endpoint, [[maybe_unused]] unsigned mode) {
    std::lock_guard<std::mutex> lock{mutex_};
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if constexpr (is_tcp) {
      if (!ec) {
        // Lets a restarted daemon bind while old connections sit in TIME_WAIT; on Linux it
        // does not allow two listeners on one port.
        acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
      }
    }
    if (!ec) {
      acceptor_.bind(endpoint, ec);
    }
    std::error_code failed = to_std(ec);
    if constexpr (!is_tcp) {
      if (!failed) {
        if (auto claimed = file_.claim(endpoint.path(), mode); !claimed) {
          failed = claimed.error();
        }
      }
    }
    typename Protocol::endpoint local;
    if (!failed) {
      acceptor_.listen(asio::socket_base::max_listen_connections, ec);
      if (!ec) {
        local = acceptor_.local_endpoint(ec);
      }
      failed = to_std(ec);
    }
    if (failed) {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      file_.remove();
      return failed;
    }
    bound_address_ = format_endpoint(local);
    accept_locked();
    return ok();
  }

  void stop() override {
    std::vector<std::shared_ptr<session>> open;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      if (!stopped_) {
        stopped_ = true;
        // Closed here, synchronously, so a connect() after stop() returns is refused. Asio's
        // reactor tolerates closing while an accept is pending; `mutex_` serialises the rest.
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        file_.remove();
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
    if (websockets_) {
      websockets_->stop();
    }
    // Released outside the lock: the last reference runs ~http_session, which takes `mutex_`.
    open.clear();
    wait_for_handlers();
  }

  /// TLS over TCP: serve WebSocket upgrades as `options` say (before listening).
  void set_websockets(websocket_options options) {
    if (!options.protocols.empty()) {
      websockets_ = std::make_unique<websocket_acceptor>(context_, std::move(options));
    }
  }

  /// The WebSocket side, or nullptr. Set before listening, constant afterwards.
  websocket_acceptor* websockets() { return websockets_.get(); }

  /// Where this server's handlers run (the runner's handler pool).
  asio::io_context& handlers() { return handlers_; }

  /// TLS listeners: Asio's view of the listener's OpenSSL context.
  asio::ssl::context& ssl_context() { return *ssl_; }

  /// Connections beyond this many open ones, or beyond a quarter of them from one address,
  /// are closed as soon as accepted; 0 = no cap.
  void set_max_connections(std::size_t n) {
    max_connections_ = n;
    max_per_source_ = n / 4;
  }

  /// Called by a session's destructor.
  void forget(const session* s) {
    std::lock_guard<std::mutex> lock{mutex_};
    sessions_.erase(s);
    if (auto source = source_of_.find(s); source != source_of_.end()) {
      if (auto n = per_source_.find(source->second); n != per_source_.end() && --n->second == 0) {
        per_source_.erase(n);
      }
      source_of_.erase(source);
    }
  }

private:
  /// Asio's wrapper takes ownership of an SSL_CTX: it gets its own reference. Our context sets
  /// no app data or password callback, which Asio's destructor would take for its own.
  static std::optional<asio::ssl::context> asio_context_of(
      const std::shared_ptr<tls_server_context>& tls) {
    if (!tls) {
      return std::nullopt;
    }
    SSL_CTX_up_ref(tls->native_handle());
    return std::optional<asio::ssl::context>{std::in_place, tls->native_handle()};
  }

  void accept_locked() {
    acceptor_.async_accept(asio::make_strand(context_),
                           [self = this->shared_from_this()](boost::system::error_code ec,
                                                             typename Protocol::socket socket) {
                             self->on_accept(ec, std::move(socket));
                           });
  }

  void on_accept(boost::system::error_code ec, typename Protocol::socket socket) {
    std::shared_ptr<session> accepted;
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
      if constexpr (is_tcp) {
        // Responses are written whole; Nagle would only delay the last segment.
        boost::system::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
      }
      std::string source;
      if constexpr (is_tcp) {
        boost::system::error_code ignored;
        source = socket.remote_endpoint(ignored).address().to_string(ignored);
      }
      const bool capped = max_connections_ != 0;
      if (capped
          && (sessions_.size() >= max_connections_
              || (max_per_source_ != 0 && per_source_[source] >= max_per_source_))) {
        // Over a cap: refused at once (closed unread), the listener keeps accepting.
        if (per_source_[source] == 0) {
          per_source_.erase(source);
        }
        boost::system::error_code ignored;
        socket.close(ignored);
        accept_locked();
        return;
      }
      accepted = std::make_shared<session>(std::move(socket), this->shared_from_this());
      sessions_.emplace(accepted.get(), accepted);
      if (capped) {
        ++per_source_[source];
        source_of_.emplace(accepted.get(), std::move(source));
      }
      accept_locked();
    }
    accepted->run();
  }

  void retry_accept_locked() {
    retry_timer_.expires_after(accept_retry_delay);
    retry_timer_.async_wait([self = this->shared_from_this()](boost::system::error_code ec) {
      std::lock_guard<std::mutex> lock{self->mutex_};
      if (!ec && !self->stopped_) {
        self->accept_locked();
      }
    });
  }

  std::optional<asio::ssl::context> ssl_;          // TLS listeners only
  std::unique_ptr<websocket_acceptor> websockets_; // TLS over TCP, when configured
  asio::io_context& context_;
  asio::io_context& handlers_;
  typename Protocol::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  socket_file file_; // claimed only by unix socket listeners
  std::unordered_map<const session*, std::weak_ptr<session>> sessions_;
  std::size_t max_connections_ = 0; // set before listening, constant afterwards
  std::size_t max_per_source_ = 0;
  std::unordered_map<std::string, std::size_t> per_source_;   // open connections by address
  std::unordered_map<const session*, std::string> source_of_; // capped listeners only
};

/// Creates a `Protocol` listener on `io` and starts it; the shared part of `start` and
/// `start_local`.
template <class Protocol, bool Tls = false>
result<std::shared_ptr<http_server_state>> start_listener(
    io_runner& io, const typename Protocol::endpoint& endpoint, http_async_handler handler,
    unsigned mode, const std::shared_ptr<tls_server_context>& tls = nullptr,
    std::size_t max_connections = 0, websocket_options websockets = {}) {
  try {
    auto listener = std::make_shared<http_listener<Protocol, Tls>>(
        io_runner_access::context(io), io_runner_access::handlers(io), std::move(handler), tls);
    listener->set_max_connections(max_connections);
    listener->set_websockets(std::move(websockets));
    if (auto listening = listener->listen(endpoint, mode); !listening) {
      return listening.error();
    }
    return std::shared_ptr<http_server_state>{std::move(listener)};
  } catch (const boost::system::system_error& e) {
    return to_std(e.code());
  } catch (const std::bad_alloc&) {
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

} // namespace detail

http_server::http_server(std::shared_ptr<detail::http_server_state> state)
    : state_(std::move(state)) {}

http_server::~http_server() {
  stop();
}

namespace {

/// A handler that answers before it returns, as an asynchronous one.
http_async_handler at_once(http_handler handler) {
  if (!handler) {
    return nullptr;
  }
  return [handler = std::move(handler)](const http_request& request, http_responder respond) {
    respond(handler(request));
  };
}

} // namespace

result<std::unique_ptr<http_server>> http_server::start(io_runner& io, const std::string& address,
                                                        http_handler sync_handler) {
  auto handler = at_once(std::move(sync_handler));
  if (!handler) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  auto endpoint = detail::parse_address(address);
  if (!endpoint) {
    return endpoint.error();
  }
  auto state = detail::start_listener<detail::tcp>(io, *endpoint, std::move(handler), 0);
  if (!state) {
    return state.error();
  }
  return std::unique_ptr<http_server>{new http_server{std::move(*state)}};
}

result<std::unique_ptr<http_server>> http_server::start_tls(io_runner& io,
                                                            const std::string& address,
                                                            std::shared_ptr<tls_server_context> tls,
                                                            http_handler handler,
                                                            std::size_t max_connections) {
  return start_tls(io, address, std::move(tls), at_once(std::move(handler)), max_connections);
}

result<std::unique_ptr<http_server>> http_server::start_tls(
    io_runner& io, const std::string& address, std::shared_ptr<tls_server_context> tls,
    http_async_handler handler, std::size_t max_connections, websocket_options websockets) {
  if (!handler || !tls) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  auto endpoint = detail::parse_address(address);
  if (!endpoint) {
    return endpoint.error();
  }
  auto state = detail::start_listener<detail::tcp, true>(io, *endpoint, std::move(handler), 0, tls,
                                                         max_connections, std::move(websockets));
  if (!state) {
    return state.error();
  }
  return std::unique_ptr<http_server>{new http_server{std::move(*state)}};
}

result<std::unique_ptr<http_server>> http_server::start_local(io_runner& io,
                                                              const std::string& socket_path,
                                                              http_handler handler, unsigned mode) {
  return start_local(io, socket_path, at_once(std::move(handler)), mode);
}

result<std::unique_ptr<http_server>> http_server::start_local(io_runner& io,
                                                              const std::string& socket_path,
                                                              http_async_handler handler,
                                                              unsigned mode) {
  if (!handler || socket_path.empty() || socket_path.find('\0') != std::string::npos
      || mode > 0777) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  if (socket_path.size() >= sizeof(sockaddr_un::sun_path)) {
    return std::make_error_code(std::errc::filename_too_long);
  }
  if (auto cleared = detail::socket_file::clear_stale(socket_path); !cleared) {
    return cleared.error();
  }
  auto state = detail::start_listener<detail::local_stream>(
      io, detail::local_stream::endpoint{socket_path}, std::move(handler), mode);
  if (!state) {
    return state.error();
  }
  return std::unique_ptr<http_server>{new http_server{std::move(*state)}};
}

std::string http_server::bound_address() const {
  return state_->bound_address();
}

void http_server::stop() {
  state_->stop();
}

std::string http_request::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    const bool same =
        n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a))
                 == std::tolower(static_cast<unsigned char>(b));
        });
    if (same) {
      return v;
    }
  }
  return {};
}

} // namespace outpost::transport
