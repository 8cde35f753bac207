#include "tests/support/tls_http.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <csignal>
#include <cstdlib>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

namespace outpost::test {

std::string tls_exchange(unsigned short port, const std::string& ca,
                         const std::vector<std::string>& requests, const std::string& host,
                         std::chrono::milliseconds pause) {
  // A server that answers and closes before reading all of a request makes SSL_write fail
  // with EPIPE: an error to see, not a signal that ends the test.
  static const bool sigpipe_ignored = std::signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)sigpipe_ignored;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval t{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return {};
  }
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, host.c_str());
  SSL_set1_host(ssl, host.c_str());
  std::string out;
  if (SSL_connect(ssl) == 1) {
    for (const auto& r : requests) {
      if (&r != &requests.front()) {
        std::this_thread::sleep_for(pause);
      }
      SSL_write(ssl, r.data(), static_cast<int>(r.size()));
    }
    char buffer[4096];
    for (int n; (n = SSL_read(ssl, buffer, sizeof buffer)) > 0;) {
      out.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
  return out;
}

tls_http_response tls_request(unsigned short port, const std::string& ca, const std::string& method,
                              const std::string& target, const std::vector<std::string>& headers,
                              const std::string& body) {
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\n";
  for (const auto& h : headers) {
    request += h + "\r\n";
  }
  request += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
  request += body;
  const auto raw = tls_exchange(port, ca, {request});
  tls_http_response r;
  if (raw.rfind("HTTP/1.1 ", 0) == 0 && raw.size() >= 12) {
    r.status = std::atoi(raw.substr(9, 3).c_str());
  }
  const auto end = raw.find("\r\n\r\n");
  if (end != std::string::npos) {
    r.body = raw.substr(end + 4);
  }
  return r;
}

} // namespace outpost::test
