#include "protocols/transport/http_client.hpp"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace outpost::transport {

namespace {

std::error_code last_error() {
  return {errno, std::system_category()};
}

/// Closes the descriptor on every path out of `http_get`.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

result<sockaddr_in> parse_address(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  auto host = address.substr(0, colon);
  if (host == "localhost") {
    host = "127.0.0.1";
  }
  const auto port = address.substr(colon + 1);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos
      || std::stoul(port) > 65535 || ::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoul(port)));
  return sa;
}

result<http_reply> parse_reply(const std::string& raw) {
  const auto head_end = raw.find("\r\n\r\n");
  if (raw.compare(0, 9, "HTTP/1.1 ") != 0 || head_end == std::string::npos || raw.size() < 12) {
    return std::make_error_code(std::errc::bad_message);
  }
  http_reply reply;
  reply.status = static_cast<unsigned>(std::atoi(raw.c_str() + 9));
  std::size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    const auto eol = raw.find("\r\n", pos);
    const auto line = raw.substr(pos, eol - pos);
    const auto colon = line.find(':');
    if (colon != std::string::npos && strncasecmp(line.c_str(), "content-type", colon) == 0
        && colon == 12) {
      reply.content_type = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    pos = eol + 2;
  }
  reply.body = raw.substr(head_end + 4);
  return reply;
}

} // namespace

result<http_reply> http_get(const std::string& address, const std::string& target,
                            std::chrono::milliseconds timeout) {
  auto sa = parse_address(address);
  if (!sa) {
    return sa.error();
  }
  fd_guard sock{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (sock.fd < 0) {
    return last_error();
  }
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  ::setsockopt(sock.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(sock.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(sock.fd, reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) != 0) {
    return last_error();
  }
  const auto req = "GET " + target + " HTTP/1.1\r\nHost: " + address
                   + "\r\nConnection: close\r\nUser-Agent: outpost\r\n\r\n";
  if (::send(sock.fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    return last_error();
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    const auto n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return last_error();
    }
    raw.append(buf, static_cast<std::size_t>(n));
  }
  return parse_reply(raw);
}

} // namespace outpost::transport
