#include "protocols/transport/http_client.hpp"

#include "protocols/common/decimal.hpp"
#include "protocols/transport/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace outpost::transport {

namespace {

using clock = std::chrono::steady_clock;

// Bounds on what a misbehaving server can make us buffer.
constexpr std::size_t header_limit = 64 * 1024;
constexpr std::size_t body_limit = 64 * 1024 * 1024;
constexpr std::size_t chunk_line_limit = 1024;

std::error_code last_error() {
  return {errno, std::system_category()};
}

std::error_code make_error(std::errc e) {
  return std::make_error_code(e);
}

/// Closes the descriptor on every path out of `http_call`.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

/// Where to connect, and what to send as Host.
struct peer {
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string host;
};

template <class Address>
void store(peer& p, const Address& address) {
  static_assert(sizeof(Address) <= sizeof(sockaddr_storage));
  std::memcpy(&p.address, &address, sizeof address);
  p.length = sizeof address;
}

result<peer> parse_address(const std::string& address) {
  const auto invalid = make_error(std::errc::invalid_argument);
  peer p;
  constexpr std::string_view unix_prefix = "unix:";
  if (address.compare(0, unix_prefix.size(), unix_prefix) == 0) {
    const auto path = address.substr(unix_prefix.size());
    sockaddr_un sa{};
    if (path.empty() || path.find('\0') != std::string::npos) {
      return invalid;
    }
    if (path.size() >= sizeof sa.sun_path) {
      return make_error(std::errc::filename_too_long);
    }
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.data(), path.size());
    store(p, sa);
    p.host = "localhost"; // what curl --unix-socket sends; a unix socket has no host name
    return p;
  }

  // The last ':' separates the port, so "[::1]:80" splits correctly.
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return invalid;
  }
  std::string host = address.substr(0, colon);
  const std::string_view port_text = std::string_view{address}.substr(colon + 1);
  const auto port = parse_decimal<std::uint16_t>(port_text);
  if (!port || port_text.size() > 5) {
    return invalid;
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(*port);
    if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &sa.sin6_addr) != 1) {
      return invalid;
    }
    store(p, sa);
  } else {
    if (host == "localhost") {
      host = "127.0.0.1"; // as the server does: no resolver, IPv4 loopback
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(*port);
    if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
      return invalid;
    }
    store(p, sa);
  }
  p.host = address;
  return p;
}

/// RFC 9110 token characters: what a method may consist of.
bool is_token(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
  });
}

/// No space or control character: nothing that could end the request line early.
bool is_target(const std::string& text) {
  return !text.empty() && std::none_of(text.begin(), text.end(), [](unsigned char c) {
    return c <= 0x20 || c == 0x7f;
  });
}

/// No control character but tab: nothing that could start another header.
bool is_header_value(const std::string& text) {
  return std::none_of(text.begin(), text.end(),
                      [](unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; });
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x))
                  == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

/// How long a call may wait, and the caller's way to end it sooner.
struct limit {
  clock::time_point deadline;
  int cancel_fd = -1; ///< readable = the caller gave up; -1 = none
};

/// Waits until `fd` is ready for `events` (POLLERR/POLLHUP count as ready: the next call on
/// the socket reports them), the deadline passes or the caller cancels.
result<void> wait_for(int fd, short events, const limit& until) {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(until.deadline - clock::now());
    if (left.count() <= 0) {
      return make_error(std::errc::timed_out);
    }
    pollfd request[2] = {{fd, events, 0}, {until.cancel_fd, POLLIN, 0}};
    const int ready = ::poll(request, until.cancel_fd >= 0 ? 2 : 1,
                             static_cast<int>(std::min<long long>(left.count(), INT_MAX)));
    if (ready > 0 && request[1].revents != 0) {
      return make_error(std::errc::operation_canceled);
    }
    if (ready > 0) {
      return ok();
    }
    if (ready < 0 && errno != EINTR) {
      return last_error();
    }
  }
}

result<void> connect_to(int fd, const peer& p, const limit& until) {
  for (;;) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&p.address), p.length) == 0) {
      return ok();
    }
    if (errno == EAGAIN) {
      // A unix socket whose listener's backlog is full: busy, not gone, so try again shortly.
      const auto left = until.deadline - clock::now();
      if (left <= clock::duration::zero()) {
        return make_error(std::errc::timed_out);
      }
      std::this_thread::sleep_for(std::min<clock::duration>(left, std::chrono::milliseconds(10)));
      continue;
    }
    if (errno != EINPROGRESS && errno != EINTR) {
      return last_error();
    }
    break; // TCP: the handshake goes on in the background
  }
  if (auto writable = wait_for(fd, POLLOUT, until); !writable) {
    return writable.error();
  }
  int failure = 0;
  socklen_t size = sizeof failure;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &size) != 0) {
    return last_error();
  }
  if (failure != 0) {
    return std::error_code{failure, std::system_category()};
  }
  return ok();
}

/// After a TLS call returned `r` <= 0: waits for what OpenSSL needs (true), or the error.
result<bool> tls_wait(int fd, SSL* ssl, int r, const limit& until) {
  const int err = SSL_get_error(ssl, r);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    if (auto ready = wait_for(fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, until); !ready) {
      return ready.error();
    }
    return true;
  }
  if (err == SSL_ERROR_ZERO_RETURN) {
    return false;
  }
  ERR_clear_error();
  return make_error(std::errc::connection_reset);
}

result<void> send_all(int fd, SSL* ssl, std::string_view data, const limit& until) {
  while (ssl != nullptr && !data.empty()) {
    const int n =
        SSL_write(ssl, data.data(), static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX)));
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    auto again = tls_wait(fd, ssl, n, until);
    if (!again) {
      return again.error();
    }
    if (!*again) {
      return make_error(std::errc::connection_reset);
    }
  }
  while (!data.empty()) {
    const auto sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent >= 0) {
      data.remove_prefix(static_cast<std::size_t>(sent));
      continue;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return last_error();
    }
    if (auto writable = wait_for(fd, POLLOUT, until); !writable) {
      return writable.error();
    }
  }
  return ok();
}

/// The response side of the socket: a buffer of what has been received and not yet consumed.
class response_reader {
public:
  response_reader(int fd, SSL* ssl, limit until) : fd_(fd), ssl_(ssl), until_(until) {}

  std::string& buffer() { return buffer_; }

  /// Position of `delimiter` in the buffer, receiving until it arrives. An end of stream before
  /// it is `bad_message` (`connection_reset` when nothing came at all), more than `limit` bytes
  /// without it `message_size`.
  result<std::size_t> find(std::string_view delimiter, std::size_t limit) {
    for (;;) {
      const auto at = buffer_.find(delimiter);
      if (at != std::string::npos) {
        return at;
      }
      if (buffer_.size() > limit) {
        return make_error(std::errc::message_size);
      }
      auto more = receive();
      if (!more) {
        return more.error();
      }
      if (!*more) {
        return make_error(received_any_ ? std::errc::bad_message : std::errc::connection_reset);
      }
    }
  }

  /// Receives until the buffer holds `size` bytes; an end of stream before is `bad_message`.
  result<void> require(std::size_t size) {
    while (buffer_.size() < size) {
      auto more = receive();
      if (!more) {
        return more.error();
      }
      if (!*more) {
        return make_error(std::errc::bad_message);
      }
    }
    return ok();
  }

  /// Receives until the peer closes the connection.
  result<void> to_end() {
    for (;;) {
      auto more = receive();
      if (!more) {
        return more.error();
      }
      if (!*more) {
        return ok();
      }
    }
  }

private:
  /// Appends what arrives next; false at the end of the stream.
  result<bool> receive() {
    if (buffer_.size() > header_limit + body_limit) {
      return make_error(std::errc::message_size);
    }
    char chunk[16384];
    while (ssl_ != nullptr) {
      const int n = SSL_read(ssl_, chunk, sizeof chunk);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        received_any_ = true;
        return true;
      }
      auto again = tls_wait(fd_, ssl_, n, until_);
      if (!again) {
        return again.error();
      }
      if (!*again) {
        return false; // close_notify: the end of the response
      }
    }
    for (;;) {
      const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        buffer_.append(chunk, static_cast<std::size_t>(n));
        received_any_ = true;
        return true;
      }
      if (n == 0) {
        return false;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return last_error();
      }
      if (auto readable = wait_for(fd_, POLLIN, until_); !readable) {
        return readable.error();
      }
    }
  }

  const int fd_;
  SSL* const ssl_;
  const limit until_;
  std::string buffer_;
  bool received_any_ = false;
};

struct response_head {
  unsigned status = 0;
  std::string content_type;
  std::optional<std::size_t> content_length;
  bool chunked = false;
};

/// The status line and headers, `block` without the blank line that ends them.
result<response_head> parse_head(std::string_view block) {
  const auto bad = make_error(std::errc::bad_message);
  auto line_end = block.find("\r\n");
  const auto status_line = block.substr(0, line_end);
  // "HTTP/1.x 200 OK": the reason phrase is optional.
  if (status_line.size() < 12 || status_line.compare(0, 7, "HTTP/1.") != 0
      || std::isdigit(static_cast<unsigned char>(status_line[7])) == 0 || status_line[8] != ' '
      || (status_line.size() > 12 && status_line[12] != ' ')) {
    return bad;
  }
  response_head head;
  const auto* const code = status_line.data() + 9;
  const auto [code_end, code_err] = std::from_chars(code, code + 3, head.status);
  if (code_err != std::errc{} || code_end != code + 3 || head.status < 100) {
    return bad;
  }
  while (line_end != std::string_view::npos) {
    const auto start = line_end + 2;
    line_end = block.find("\r\n", start);
    const auto line = block.substr(
        start, line_end == std::string_view::npos ? std::string_view::npos : line_end - start);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      return bad;
    }
    const auto name = line.substr(0, colon);
    const auto value = trim(line.substr(colon + 1));
    if (iequals(name, "content-type")) {
      head.content_type = std::string{value};
    } else if (iequals(name, "content-length")) {
      const auto length = parse_decimal<std::uint64_t>(value);
      if (!length) {
        return bad;
      }
      if (*length > body_limit) {
        return make_error(std::errc::message_size);
      }
      head.content_length = static_cast<std::size_t>(*length);
    } else if (iequals(name, "transfer-encoding")) {
      // The last coding decides how the body ends; "chunked" is the only one we decode.
      head.chunked = value.size() >= 7 && iequals(value.substr(value.size() - 7), "chunked");
    }
  }
  return head;
}

result<std::string> read_chunked(response_reader& reader) {
  auto& buffer = reader.buffer();
  std::string body;
  for (;;) {
    auto line_end = reader.find("\r\n", chunk_line_limit);
    if (!line_end) {
      return line_end.error();
    }
    const auto line = std::string_view{buffer}.substr(0, *line_end);
    const auto size_text = trim(line.substr(0, line.find(';'))); // chunk extensions ignored
    std::size_t size = 0;
    const auto [end, err] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (size_text.empty() || err != std::errc{} || end != size_text.data() + size_text.size()) {
      return make_error(std::errc::bad_message);
    }
    buffer.erase(0, *line_end + 2);
    if (size == 0) {
      return body; // trailers are not read: the connection is closed anyway
    }
    if (size > body_limit - body.size()) {
      return make_error(std::errc::message_size);
    }
    if (auto complete = reader.require(size + 2); !complete) {
      return complete.error();
    }
    if (buffer.compare(size, 2, "\r\n") != 0) {
      return make_error(std::errc::bad_message);
    }
    body.append(buffer, 0, size);
    buffer.erase(0, size + 2);
  }
}

result<http_reply> read_reply(response_reader& reader, bool head_request) {
  auto& buffer = reader.buffer();
  for (;;) {
    auto head_end = reader.find("\r\n\r\n", header_limit);
    if (!head_end) {
      return head_end.error();
    }
    auto head = parse_head(std::string_view{buffer}.substr(0, *head_end));
    buffer.erase(0, *head_end + 4);
    if (!head) {
      return head.error();
    }
    if (head->status < 200) {
      continue; // interim (100 Continue, 103 Early Hints): the real response follows
    }
    http_reply reply{head->status, std::move(head->content_type), {}};
    if (head_request || reply.status == 204 || reply.status == 304) {
      return reply; // no body, whatever the headers say
    }
    if (head->chunked) {
      auto body = read_chunked(reader);
      if (!body) {
        return body.error();
      }
      reply.body = std::move(*body);
    } else if (head->content_length) {
      if (auto complete = reader.require(*head->content_length); !complete) {
        return complete.error();
      }
      buffer.resize(*head->content_length);
      reply.body = std::move(buffer);
    } else {
      if (auto read = reader.to_end(); !read) {
        return read.error();
      }
      reply.body = std::move(buffer);
    }
    return reply;
  }
}

} // namespace

namespace {

struct ssl_guard {
  SSL* ssl = nullptr;
  ~ssl_guard() {
    if (ssl) {
      SSL_free(ssl);
    }
  }
};

result<http_reply> call(const std::string& address, const https_options* tls,
                        const std::string& method, const std::string& target,
                        const std::string& body, const std::string& content_type,
                        std::chrono::milliseconds timeout, int cancel_fd) {
  const limit until{clock::now() + timeout, cancel_fd};
  if (!is_token(method) || !is_target(target) || !is_header_value(content_type)) {
    return make_error(std::errc::invalid_argument);
  }
  if (tls) {
    for (const auto& [name, value] : tls->headers) {
      if (!is_token(name) || !is_header_value(value)) {
        return make_error(std::errc::invalid_argument);
      }
    }
    if (!tls->tls) {
      return make_error(std::errc::invalid_argument);
    }
  }
  auto p = parse_address(address);
  if (!p) {
    return p.error();
  }
  // Non-blocking: every wait goes through poll() with what is left of `timeout`.
  fd_guard sock{::socket(p->address.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (sock.fd < 0) {
    return last_error();
  }
  if (auto connected = connect_to(sock.fd, *p, until); !connected) {
    return connected.error();
  }
  ssl_guard ssl;
  if (tls) {
    ssl.ssl =
        tls->tls->new_connection(sock.fd, tls->server_name.empty() ? p->host : tls->server_name);
    if (!ssl.ssl) {
      return make_error(std::errc::not_enough_memory);
    }
    for (;;) {
      const int r = SSL_connect(ssl.ssl);
      if (r == 1) {
        break;
      }
      auto again = tls_wait(sock.fd, ssl.ssl, r, until);
      if (!again || !*again) {
        // A certificate the trust bundle or the name refuses ends here too.
        return make_error(std::errc::protocol_error);
      }
    }
  }

  std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + p->host
                        + "\r\nUser-Agent: outpost\r\nConnection: close\r\n";
  if (!body.empty() && !content_type.empty()) {
    request += "Content-Type: " + content_type + "\r\n";
  }
  // Servers may answer a body-less POST without Content-Length with 411 Length Required.
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  if (tls) {
    for (const auto& [name, value] : tls->headers) {
      request += name + ": " + value + "\r\n";
    }
  }
  request += "\r\n";
  request += body;
  if (auto sent = send_all(sock.fd, ssl.ssl, request, until); !sent) {
    return sent.error();
  }

  response_reader reader{sock.fd, ssl.ssl, until};
  return read_reply(reader, method == "HEAD");
}

} // namespace

result<http_reply> http_call(const std::string& address, const std::string& method,
                             const std::string& target, const std::string& body,
                             const std::string& content_type, std::chrono::milliseconds timeout,
                             int cancel_fd) {
  return call(address, nullptr, method, target, body, content_type, timeout, cancel_fd);
}

result<http_reply> https_call(const std::string& address, const https_options& tls,
                              const std::string& method, const std::string& target,
                              const std::string& body, const std::string& content_type,
                              std::chrono::milliseconds timeout, int cancel_fd) {
  return call(address, &tls, method, target, body, content_type, timeout, cancel_fd);
}

result<http_reply> http_get(const std::string& address, const std::string& target,
                            std::chrono::milliseconds timeout) {
  return http_call(address, "GET", target, {}, {}, timeout);
}

cancel_source::cancel_source() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

cancel_source::~cancel_source() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

void cancel_source::cancel() noexcept {
  // The eventfd stays readable once written (nobody reads it).
  const std::uint64_t one = 1;
  if (fd_ >= 0) {
    [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
  }
}

} // namespace outpost::transport
