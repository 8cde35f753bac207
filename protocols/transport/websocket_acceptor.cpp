#include "protocols/transport/detail/websocket_acceptor.hpp"

#include "protocols/transport/detail/tcp_address.hpp"
#include "protocols/transport/tls_context.hpp"

#include <boost/asio/defer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace outpost::transport::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

// A read takes at most this much at a time; the buffer shrinks back after a large message,
// so an idle connection holds only Beast's and OpenSSL's small buffers.
constexpr std::size_t read_limit = 64 * 1024;
constexpr std::size_t idle_buffer_capacity = 16 * 1024;

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x))
                  == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

/// Why a WebSocket connection ended, in `stream_connection`'s terms.
std::error_code closed_because(const beast::error_code& ec) {
  if (ec == websocket::error::closed || ec == asio::error::eof
      || ec == asio::ssl::error::stream_truncated) {
    return make_error_code(stream_errc::peer_closed);
  }
  if (ec.category() == asio::error::get_ssl_category()) {
    return make_error_code(stream_errc::tls_error);
  }
  if (ec.category() == websocket::make_error_code(websocket::error::closed).category()) {
    return std::make_error_code(std::errc::protocol_error); // a malformed frame
  }
  return to_std(ec);
}

} // namespace

class ws_connection;

/// The upgraded connections of one listener and its options. Thread-safe.
class websocket_registry : public std::enable_shared_from_this<websocket_registry> {
public:
  websocket_registry(asio::io_context& context, websocket_options options)
      : context_(context),
        options_(std::move(options)) {}

  const websocket_options& options() const { return options_; }

  /// The accept function of `protocol` (one of the options'), or nullptr.
  const stream_server::accept_fn* accept_of(const std::string& protocol) const {
    for (const auto& [name, accept] : options_.protocols) {
      if (name == protocol) {
        return &accept;
      }
    }
    return nullptr;
  }

  bool full_or_stopped() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return stopped_ || open_.size() >= options_.max_connections;
  }

  /// Registers a new connection and returns its id, or 0 when stopped or full.
  std::uint64_t admit(const std::shared_ptr<ws_connection>& c);

  /// Called once a connection is closed (after on_closed), and by its destructor. Idempotent.
  void forget(std::uint64_t id) {
    bool empty = false;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      if (open_.erase(id) == 0) {
        return;
      }
      empty = open_.empty();
    }
    if (empty) {
      drained_.notify_all();
    }
  }

  void stop();

  std::size_t count() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return open_.size();
  }

private:
  asio::io_context& context_;
  const websocket_options options_;
  mutable std::mutex mutex_;
  std::condition_variable drained_;
  std::unordered_map<std::uint64_t, std::weak_ptr<ws_connection>> open_;
  std::uint64_t next_id_ = 1;
  bool stopped_ = false;
};

/// One upgraded connection: Beast's WebSocket stream over the TLS stream the HTTPS listener
/// accepted. Runs on that stream's strand; the `stream_connection` members may be called from
/// any thread and post onto it. Writes coalesce like `stream_server`'s: whatever is queued when
/// the writer runs goes out as one binary message.
class ws_connection final : public stream_connection,
                            public std::enable_shared_from_this<ws_connection> {
public:
  ws_connection(tls_tcp_stream stream, std::string peer_address,
                std::shared_ptr<websocket_registry> registry, std::string protocol)
      : peer_address_(std::move(peer_address)),
        accepted_at_(std::chrono::steady_clock::now()),
        protocol_(std::move(protocol)),
        executor_(stream.get_executor()),
        peer_cert_(tls_server_context::peer_certificate_of(stream.native_handle())),
        ws_(std::move(stream)),
        timer_(executor_),
        registry_(std::move(registry)) {}

  ~ws_connection() override { registry_->forget(id_); }

  ws_connection(const ws_connection&) = delete;
  ws_connection& operator=(const ws_connection&) = delete;

  /// Once, right after construction: registers and starts the handshake. False if refused.
  bool start(upgrade_request request) {
    id_ = registry_->admit(shared_from_this());
    if (id_ == 0) {
      return false;
    }
    asio::post(executor_, [self = shared_from_this(), request = std::move(request)]() mutable {
      self->handshake(std::move(request));
    });
    return true;
  }

  void stop_async() {
    closing_.store(true, std::memory_order_relaxed);
    asio::post(executor_,
               [self = shared_from_this()] { self->finish(stream_errc::server_stopped); });
  }

  void stop_inline() { finish(stream_errc::server_stopped); }

  // ---- stream_connection (any thread) ----

  std::uint64_t id() const override { return id_; }
  std::string peer_address() const override { return peer_address_; }
  const std::optional<peer_certificate>& peer_cert() const override { return peer_cert_; }
  std::chrono::steady_clock::time_point accepted_at() const override { return accepted_at_; }
  void authenticated() override {} // the HTTPS listener's per-address cap covers the handshake

  std::size_t send(std::string bytes) override {
    const std::size_t size = bytes.size();
    bool post_writer = false;
    std::size_t queued = 0;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      if (sends_closed_) {
        return 0;
      }
      if (size == 0) {
        return queued_bytes_.load(std::memory_order_relaxed);
      }
      queued = queued_bytes_.fetch_add(size, std::memory_order_relaxed) + size;
      pending_.push_back(std::move(bytes));
      if (!writer_scheduled_) {
        writer_scheduled_ = true;
        post_writer = true;
      }
    }
    if (post_writer) {
      asio::defer(executor_, [self = shared_from_this()] { self->write_pass(); });
    }
    return queued;
  }

  void pause_reading() override { paused_.store(true, std::memory_order_relaxed); }

  void resume_reading() override {
    paused_.store(false, std::memory_order_relaxed);
    asio::defer(executor_, [self = shared_from_this()] { self->start_reading(); });
  }

  void close(bool flush) override {
    closing_.store(true, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock{mutex_};
      sends_closed_ = true;
    }
    asio::post(executor_, [self = shared_from_this(), flush] { self->begin_close(flush); });
  }

private:
  enum class phase : unsigned char { handshake, open, flushing, closing, closed };

  // ---- handshake (strand) ----

  void handshake(upgrade_request request) {
    if (phase_ != phase::handshake) {
      return; // stopped before it began
    }
    request_ = std::move(request);
    beast::get_lowest_layer(ws_).expires_never(); // the WebSocket layer's own timeouts apply
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = registry_->options().close_timeout;
    // The protocol above keeps its own time (MQTT keep-alive, AMQP idle time-out).
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;
    ws_.set_option(timeouts);
    ws_.set_option(websocket::stream_base::decorator(
        [protocol = protocol_](websocket::response_type& response) {
          response.set(http::field::server, "outpost");
          response.set(http::field::sec_websocket_protocol, protocol);
        }));
    ws_.binary(true);
    ws_.auto_fragment(false);
    ws_.async_accept(request_, [self = shared_from_this()](beast::error_code ec) {
      self->request_ = {};
      if (ec) {
        return self->finish({}); // nobody above knows this connection yet
      }
      self->attach();
    });
  }

  void attach() {
    if (phase_ != phase::handshake) {
      return;
    }
    std::shared_ptr<stream_handler> handler;
    if (const auto* accept = registry_->accept_of(protocol_)) {
      try {
        handler = (*accept)(shared_from_this());
      } catch (...) {
        handler = nullptr;
      }
    }
    if (!handler) {
      return finish({});
    }
    handler_ = std::move(handler);
    phase_ = phase::open;
    start_reading();
  }

  // ---- reading (strand) ----

  void start_reading() {
    if (reading_ || phase_ != phase::open || paused_.load(std::memory_order_relaxed)
        || closing_.load(std::memory_order_relaxed)) {
      return;
    }
    reading_ = true;
    ws_.async_read_some(
        buffer_, read_limit,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (phase_ == phase::closed) {
      return;
    }
    if (ec) {
      // During our own close the close frame ends the read; the close's completion decides.
      return phase_ == phase::closing ? void() : finish(closed_because(ec));
    }
    if (buffer_.size() > 0 && !closing_.load(std::memory_order_relaxed)) {
      const auto data = buffer_.cdata();
      try {
        handler_->on_data(std::string_view{static_cast<const char*>(data.data()), data.size()});
      } catch (...) {
        return finish(stream_errc::handler_failed);
      }
    }
    buffer_.consume(buffer_.size());
    if (buffer_.capacity() > idle_buffer_capacity) {
      buffer_.shrink_to_fit();
    }
    start_reading();
  }

  // ---- writing (strand) ----

  void write_pass() {
    if (writing_ || (phase_ != phase::open && phase_ != phase::flushing)) {
      return;
    }
    {
      std::lock_guard<std::mutex> lock{mutex_};
      if (pending_.empty()) {
        writer_scheduled_ = false;
      } else {
        out_.swap(pending_);
      }
    }
    if (out_.empty()) {
      if (phase_ == phase::flushing) {
        send_close();
      }
      return;
    }
    gathered_.clear();
    for (const auto& chunk : out_) {
      gathered_.emplace_back(chunk.data(), chunk.size());
    }
    writing_ = true;
    ws_.async_write(gathered_, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->on_written(ec, n);
    });
  }

  void on_written(beast::error_code ec, std::size_t n) {
    writing_ = false;
    out_.clear(); // kept until now: the write read from these strings
    if (phase_ == phase::closed) {
      return;
    }
    if (ec) {
      return finish(closed_because(ec));
    }
    queued_bytes_.fetch_sub(std::min(n, queued_bytes_.load(std::memory_order_relaxed)),
                            std::memory_order_relaxed);
    write_pass();
  }

  // ---- closing (strand) ----

  void begin_close(bool flush) {
    if (phase_ == phase::closed) {
      return;
    }
    if (!flush || phase_ == phase::handshake) {
      return finish({});
    }
    if (phase_ != phase::open) {
      return; // already closing
    }
    phase_ = phase::flushing;
    timer_.expires_after(registry_->options().close_timeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec && self->phase_ != phase::closed) {
        self->finish(self->phase_ == phase::flushing ? make_error_code(stream_errc::close_timeout)
                                                     : std::error_code{});
      }
    });
    bool writer_idle = false;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      writer_idle = !writer_scheduled_;
    }
    if (writer_idle && !writing_) {
      send_close(); // otherwise the writer sends it once everything queued is out
    }
  }

  /// Everything queued is written: the close frame, then Beast waits for the peer's (bounded
  /// by the handshake timeout) and shuts TLS and TCP down.
  void send_close() {
    phase_ = phase::closing;
    ws_.async_close(websocket::close_code::normal,
                    [self = shared_from_this()](beast::error_code) { self->finish({}); });
  }

  /// The end: socket closed, queues dropped, on_closed called (if a handler was attached),
  /// registry left. Idempotent.
  void finish(std::error_code ec) {
    if (phase_ == phase::closed) {
      return;
    }
    phase_ = phase::closed;
    closing_.store(true, std::memory_order_relaxed);
    timer_.cancel();
    boost::system::error_code ignored;
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.shutdown(asio::socket_base::shutdown_both, ignored);
    socket.close(ignored); // pending operations complete with operation_aborted
    {
      std::lock_guard<std::mutex> lock{mutex_};
      sends_closed_ = true;
      std::vector<std::string>{}.swap(pending_);
    }
    queued_bytes_.store(0, std::memory_order_relaxed);
    if (auto handler = std::move(handler_)) {
      try {
        handler->on_closed(ec);
      } catch (...) {
        // on_closed must not throw; the connection is closed all the same.
      }
    }
    registry_->forget(id_);
  }

  // Constant after start().
  std::uint64_t id_ = 0;
  const std::string peer_address_;
  const std::chrono::steady_clock::time_point accepted_at_;
  const std::string protocol_;
  const asio::any_io_executor executor_;
  /// The client's certificate from the HTTPS listener's handshake (asked for, optional): X.509
  /// identities authenticate over WebSockets as over 8883 and 5671.
  const std::optional<peer_certificate> peer_cert_;

  // Strand only.
  websocket::stream<tls_tcp_stream> ws_;
  asio::steady_timer timer_;
  const std::shared_ptr<websocket_registry> registry_;
  upgrade_request request_; // during the handshake only
  std::shared_ptr<stream_handler> handler_;
  beast::flat_buffer buffer_;
  std::vector<std::string> out_; // being written
  std::vector<asio::const_buffer> gathered_;
  phase phase_ = phase::handshake;
  bool reading_ = false;
  bool writing_ = false;

  // Any thread.
  std::mutex mutex_;
  std::vector<std::string> pending_; // sends not yet taken by the writer (mutex_)
  bool writer_scheduled_ = false;    // a write pass is posted, running or writing (mutex_)
  bool sends_closed_ = false;        // close() or finish(): sends are dropped (mutex_)
  std::atomic<std::size_t> queued_bytes_{0};
  std::atomic<bool> paused_{false};
  std::atomic<bool> closing_{false}; // no more on_data
};

std::uint64_t websocket_registry::admit(const std::shared_ptr<ws_connection>& c) {
  std::lock_guard<std::mutex> lock{mutex_};
  if (stopped_ || open_.size() >= options_.max_connections) {
    return 0;
  }
  const auto id = next_id_++;
  open_.emplace(id, c);
  return id;
}

void websocket_registry::stop() {
  std::vector<std::shared_ptr<ws_connection>> open;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    stopped_ = true;
    for (auto& entry : open_) {
      if (auto c = entry.second.lock()) {
        open.push_back(std::move(c));
      }
    }
  }
  const bool runner_stopped = context_.stopped();
  for (auto& c : open) {
    if (runner_stopped) {
      c->stop_inline();
    } else {
      c->stop_async();
    }
  }
  open.clear(); // outside the lock: a connection's destructor calls forget()
  if (runner_stopped || context_.get_executor().running_in_this_thread()) {
    return; // waiting could need this very thread
  }
  std::unique_lock<std::mutex> lock{mutex_};
  drained_.wait(lock, [&] { return open_.empty(); });
}

websocket_acceptor::websocket_acceptor(asio::io_context& context, websocket_options options)
    : registry_(std::make_shared<websocket_registry>(context, std::move(options))) {}

websocket_acceptor::~websocket_acceptor() {
  stop();
}

upgrade_decision websocket_acceptor::decide(const upgrade_request& request) const {
  const auto raw_target = request.target();
  const std::string_view target{raw_target.data(), raw_target.size()};
  if (target.substr(0, target.find('?')) != registry_->options().path
      || !websocket::is_upgrade(request)) {
    return {};
  }
  std::string chosen;
  const auto raw_offered = request[http::field::sec_websocket_protocol];
  std::string_view offered{raw_offered.data(), raw_offered.size()};
  while (chosen.empty() && !offered.empty()) {
    const auto comma = offered.find(',');
    const auto name = trim(offered.substr(0, comma));
    offered = comma == std::string_view::npos ? std::string_view{} : offered.substr(comma + 1);
    for (const auto& served : registry_->options().protocols) {
      if (iequal(served.first, name)) {
        chosen = served.first;
        break;
      }
    }
  }
  if (chosen.empty()) {
    std::string names;
    for (const auto& served : registry_->options().protocols) {
      names += (names.empty() ? "" : ", ") + served.first;
    }
    return {upgrade_decision::refuse,
            400,
            "Sec-WebSocket-Protocol must name one of: " + names + "\n",
            {}};
  }
  if (registry_->full_or_stopped()) {
    return {upgrade_decision::refuse, 503, "too many WebSocket connections\n", {}};
  }
  return {upgrade_decision::take, 0, {}, std::move(chosen)};
}

void websocket_acceptor::take(tls_tcp_stream stream, upgrade_request request,
                              std::string peer_address, const std::string& protocol) {
  auto connection = std::make_shared<ws_connection>(std::move(stream), std::move(peer_address),
                                                    registry_, protocol);
  // Refused (stopped or full since `decide`): the connection's destructor closes the socket.
  connection->start(std::move(request));
}

void websocket_acceptor::stop() {
  registry_->stop();
}

std::size_t websocket_acceptor::connection_count() const {
  return registry_->count();
}

} // namespace outpost::transport::detail
