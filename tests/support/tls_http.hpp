#pragma once

// A blocking HTTPS client on OpenSSL directly (no code shared with outpostd's server), for the
// tests of the hub's HTTPS listener.

#include <chrono>
#include <string>
#include <vector>

namespace outpost::test {

/// Connects to 127.0.0.1:`port`, does TLS verifying the server's certificate against the CA
/// file `ca` for the name `host`, sends `requests` one after another and returns everything
/// received until the server closed (or 5 s of silence). "" when the connection or the
/// handshake failed.
/// `pause` is waited between writes (a peer that lets the server answer before it goes on).
std::string tls_exchange(unsigned short port, const std::string& ca,
                         const std::vector<std::string>& requests,
                         const std::string& host = "localhost",
                         std::chrono::milliseconds pause = std::chrono::milliseconds{0});

/// One HTTP response as `tls_exchange` returned it: the status (0 when there is none) and the
/// body after the header block.
struct tls_http_response {
  int status = 0;
  std::string body;
};

/// One request with `Connection: close`: `method target`, `headers` (whole lines without CRLF)
/// and `body` (with its Content-Length).
tls_http_response tls_request(unsigned short port, const std::string& ca, const std::string& method,
                              const std::string& target,
                              const std::vector<std::string>& headers = {},
                              const std::string& body = {});

} // namespace outpost::test
