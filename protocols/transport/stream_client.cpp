#include "protocols/transport/stream_client.hpp"

#include "protocols/transport/detail/openssl_reason.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace outpost::transport {

namespace {

using clock = std::chrono::steady_clock;

int ms_until(clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

std::error_code sys_error(int e) {
  return {e, std::system_category()};
}

} // namespace

struct stream_client::impl {
  client_options opts;
  std::shared_ptr<client_handler> handler;
  std::mutex mutex;
  std::string queued;   ///< guarded by mutex
  bool closing = false; ///< guarded by mutex
  std::atomic<std::size_t> pending{0};
  int wake = -1;
  int fd = -1;
  SSL* ssl = nullptr;
  std::thread thread;

  ~impl() {
    if (ssl) {
      SSL_free(ssl);
    }
    if (fd >= 0) {
      ::close(fd);
    }
    if (wake >= 0) {
      ::close(wake);
    }
  }

  void poke() {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake, &one, sizeof one);
  }

  bool closing_now() {
    std::lock_guard<std::mutex> lock{mutex};
    return closing;
  }

  void run() {
    std::string why;
    auto ec = connect(why);
    if (!ec) {
      handler->on_connected();
      ec = pump(why);
    }
    handler->on_closed(ec, why);
  }

  std::string where() const { return opts.host + ":" + std::to_string(opts.port); }

  std::error_code connect(std::string& why) {
    const auto deadline = clock::now() + opts.connect_timeout;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const auto service = std::to_string(opts.port);
    if (int rc = ::getaddrinfo(opts.host.c_str(), service.c_str(), &hints, &res); rc != 0) {
      why = "resolving " + opts.host + ": " + gai_strerror(rc);
      return std::make_error_code(std::errc::host_unreachable);
    }
    fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      const int e = errno;
      ::freeaddrinfo(res);
      why = std::string{"socket: "} + std::strerror(e);
      return sys_error(e);
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
    const int connect_errno = errno;
    ::freeaddrinfo(res);
    if (rc != 0 && connect_errno != EINPROGRESS) {
      why = "connecting to " + where() + ": " + std::strerror(connect_errno);
      return sys_error(connect_errno);
    }
    if (rc != 0) {
      if (auto e = wait(POLLOUT, deadline, why)) {
        return e;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        why = "connecting to " + where() + ": " + std::strerror(err);
        return sys_error(err);
      }
    }
    if (!opts.tls) {
      return {};
    }
    if (!opts.tls_context) {
      why = "TLS without a client context";
      return std::make_error_code(std::errc::invalid_argument);
    }
    ssl = opts.tls_context->new_connection(fd,
                                           opts.server_name.empty() ? opts.host : opts.server_name);
    if (!ssl) {
      why = "TLS: out of memory";
      return std::make_error_code(std::errc::not_enough_memory);
    }
    for (;;) {
      ERR_clear_error();
      const int r = SSL_connect(ssl);
      if (r == 1) {
        return {};
      }
      const int err = SSL_get_error(ssl, r);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        if (auto e = wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, why)) {
          return e;
        }
        continue;
      }
      why = "TLS handshake with " + where() + ": " + detail::openssl_reason();
      const long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        why += " (certificate: " + std::string{X509_verify_cert_error_string(verify)} + ")";
      }
      return std::make_error_code(std::errc::protocol_error);
    }
  }

  /// Waits for `events` on the socket until `deadline`, or for `close`.
  std::error_code wait(short events, clock::time_point deadline, std::string& why) {
    for (;;) {
      pollfd fds[2] = {{fd, events, 0}, {wake, POLLIN, 0}};
      const int n = ::poll(fds, 2, ms_until(deadline));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (closing_now()) {
        why = "closed while connecting";
        return std::make_error_code(std::errc::operation_canceled);
      }
      if (n == 0) {
        why = "connecting to " + where() + ": timed out";
        return std::make_error_code(std::errc::timed_out);
      }
      if (fds[0].revents != 0) {
        return {};
      }
      drain_wake();
    }
  }

  void drain_wake() {
    std::uint64_t v = 0;
    [[maybe_unused]] auto n = ::read(wake, &v, sizeof v);
  }

  /// Connected: writes what is queued, reads what comes, until either side closes.
  std::error_code pump(std::string& why) {
    std::string out;
    std::size_t out_pos = 0;
    clock::time_point close_deadline{};
    bool want_write_for_read = false;
    for (;;) {
      bool closing_seen = false;
      {
        std::lock_guard<std::mutex> lock{mutex};
        if (!queued.empty()) {
          if (out_pos == out.size()) {
            out.swap(queued);
            out_pos = 0;
            queued.clear();
          } else {
            out.append(queued);
            queued.clear();
          }
        }
        closing_seen = closing;
      }
      if (closing_seen && close_deadline == clock::time_point{}) {
        close_deadline = clock::now() + std::chrono::seconds(1);
      }
      // Write as much as the socket takes.
      bool blocked = false;
      while (out_pos < out.size()) {
        const auto chunk = std::min<std::size_t>(out.size() - out_pos, 1 << 20);
        ssize_t n = 0;
        if (ssl) {
          ERR_clear_error();
          const int r = SSL_write(ssl, out.data() + out_pos, static_cast<int>(chunk));
          if (r <= 0) {
            const int err = SSL_get_error(ssl, r);
            if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
              blocked = true;
              break;
            }
            why = "TLS write: " + detail::openssl_reason();
            return std::make_error_code(std::errc::connection_reset);
          }
          n = r;
        } else {
          n = ::send(fd, out.data() + out_pos, chunk, MSG_NOSIGNAL);
          if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
              blocked = true;
              break;
            }
            const int e = errno;
            why = std::string{"write: "} + std::strerror(e);
            return sys_error(e);
          }
        }
        out_pos += static_cast<std::size_t>(n);
        pending.fetch_sub(static_cast<std::size_t>(n));
      }
      if (out_pos == out.size()) {
        out.clear();
        out_pos = 0;
      }
      if (closing_seen && (out.empty() || clock::now() >= close_deadline)) {
        if (ssl) {
          SSL_shutdown(ssl);
        }
        return {};
      }
      // Read everything available.
      if (auto e = read_all(why, want_write_for_read)) {
        return e;
      }
      pollfd fds[2] = {
          {fd, static_cast<short>(POLLIN | (blocked || want_write_for_read ? POLLOUT : 0)), 0},
          {wake, POLLIN, 0}};
      const int timeout = closing_seen ? std::max(1, ms_until(close_deadline)) : -1;
      if (::poll(fds, 2, timeout) < 0 && errno != EINTR) {
        const int e = errno;
        why = std::string{"poll: "} + std::strerror(e);
        return sys_error(e);
      }
      if (fds[1].revents != 0) {
        drain_wake();
      }
    }
  }

  std::error_code read_all(std::string& why, bool& want_write) {
    char buf[64 * 1024];
    want_write = false;
    for (;;) {
      if (ssl) {
        ERR_clear_error();
        const int r = SSL_read(ssl, buf, sizeof buf);
        if (r > 0) {
          handler->on_data({buf, static_cast<std::size_t>(r)});
          continue;
        }
        const int err = SSL_get_error(ssl, r);
        if (err == SSL_ERROR_WANT_READ) {
          return {};
        }
        if (err == SSL_ERROR_WANT_WRITE) {
          want_write = true;
          return {};
        }
        if (err == SSL_ERROR_ZERO_RETURN) {
          why = "the peer closed the connection";
          return std::make_error_code(std::errc::connection_aborted);
        }
        why = "TLS read: " + detail::openssl_reason();
        return std::make_error_code(std::errc::connection_reset);
      }
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        handler->on_data({buf, static_cast<std::size_t>(n)});
        continue;
      }
      if (n == 0) {
        why = "the peer closed the connection";
        return std::make_error_code(std::errc::connection_aborted);
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return {};
      }
      const int e = errno;
      why = std::string{"read: "} + std::strerror(e);
      return sys_error(e);
    }
  }
};

std::unique_ptr<stream_client> stream_client::start(client_options options,
                                                    std::shared_ptr<client_handler> handler) {
  auto p = std::make_unique<impl>();
  p->opts = std::move(options);
  p->handler = std::move(handler);
  p->wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  auto* raw = p.get();
  std::unique_ptr<stream_client> client{new stream_client{std::move(p)}};
  raw->thread = std::thread([raw] { raw->run(); });
  return client;
}

stream_client::stream_client(std::unique_ptr<impl> impl) : impl_(std::move(impl)) {}

stream_client::~stream_client() {
  close();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
}

std::size_t stream_client::send(std::string bytes) {
  {
    std::lock_guard<std::mutex> lock{impl_->mutex};
    if (impl_->closing) {
      return 0;
    }
    impl_->pending.fetch_add(bytes.size());
    impl_->queued.append(bytes);
  }
  impl_->poke();
  return impl_->pending.load();
}

void stream_client::close() {
  {
    std::lock_guard<std::mutex> lock{impl_->mutex};
    if (impl_->closing) {
      return;
    }
    impl_->closing = true;
  }
  impl_->poke();
}

} // namespace outpost::transport
