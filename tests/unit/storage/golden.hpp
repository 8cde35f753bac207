#pragma once

// Golden-bytes helpers for the record codecs of storage/ (ARCHITECTURE.md §6: codecs are
// tested by golden bytes and every prefix).

#include <cctype>
#include <string>
#include <string_view>

namespace outpost::storage::golden {

/// Lowercase hex of `bytes`.
inline std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

/// The bytes of `text`: hex digits, spaces ignored (so a layout reads field by field).
inline std::string bytes(std::string_view text) {
  std::string digits;
  for (char c : text) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    }
  }
  std::string out;
  for (std::size_t i = 0; i + 1 < digits.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

} // namespace outpost::storage::golden
