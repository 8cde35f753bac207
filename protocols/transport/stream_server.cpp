#include "protocols/transport/stream_server.hpp"

#include "protocols/common/error_category.hpp"
#include "protocols/transport/detail/io_runner_impl.hpp"
#include "protocols/transport/detail/tcp_address.hpp"

#include <boost/asio/defer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sys/socket.h>
#include <sys/uio.h>

namespace outpost::transport {
namespace {

const char* describe(stream_errc e) noexcept {
  switch (e) {
    case stream_errc::peer_closed:
      return "connection closed by the peer";
    case stream_errc::server_stopped:
      return "server stopped";
    case stream_errc::tls_error:
      return "TLS error";
    case stream_errc::handler_failed:
      return "connection handler failed";
    case stream_errc::close_timeout:
      return "queued data could not be flushed before the close timeout";
  }
  return nullptr;
}

} // namespace

const std::error_category& stream_category() noexcept {
  static const enum_category<stream_errc> instance{"outpost.transport.stream", describe,
                                                   "unknown stream error"};
  return instance;
}

std::error_code make_error_code(stream_errc e) noexcept {
  return {static_cast<int>(e), stream_category()};
}

namespace detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// One read pass reads up to this much before calling on_data: big enough for many MQTT frames
// per call (one actor message per batch), small enough to stay in L2.
constexpr std::size_t read_buffer_size = 64 * 1024;
// Reads (and write bytes) per pass before the connection yields its thread to the others.
constexpr int reads_per_pass = 4;
constexpr std::size_t write_bytes_per_pass = 512 * 1024;
// One sendmsg gathers at most this many queued strings / bytes.
constexpr int max_iovecs = 128;
constexpr std::size_t max_gather_bytes = 256 * 1024;
// Payload of one full TLS record: small sends are gathered up to this before SSL_write.
constexpr std::size_t tls_record_payload = 16 * 1024;
// Back-off after accept() fails for want of resources (EMFILE, ENOBUFS), as in http_server.
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);
// Vectors of queued strings above this capacity are released when the queue drains, so a burst
// does not pin memory on a connection that goes idle afterwards.
constexpr std::size_t retained_queue_capacity = 64;

/// The I/O thread's read buffer. Connections read only after the socket is readable and hand
/// the bytes to the handler at once, so one buffer per thread serves them all: an idle
/// connection holds no buffer at all.
char* thread_read_buffer() {
  thread_local std::unique_ptr<char[]> buffer;
  if (!buffer) {
    buffer.reset(new char[read_buffer_size]);
  }
  return buffer.get();
}

/// The I/O thread's buffer for gathering small sends into one TLS record. Rebuilt from the
/// queue before every SSL_write (a retry gathers the same bytes again), so it is never state.
std::string& thread_record_buffer() {
  thread_local std::string buffer;
  return buffer;
}

enum class want : unsigned char { nothing, read, write };

/// The outcome of one non-blocking step of a stream.
struct io_status {
  std::size_t bytes = 0;     ///< transferred
  want wait = want::nothing; ///< would block: wait for this readiness, then call again
  bool eof = false;          ///< the peer closed (orderly)
  std::error_code error;     ///< failed
};

/// Strings being written, in order; the strand's side of the send queue.
struct write_queue {
  std::vector<std::string> chunks;
  std::size_t index = 0;  ///< first chunk not completely written
  std::size_t offset = 0; ///< bytes of chunks[index] already written

  bool drained() const { return index == chunks.size(); }

  void consume(std::size_t n) {
    while (n > 0) {
      const std::size_t left = chunks[index].size() - offset;
      if (n < left) {
        offset += n;
        return;
      }
      n -= left;
      std::string{}.swap(chunks[index]); // a big message's memory goes now, not after the batch
      ++index;
      offset = 0;
    }
  }

  void reset() {
    if (chunks.capacity() > retained_queue_capacity) {
      std::vector<std::string>{}.swap(chunks);
    } else {
      chunks.clear();
    }
    index = 0;
    offset = 0;
  }
};

int native(tcp::socket& socket) {
  return socket.native_handle();
}

io_status errno_status(int error) {
  if (error == EAGAIN || error == EWOULDBLOCK) {
    return io_status{0, want::read, false, {}};
  }
  return io_status{0, want::nothing, false, {error, std::system_category()}};
}

/// Reads raw bytes (plain TCP, and the discard phase of a graceful close).
io_status raw_read(int fd, char* buffer, std::size_t size) {
  for (;;) {
    const auto n = ::recv(fd, buffer, size, 0);
    if (n > 0) {
      // A short read almost always means the socket is drained; waiting right away saves the
      // recv that would only say EAGAIN (epoll re-checks readiness when the wait is armed).
      const auto got = static_cast<std::size_t>(n);
      return io_status{got, got < size ? want::read : want::nothing, false, {}};
    }
    if (n == 0) {
      return io_status{0, want::nothing, true, {}};
    }
    if (errno != EINTR) {
      return errno_status(errno);
    }
  }
}

// ---- the two stream types ---------------------------------------------------------------------

/// Plain TCP: recv and a gathering sendmsg directly on the non-blocking socket; Asio provides the
/// readiness waits.
class plain_stream {
public:
  static constexpr bool is_tls = false;

  plain_stream(tcp::socket socket, ssl_st*) : socket_(std::move(socket)) {}

  tcp::socket& socket() { return socket_; }
  io_status handshake() { return {}; }
  std::optional<peer_certificate> peer() const { return std::nullopt; }

  io_status read(char* buffer, std::size_t size) { return raw_read(native(socket_), buffer, size); }

  io_status write(const write_queue& queue) {
    iovec iov[max_iovecs];
    int count = 0;
    std::size_t total = 0;
    std::size_t offset = queue.offset;
    for (std::size_t i = queue.index;
         i < queue.chunks.size() && count < max_iovecs && total < max_gather_bytes; ++i) {
      const auto& chunk = queue.chunks[i];
      iov[count].iov_base = const_cast<char*>(chunk.data() + offset);
      iov[count].iov_len = chunk.size() - offset;
      total += iov[count].iov_len;
      ++count;
      offset = 0;
    }
    msghdr message{};
    message.msg_iov = iov;
    message.msg_iovlen = static_cast<std::size_t>(count);
    for (;;) {
      const auto n = ::sendmsg(native(socket_), &message, MSG_NOSIGNAL);
      if (n >= 0) {
        const auto sent = static_cast<std::size_t>(n);
        // Short: the socket buffer is full, the next sendmsg would only say EAGAIN.
        return io_status{sent, sent < total ? want::write : want::nothing, false, {}};
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return io_status{0, want::write, false, {}};
      }
      return errno_status(errno);
    }
  }

  void shutdown_send() { ::shutdown(native(socket_), SHUT_WR); }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

private:
  tcp::socket socket_;
};

/// TLS: OpenSSL reads and writes the non-blocking socket itself (tls_server_context's BIO), and
/// this class turns its WANT_READ/WANT_WRITE into readiness waits. Compared with
/// asio::ssl::stream this saves its two 17 KiB staging buffers and the BIO pair's two 17 KiB
/// buffers per connection, and a copy of every byte; with SSL_MODE_RELEASE_BUFFERS an idle TLS
/// connection holds no record buffer either.
class tls_stream {
public:
  static constexpr bool is_tls = true;

  tls_stream(tcp::socket socket, ssl_st* ssl) : socket_(std::move(socket)), ssl_(ssl) {}
  ~tls_stream() { close(); }
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;

  tcp::socket& socket() { return socket_; }

  io_status handshake() {
    ERR_clear_error(); // the error queue is per thread: another connection's error is not ours
    const int r = SSL_do_handshake(ssl_);
    if (r == 1) {
      return {};
    }
    return status(r);
  }

  std::optional<peer_certificate> peer() const {
    return tls_server_context::peer_certificate_of(ssl_);
  }

  io_status read(char* buffer, std::size_t size) {
    std::size_t total = 0;
    // SSL_read returns at most one record; keep going so the handler gets one batch.
    while (total < size) {
      ERR_clear_error();
      std::size_t n = 0;
      const int r = SSL_read_ex(ssl_, buffer + total, size - total, &n);
      if (r == 1) {
        total += n;
        continue;
      }
      io_status s = status(r);
      if (total == 0 || s.wait != want::nothing) {
        s.bytes = total;
        return s;
      }
      // Deliver what was read; the failure is still there on the next call (OpenSSL keeps a
      // fatal state, and a close_notify is reported again).
      ERR_clear_error();
      return io_status{total, want::nothing, false, {}};
    }
    return io_status{total, want::nothing, false, {}};
  }

  io_status write(const write_queue& queue) {
    const std::string& front = queue.chunks[queue.index];
    const std::size_t left = front.size() - queue.offset;
    const char* data = front.data() + queue.offset;
    std::size_t size = left;
    if (left < tls_record_payload && queue.index + 1 < queue.chunks.size()) {
      // Several small sends: one record instead of one per send (each record costs 22+ bytes
      // on the wire, an AEAD pass and, without this, a syscall).
      auto& record = thread_record_buffer();
      record.clear();
      std::size_t offset = queue.offset;
      for (std::size_t i = queue.index;
           i < queue.chunks.size() && record.size() < tls_record_payload; ++i) {
        const auto& chunk = queue.chunks[i];
        const std::size_t take =
            std::min(chunk.size() - offset, tls_record_payload - record.size());
        record.append(chunk, offset, take);
        offset = 0;
      }
      data = record.data();
      size = record.size();
    }
    ERR_clear_error();
    std::size_t written = 0;
    const int r = SSL_write_ex(ssl_, data, size, &written);
    if (r == 1) {
      return io_status{written, want::nothing, false, {}};
    }
    return status(r);
  }

  void shutdown_send() {
    if (ssl_ && SSL_is_init_finished(ssl_)) {
      ERR_clear_error();
      SSL_shutdown(ssl_); // close_notify, best effort: the socket buffer has room after a flush
      ERR_clear_error();
    }
    ::shutdown(native(socket_), SHUT_WR);
  }

  void close() {
    if (ssl_) {
      SSL_free(ssl_); // the connection's largest allocation goes now, not when the last
      ssl_ = nullptr; // shared_ptr to it does
    }
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

private:
  io_status status(int r) {
    const int error = errno; // before anything else can change it
    switch (SSL_get_error(ssl_, r)) {
      case SSL_ERROR_WANT_READ:
        return io_status{0, want::read, false, {}};
      case SSL_ERROR_WANT_WRITE:
        return io_status{0, want::write, false, {}};
      case SSL_ERROR_ZERO_RETURN:
        return io_status{0, want::nothing, true, {}};
      case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (error == 0) {
          return io_status{0, want::nothing, true, {}};
        }
        return io_status{0, want::nothing, false, {error, std::system_category()}};
      default:
        ERR_clear_error();
        return io_status{0, want::nothing, false, make_error_code(stream_errc::tls_error)};
    }
  }

  tcp::socket socket_;
  ssl_st* ssl_; // owned
};

} // namespace

// ---- connections ------------------------------------------------------------------------------

class stream_listener;

/// What the listener needs of a connection, whatever its stream type.
class session_base : public stream_connection {
public:
  /// Any thread: starts the handshake (TLS) or hands the connection to accept_fn (TCP).
  virtual void start() = 0;
  /// Any thread: closes with `stream_errc::server_stopped`, on the strand.
  virtual void stop_async() = 0;
  /// Only when no I/O thread runs (the runner is stopped): closes on the calling thread.
  virtual void stop_inline() = 0;
};

/// The listener's state, shared with its connections. Thread-safe: `mutex_` guards the acceptor,
/// the retry timer, the registry and `stopped_`.
class stream_listener final : public std::enable_shared_from_this<stream_listener> {
public:
  stream_listener(asio::io_context& context, const stream_options& options,
                  stream_server::accept_fn accept, std::shared_ptr<tls_server_context> tls)
      : context_(context),
        accept_(std::move(accept)),
        tls_(std::move(tls)),
        handshake_timeout_(options.handshake_timeout),
        close_timeout_(options.close_timeout),
        max_connections_(options.max_connections),
        max_unauthenticated_(options.max_unauthenticated_per_source),
        acceptor_(asio::make_strand(context)),
        retry_timer_(acceptor_.get_executor()) {}

  stream_listener(const stream_listener&) = delete;
  stream_listener& operator=(const stream_listener&) = delete;

  result<void> listen(const tcp::endpoint& endpoint, std::string& why) {
    std::lock_guard<std::mutex> lock{mutex_};
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) {
      // A restarted daemon binds while old connections sit in TIME_WAIT.
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
      why = "listening on " + format_endpoint(endpoint) + ": " + ec.message();
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      return to_std(ec);
    }
    bound_address_ = format_endpoint(local);
    accept_locked();
    return ok();
  }

  const std::string& bound_address() const { return bound_address_; }

  std::size_t connection_count() {
    std::lock_guard<std::mutex> lock{mutex_};
    return sessions_.size();
  }

  void stop() {
    std::vector<std::shared_ptr<session_base>> open;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      if (!stopped_) {
        stopped_ = true;
        // Synchronously, so a connect() after stop() returns is refused.
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        retry_timer_.cancel();
      }
      for (auto& entry : sessions_) {
        if (auto s = entry.second.lock()) {
          open.push_back(std::move(s));
        }
      }
    }
    // Nobody would run the posted closes once the runner has stopped: close right here (no I/O
    // thread can be touching the connections).
    const bool runner_stopped = context_.stopped();
    for (auto& s : open) {
      if (runner_stopped) {
        s->stop_inline();
      } else {
        s->stop_async();
      }
    }
    open.clear(); // outside the lock: a session's destructor calls forget()
    if (runner_stopped || context_.get_executor().running_in_this_thread()) {
      // On an I/O thread the closes may need this very thread: waiting could deadlock.
      return;
    }
    std::unique_lock<std::mutex> lock{mutex_};
    drained_.wait(lock, [&] { return sessions_.empty(); });
  }

  /// Called by a connection once closed (after on_closed) and by its destructor. Idempotent.
  void forget(std::uint64_t id) {
    bool empty = false;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      if (sessions_.erase(id) == 0) {
        return;
      }
      empty = sessions_.empty();
    }
    if (empty) {
      drained_.notify_all();
    }
  }

  /// accept_fn, or nullptr if it refuses or throws.
  std::shared_ptr<stream_handler> accept(std::shared_ptr<stream_connection> connection) {
    try {
      return accept_(std::move(connection));
    } catch (...) {
      return nullptr;
    }
  }

  std::chrono::seconds handshake_timeout() const { return handshake_timeout_; }
  std::chrono::seconds close_timeout() const { return close_timeout_; }

  /// A connection from `source` is authenticated or closed: it stops counting. Once per
  /// connection (the connection keeps a flag).
  void release_unauthenticated(const std::string& source) {
    std::lock_guard<std::mutex> lock{mutex_};
    auto i = unauthenticated_.find(source);
    if (i != unauthenticated_.end() && --i->second == 0) {
      unauthenticated_.erase(i);
    }
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

  void uncount_locked(const std::string& source) {
    if (source.empty()) {
      return;
    }
    auto i = unauthenticated_.find(source);
    if (i != unauthenticated_.end() && --i->second == 0) {
      unauthenticated_.erase(i);
    }
  }

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
  const stream_server::accept_fn accept_;
  const std::shared_ptr<tls_server_context> tls_; // null: plain TCP
  const std::chrono::seconds handshake_timeout_;
  const std::chrono::seconds close_timeout_;
  const std::size_t max_connections_;
  const std::size_t max_unauthenticated_; // per source address; 0 = no limit
  std::string bound_address_;             // set by listen(), constant afterwards

  std::mutex mutex_;
  std::condition_variable drained_; // signalled when the registry becomes empty
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  bool stopped_ = false;
  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, std::weak_ptr<session_base>> sessions_;
  /// Source address -> connections from it not yet authenticated (only with a limit).
  std::unordered_map<std::string, std::size_t> unauthenticated_;
};

/// One connection over `Stream` (plain_stream or tls_stream). Everything marked "strand" is
/// touched only by handlers on the connection's strand; the members under `mutex_` and the
/// atomics are the bridge to the threads calling the stream_connection interface.
///
/// Life cycle: handshake → open (accept_fn returned a handler; reading) → [flushing → lingering
/// (graceful close)] → closed. `finish()` is the one way into `closed`: it closes the socket,
/// frees the TLS state, calls on_closed once and leaves the listener's registry.
template <class Stream>
class stream_session final : public session_base,
                             public std::enable_shared_from_this<stream_session<Stream>> {
public:
  stream_session(std::uint64_t id, std::string peer_address, tcp::socket socket, ssl_st* ssl,
                 std::shared_ptr<stream_listener> listener, std::string counted_source)
      : id_(id),
        peer_address_(std::move(peer_address)),
        accepted_at_(std::chrono::steady_clock::now()),
        counted_source_(std::move(counted_source)),
        stream_(std::move(socket), ssl),
        listener_(std::move(listener)) {}

  ~stream_session() override {
    authenticated();
    listener_->forget(id_);
  }

  stream_session(const stream_session&) = delete;
  stream_session& operator=(const stream_session&) = delete;

  // ---- stream_connection (any thread) ----

  std::uint64_t id() const override { return id_; }
  std::string peer_address() const override { return peer_address_; }
  const std::optional<peer_certificate>& peer_cert() const override {
    static const std::optional<peer_certificate> none;
    return peer_cert_ ? *peer_cert_ : none;
  }

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
      // Counted under the lock, before the writer can see (and subtract) these bytes.
      queued = queued_bytes_.fetch_add(size, std::memory_order_relaxed) + size;
      pending_.push_back(std::move(bytes));
      if (!writer_scheduled_) {
        writer_scheduled_ = true;
        post_writer = true;
      }
    }
    if (post_writer) {
      // While the writer is scheduled or busy, further sends only append: one wake-up and one
      // gathered write for however many sends arrive meanwhile. Deferred: a send from code on an
      // I/O thread (an actor run there) writes on that same thread after it, waking no other.
      asio::defer(executor(), [self = this->shared_from_this()] { self->write_pass(); });
    }
    return queued;
  }

  void pause_reading() override { paused_.store(true, std::memory_order_relaxed); }

  void authenticated() override {
    if (!counted_source_.empty() && !released_.exchange(true)) {
      listener_->release_unauthenticated(counted_source_);
    }
  }

  std::chrono::steady_clock::time_point accepted_at() const override { return accepted_at_; }

  void resume_reading() override {
    paused_.store(false, std::memory_order_relaxed);
    asio::defer(executor(), [self = this->shared_from_this()] { self->start_reading(); });
  }

  void close(bool flush) override {
    closing_.store(true, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock{mutex_};
      sends_closed_ = true; // what is queued now is what a graceful close flushes
    }
    asio::post(executor(), [self = this->shared_from_this(), flush] { self->begin_close(flush); });
  }

  // ---- session_base ----

  void start() override {
    asio::post(executor(), [self = this->shared_from_this()] { self->begin(); });
  }

  void stop_async() override {
    closing_.store(true, std::memory_order_relaxed);
    asio::post(executor(),
               [self = this->shared_from_this()] { self->finish(stream_errc::server_stopped); });
  }

  void stop_inline() override { finish(stream_errc::server_stopped); }

private:
  enum class phase : unsigned char { handshake, open, flushing, lingering, closed };

  /// The connection's strand (the socket's executor): any thread may post to it.
  asio::any_io_executor executor() { return stream_.socket().get_executor(); }

  /// Starts the one timeout (the handshake's, then the graceful close's) on the strand.
  template <class Handler>
  void arm_timer(asio::steady_timer::duration after, Handler&& handler) {
    timer_ = std::make_unique<asio::steady_timer>(executor(), after);
    timer_->async_wait(std::forward<Handler>(handler));
  }

  // ---- handshake (strand) ----

  void begin() {
    if (phase_ != phase::handshake) {
      return; // stopped before it started
    }
    if constexpr (Stream::is_tls) {
      arm_timer(listener_->handshake_timeout(),
                [self = this->shared_from_this()](boost::system::error_code ec) {
                  if (!ec && self->phase_ == phase::handshake) {
                    self->finish({}); // silent or slow client: nobody above knows it yet
                  }
                });
      handshake_step();
    } else {
      attach();
    }
  }

  void handshake_step() {
    if (phase_ != phase::handshake) {
      return;
    }
    const io_status s = stream_.handshake();
    if (s.wait != want::nothing) {
      return wait(s.wait, [](stream_session& self) { self.handshake_step(); });
    }
    if (s.error || s.eof) {
      return finish({}); // failed handshake: only this connection, and nobody above to tell
    }
    timer_.reset(); // cancels the handshake timeout
    if (auto cert = stream_.peer()) {
      peer_cert_ = std::make_unique<const std::optional<peer_certificate>>(std::move(cert));
    }
    attach();
  }

  void attach() {
    auto handler = listener_->accept(this->shared_from_this());
    if (!handler) {
      return finish({}); // refused
    }
    if (phase_ != phase::handshake) {
      return; // cannot happen (closes are posted), but never resurrect a closed connection
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
    read_pass();
  }

  /// Runs with `reading_` set; clears it when reading stops (paused, closing, closed).
  void read_pass() {
    char* const buffer = thread_read_buffer();
    for (int i = 0; i < reads_per_pass; ++i) {
      if (phase_ != phase::open || paused_.load(std::memory_order_relaxed)
          || closing_.load(std::memory_order_relaxed)) {
        reading_ = false;
        return;
      }
      const io_status s = stream_.read(buffer, read_buffer_size);
      if (s.bytes > 0 && !deliver(std::string_view{buffer, s.bytes})) {
        return;
      }
      if (s.error) {
        return finish(s.error);
      }
      if (s.eof) {
        return finish(stream_errc::peer_closed);
      }
      if (s.wait != want::nothing) {
        return wait(s.wait, [](stream_session& self) { self.read_pass(); });
      }
    }
    // Still more to read: yield, so a busy connection cannot starve the others on this thread.
    asio::post(executor(), [self = this->shared_from_this()] { self->read_pass(); });
  }

  /// False if the connection was closed because the handler threw.
  bool deliver(std::string_view bytes) {
    try {
      handler_->on_data(bytes);
      return true;
    } catch (...) {
      finish(stream_errc::handler_failed);
      return false;
    }
  }

  // ---- writing (strand) ----

  void write_pass() {
    if (write_waiting_ || (phase_ != phase::open && phase_ != phase::flushing)) {
      return; // a readiness wait will continue; or nothing may be written any more
    }
    std::size_t budget = write_bytes_per_pass;
    for (;;) {
      if (out_.drained()) {
        out_.reset();
        std::lock_guard<std::mutex> lock{mutex_};
        if (pending_.empty()) {
          writer_scheduled_ = false;
          break;
        }
        out_.chunks.swap(pending_); // both keep their capacity: no allocation in steady state
      }
      const io_status s = stream_.write(out_);
      if (s.bytes > 0) {
        out_.consume(s.bytes);
        queued_bytes_.fetch_sub(s.bytes, std::memory_order_relaxed);
        budget -= std::min(budget, s.bytes);
      }
      if (s.error) {
        return finish(s.error);
      }
      if (s.eof) {
        return finish(stream_errc::peer_closed);
      }
      if (s.wait != want::nothing) {
        write_waiting_ = true;
        return wait(s.wait, [](stream_session& self) {
          self.write_waiting_ = false;
          self.write_pass();
        });
      }
      if (budget == 0) {
        asio::post(executor(), [self = this->shared_from_this()] { self->write_pass(); });
        return; // writer_scheduled_ stays set: this post is the scheduled writer
      }
    }
    if (phase_ == phase::flushing) {
      shut_down();
    }
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
      return; // already flushing or lingering
    }
    phase_ = phase::flushing;
    arm_timer(listener_->close_timeout(), [self = this->shared_from_this()](
                                              boost::system::error_code ec) {
      if (ec || self->phase_ == phase::closed) {
        return;
      }
      // Flushed but the peer did not close in time: still a clean close from our side.
      self->finish(self->phase_ == phase::flushing ? make_error_code(stream_errc::close_timeout)
                                                   : std::error_code{});
    });
    bool writer_idle = false;
    {
      std::lock_guard<std::mutex> lock{mutex_};
      writer_idle = !writer_scheduled_;
    }
    if (writer_idle) {
      shut_down(); // nothing queued; otherwise the writer shuts down once drained
    }
  }

  /// Everything is written: close_notify and FIN, then read and discard until the peer closes
  /// too. Closing with unread input would send a reset, and the peer could lose the last bytes
  /// we sent (e.g. a CONNACK refusing it) before reading them.
  void shut_down() {
    phase_ = phase::lingering;
    stream_.shutdown_send();
    linger();
  }

  void linger() {
    if (phase_ != phase::lingering) {
      return;
    }
    char* const buffer = thread_read_buffer();
    for (int i = 0; i < reads_per_pass; ++i) {
      const io_status s = raw_read(native(stream_.socket()), buffer, read_buffer_size);
      if (s.error || s.eof) {
        return finish({});
      }
      if (s.wait != want::nothing) {
        return wait(want::read, [](stream_session& self) { self.linger(); });
      }
    }
    asio::post(executor(), [self = this->shared_from_this()] { self->linger(); });
  }

  /// The end: socket closed, TLS state freed, queues dropped, on_closed called (if a handler
  /// was attached), registry left. Idempotent.
  void finish(std::error_code ec) {
    if (phase_ == phase::closed) {
      return;
    }
    phase_ = phase::closed;
    closing_.store(true, std::memory_order_relaxed);
    timer_.reset();
    stream_.close(); // pending readiness waits complete with operation_aborted
    {
      std::lock_guard<std::mutex> lock{mutex_};
      sends_closed_ = true;
      std::vector<std::string>{}.swap(pending_);
    }
    out_ = write_queue{};
    queued_bytes_.store(0, std::memory_order_relaxed);
    authenticated(); // closed: it no longer counts against its source's limit
    if (auto handler = std::move(handler_)) {
      try {
        handler->on_closed(ec);
      } catch (...) {
        // on_closed must not throw; if it does, the connection is closed all the same.
      }
    }
    listener_->forget(id_); // last: stop() returns only after on_closed has returned
  }

  /// Waits for readiness, then runs `next` on the strand (unless the connection closed meanwhile).
  template <class Next>
  void wait(want what, Next next) {
    stream_.socket().async_wait(
        what == want::read ? tcp::socket::wait_read : tcp::socket::wait_write,
        [self = this->shared_from_this(), next](boost::system::error_code ec) {
          if (self->phase_ == phase::closed) {
            return;
          }
          if (ec) {
            return self->finish(to_std(ec));
          }
          next(*self);
        });
  }

  // Constant after construction (peer_cert_: before accept_fn sees the connection).
  const std::uint64_t id_;
  const std::string peer_address_;
  const std::chrono::steady_clock::time_point accepted_at_;
  const std::string counted_source_; // "" when not counted (no per-source limit)
  // A client certificate's details (X.509 clients only): SAS clients hold a null pointer, not
  // 112 bytes of empty optional.
  std::unique_ptr<const std::optional<peer_certificate>> peer_cert_;

  // Strand only (the socket's executor is the connection's strand; it is set at construction
  // and only read afterwards, so other threads post to it through `executor()`).
  Stream stream_;
  // The handshake's, then the graceful close's timeout: allocated only while one runs, so an
  // open connection holds a null pointer instead of an idle 112-byte timer. Together with the
  // two members above, the session fits jemalloc's 384-byte class instead of 768.
  std::unique_ptr<asio::steady_timer> timer_;
  const std::shared_ptr<stream_listener> listener_;
  std::shared_ptr<stream_handler> handler_;
  write_queue out_;
  phase phase_ = phase::handshake;
  bool reading_ = false;       // a read pass or its readiness wait is pending
  bool write_waiting_ = false; // the writer waits for readiness

  // Any thread. The one-byte members share one word with the strand's above (each byte is its
  // own memory location): 16 bytes of padding less put the session in the 384-byte class.
  bool writer_scheduled_ = false; // a write pass is posted, running or waiting (mutex_)
  bool sends_closed_ = false;     // close() or finish(): sends are dropped (mutex_)
  std::atomic<bool> paused_{false};
  std::atomic<bool> closing_{false};  // no more on_data
  std::atomic<bool> released_{false}; // counted_source_ released (authenticated or closed)
  std::mutex mutex_;
  std::vector<std::string> pending_; // sends not yet taken by the writer (mutex_)
  std::atomic<std::size_t> queued_bytes_{0};
};

// Ten thousand idle connections hold one each, behind make_shared's 16-byte control block:
// past 368 bytes a session takes jemalloc's 448-byte class (it once took 768).
static_assert(sizeof(stream_session<tls_stream>) <= 384 - 16,
              "the TLS session grew into the next size class");

void stream_listener::on_accept(boost::system::error_code ec, tcp::socket socket) {
  std::shared_ptr<session_base> accepted;
  {
    std::lock_guard<std::mutex> lock{mutex_};
    if (stopped_) {
      return;
    }
    if (ec == asio::error::connection_aborted) {
      accept_locked(); // the client gave up before we accepted it
      return;
    }
    if (ec) {
      retry_accept_locked();
      return;
    }
    accept_locked();
    if (sessions_.size() >= max_connections_) {
      return; // over the limit: the socket closes as it goes out of scope
    }
    boost::system::error_code option_ec;
    // Small frames (PUBACKs, CONNACKs) must leave at once: Nagle plus the peer's delayed ACK
    // stalls each burst by 40 ms (deps.md §3.6: 2.3k instead of 144k messages/s).
    socket.set_option(tcp::no_delay(true), option_ec);
    // The streams call recv/sendmsg/SSL_* themselves and must never block an I/O thread.
    socket.non_blocking(true, option_ec);
    if (option_ec) {
      return;
    }
    const auto remote = socket.remote_endpoint(option_ec);
    if (option_ec) {
      return; // already reset by the peer
    }
    // Unauthenticated peers may not pile up connections from one address (each holds a TLS
    // state and a few KiB until it authenticates or times out).
    std::string source;
    if (max_unauthenticated_ != 0) {
      source = remote.address().to_string();
      auto& n = unauthenticated_[source];
      if (n >= max_unauthenticated_) {
        return; // over the limit: the socket closes as it goes out of scope
      }
      ++n;
    }
    const std::uint64_t id = next_id_++;
    try {
      if (tls_) {
        ssl_st* ssl = tls_->new_connection(socket.native_handle());
        if (!ssl) {
          uncount_locked(source);
          return;
        }
        accepted = std::make_shared<stream_session<tls_stream>>(
            id, format_endpoint(remote), std::move(socket), ssl, shared_from_this(), source);
      } else {
        accepted = std::make_shared<stream_session<plain_stream>>(
            id, format_endpoint(remote), std::move(socket), nullptr, shared_from_this(), source);
      }
      sessions_.emplace(id, accepted);
    } catch (const std::bad_alloc&) {
      if (!accepted) {
        uncount_locked(source);
      }
      return; // the session (if built) is released below, outside the lock
    }
  }
  if (accepted) {
    accepted->start();
  }
}

/// Builds the listener and starts accepting; the shared part of `stream_server::start`.
result<std::shared_ptr<stream_listener>> start_listener(io_runner& io,
                                                        const stream_options& options,
                                                        stream_server::accept_fn accept,
                                                        std::string& why) {
  auto endpoint = parse_address(options.address);
  if (!endpoint) {
    why = "invalid listen address \"" + options.address + "\"";
    return endpoint.error();
  }
  std::shared_ptr<tls_server_context> tls;
  if (options.tls) {
    auto created = tls_server_context::create(*options.tls, options.request_client_cert, why);
    if (!created) {
      return created.error();
    }
    tls = std::move(*created);
  }
  try {
    auto listener = std::make_shared<stream_listener>(io_runner_access::context(io), options,
                                                      std::move(accept), std::move(tls));
    if (auto listening = listener->listen(*endpoint, why); !listening) {
      return listening.error();
    }
    return listener;
  } catch (const boost::system::system_error& e) {
    why = e.what();
    return to_std(e.code());
  } catch (const std::bad_alloc&) {
    why = "out of memory";
    return std::make_error_code(std::errc::not_enough_memory);
  }
}

} // namespace detail

stream_server::stream_server(std::shared_ptr<detail::stream_listener> listener)
    : listener_(std::move(listener)) {}

stream_server::~stream_server() {
  stop();
}

result<std::unique_ptr<stream_server>> stream_server::start(io_runner& io,
                                                            const stream_options& options,
                                                            accept_fn accept, std::string& why) {
  if (!accept) {
    why = "no accept function";
    return std::make_error_code(std::errc::invalid_argument);
  }
  auto listener = detail::start_listener(io, options, std::move(accept), why);
  if (!listener) {
    return listener.error();
  }
  return std::unique_ptr<stream_server>{new stream_server{std::move(*listener)}};
}

std::string stream_server::bound_address() const {
  return listener_->bound_address();
}

void stream_server::stop() {
  listener_->stop();
}

std::size_t stream_server::connection_count() const {
  return listener_->connection_count();
}

} // namespace outpost::transport
