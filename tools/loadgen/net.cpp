#include "tools/loadgen/net.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace outpost::loadgen {

std::string ssl_error_text() {
  char buf[256];
  const auto e = ERR_get_error();
  if (e == 0) {
    return errno != 0 ? std::strerror(errno) : "unknown TLS error";
  }
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

SSL_CTX* make_client_tls_context(const std::string& ca) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == nullptr) {
    throw std::runtime_error("SSL_CTX_new: " + ssl_error_text());
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE
                            | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); // every device does a full handshake
  if (!ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1) {
      const auto why = ssl_error_text();
      SSL_CTX_free(ctx);
      throw std::runtime_error("cannot load --ca " + ca + ": " + why);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  return ctx;
}

SSL* start_client_tls(SSL_CTX* ctx, int fd, const std::string& host, bool verify_host) {
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, host.c_str());
  if (verify_host) {
    SSL_set1_host(ssl, host.c_str());
  }
  return ssl;
}

tls_step tls_step_of(SSL* ssl, int rc) {
  switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
      return tls_step::want_read;
    case SSL_ERROR_WANT_WRITE:
      return tls_step::want_write;
    case SSL_ERROR_ZERO_RETURN:
      return tls_step::closed;
    default:
      return tls_step::failed;
  }
}

tls_step tls_handshake(SSL* ssl) {
  const int rc = SSL_connect(ssl);
  return rc == 1 ? tls_step::done : tls_step_of(ssl, rc);
}

tls_step tls_write(SSL* ssl, std::string& out) {
  std::size_t pos = 0;
  while (pos < out.size()) {
    const auto len = std::min<std::size_t>(out.size() - pos, INT_MAX);
    const int n = SSL_write(ssl, out.data() + pos, static_cast<int>(len));
    if (n <= 0) {
      out.erase(0, pos);
      return tls_step_of(ssl, n);
    }
    pos += static_cast<std::size_t>(n);
  }
  out.clear();
  return tls_step::done;
}

tls_step tls_read_all(SSL* ssl, const std::function<bool(std::string_view)>& on_bytes) {
  char buf[16 * 1024];
  for (;;) {
    const int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) {
      return tls_step_of(ssl, n);
    }
    if (!on_bytes({buf, static_cast<std::size_t>(n)})) {
      return tls_step::done;
    }
  }
}

int start_connect(const std::string& host, std::uint16_t port, bool nodelay, std::string& why) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const auto service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    why = std::string{"resolve "} + host + ": " + gai_strerror(rc);
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    why = std::string{"socket: "} + std::strerror(errno);
    freeaddrinfo(res);
    return -1;
  }
  if (nodelay) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS) {
    why = std::string{"connect: "} + std::strerror(errno);
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

int connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    return errno;
  }
  return err;
}

mqtt::connect make_connect(const std::string& id, const credentials& c, std::uint16_t keepalive) {
  mqtt::connect p;
  p.clean_session = true;
  p.keepalive = keepalive;
  p.client_id = id;
  p.username = c.username;
  if (c.username) {
    p.password = c.password;
  }
  return p;
}

poller::poller() : fd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (fd_ < 0) {
    throw std::runtime_error(std::string{"epoll_create1: "} + std::strerror(errno));
  }
}

poller::~poller() {
  close(fd_);
}

void poller::add(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  if (epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    throw std::runtime_error(std::string{"epoll_ctl add: "} + std::strerror(errno));
  }
}

void poller::modify(int fd, std::uint32_t events, std::uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  epoll_ctl(fd_, EPOLL_CTL_MOD, fd, &ev);
}

void poller::remove(int fd) {
  epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr);
}

int poller::wait(int timeout_ms) {
  int n =
      epoll_wait(fd_, events_, static_cast<int>(sizeof events_ / sizeof events_[0]), timeout_ms);
  return n < 0 ? 0 : n;
}

} // namespace outpost::loadgen
