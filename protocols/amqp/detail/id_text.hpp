#pragma once

// Private to protocols/amqp: the text form of a binary message or correlation id, shared by the
// two inbound mappings (`from_amqp` over Proton's message, `message_decoder` over the bytes).

#include <string>
#include <string_view>
#include <utility>

namespace outpost::amqp::detail {

/// Well-formed UTF-8 as far as lead and continuation bytes go (the SDKs' text ids).
inline bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80           ? 1
                          : (c >> 5) == 0x6  ? 2
                          : (c >> 4) == 0xe  ? 3
                          : (c >> 3) == 0x1e ? 4
                                             : 0;
    if (n == 0 || i + n > s.size()) {
      return false;
    }
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) {
        return false;
      }
    }
    i += n;
  }
  return true;
}

inline std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

/// A binary id that is UTF-8 text is that text (`b`); any other is shown in hex (`x`): MQTT's
/// property bag and the SDKs carry text only.
inline std::pair<std::string, char> binary_id_text(std::string_view bytes) {
  if (valid_utf8(bytes)) {
    return {std::string{bytes}, 'b'};
  }
  return {to_hex(bytes), 'x'};
}

} // namespace outpost::amqp::detail
