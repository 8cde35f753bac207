#include "protocols/transport/detail/openssl_reason.hpp"

#include <openssl/err.h>

namespace outpost::transport::detail {

std::string openssl_reason() {
  std::string text;
  while (const unsigned long e = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(e, buffer, sizeof buffer);
    if (!text.empty()) {
      text += "; ";
    }
    text += buffer;
  }
  return text.empty() ? std::string{"no details from OpenSSL"} : text;
}

} // namespace outpost::transport::detail
