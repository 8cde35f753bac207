#pragma once

#include "protocols/common/result.hpp"

#include <chrono>
#include <string>

namespace outpost::transport {

struct http_reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

/// A blocking HTTP/1.1 GET over plain TCP for tools and tests (the CLI's `outpost health`,
/// integration tests). `address` is "host:port" with an IPv4 host or "localhost". Sends
/// `Connection: close` and reads to the end of the response. Any thread may call it.
result<http_reply> http_get(const std::string& address, const std::string& target,
                            std::chrono::milliseconds timeout = std::chrono::seconds(5));

} // namespace outpost::transport
