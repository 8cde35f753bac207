#include "tests/support/mqtt_test_client.hpp"

#include "protocols/mqtt/decoder.hpp"
#include "protocols/mqtt/encoder.hpp"
#include "protocols/mqtt/frame_splitter.hpp"

#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace outpost::test {

mqtt_test_client::mqtt_test_client(const std::string& address) {
  const auto colon = address.rfind(':');
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
  ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    throw std::runtime_error("cannot connect to " + address);
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

mqtt_test_client::~mqtt_test_client() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void mqtt_test_client::send_raw(const std::string& bytes) {
  // The server may already have closed; a failed send shows up as EOF on the next read.
  (void)::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
}

void mqtt_test_client::send(const mqtt::packet& p) {
  std::string out;
  mqtt::encode(p, out);
  send_raw(out);
}

bool mqtt_test_client::fill(std::chrono::milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
    return false;
  }
  char buf[65536];
  const auto n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    eof_ = true;
    return false;
  }
  buffer_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<mqtt::packet> mqtt_test_client::receive(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto split = mqtt::split_frame(buffer_, 1 << 20);
    if (split && split->frame_size > 0) {
      auto p = mqtt::decode(std::string_view{buffer_}.substr(0, split->frame_size));
      buffer_.erase(0, split->frame_size);
      if (!p) {
        throw std::runtime_error("server sent a malformed packet");
      }
      return std::move(*p);
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (eof_ || left.count() <= 0 || !fill(left)) {
      return std::nullopt;
    }
  }
}

bool mqtt_test_client::closed_by_server(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!eof_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    fill(left);
  }
  return true;
}

} // namespace outpost::test
