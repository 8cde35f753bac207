#include "tools/loadgen/net.hpp"

#include <cerrno>
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
