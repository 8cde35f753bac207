#include "protocols/iothub/encoding.hpp"

#include <cstdint>
#include <vector>

namespace outpost::iothub {
namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";
constexpr char base64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool is_unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
         || c == '.' || c == '_' || c == '~';
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/// The byte escaped at `in[i]` ("%XX"), or -1 when `in[i]` does not start an escape.
int escaped_byte(std::string_view in, std::size_t i) noexcept {
  if (in[i] != '%' || in.size() - i < 3) {
    return -1;
  }
  const int hi = hex_value(in[i + 1]);
  const int lo = hex_value(in[i + 2]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/// Length of the well-formed UTF-8 sequence starting at `b[0]` (RFC 3629 §4), 0 if none.
std::size_t utf8_sequence_length(const std::uint8_t* b, std::size_t n) noexcept {
  if (b[0] < 0x80) {
    return 1;
  }
  std::size_t len = 0;
  std::uint8_t lo = 0x80;
  std::uint8_t hi = 0xBF;
  if (b[0] >= 0xC2 && b[0] <= 0xDF) {
    len = 2;
  } else if (b[0] >= 0xE0 && b[0] <= 0xEF) {
    len = 3;
    lo = b[0] == 0xE0 ? 0xA0 : 0x80; // no overlong forms
    hi = b[0] == 0xED ? 0x9F : 0xBF; // no surrogates
  } else if (b[0] >= 0xF0 && b[0] <= 0xF4) {
    len = 4;
    lo = b[0] == 0xF0 ? 0x90 : 0x80;
    hi = b[0] == 0xF4 ? 0x8F : 0xBF; // at most U+10FFFF
  }
  if (len == 0 || n < len || b[1] < lo || b[1] > hi) {
    return 0;
  }
  for (std::size_t k = 2; k < len; ++k) {
    if (b[k] < 0x80 || b[k] > 0xBF) {
      return 0;
    }
  }
  return len;
}

/// Decodes the run of escapes starting at `in[i]`; returns the index after it.
std::size_t decode_escape_run(std::string_view in, std::size_t i, std::string& out) {
  std::vector<std::uint8_t> bytes;
  std::size_t end = i;
  while (end < in.size()) {
    const int b = escaped_byte(in, end);
    if (b < 0) {
      break;
    }
    bytes.push_back(static_cast<std::uint8_t>(b));
    end += 3;
  }
  for (std::size_t k = 0; k < bytes.size();) {
    const std::size_t len = utf8_sequence_length(bytes.data() + k, bytes.size() - k);
    if (len == 0) {
      out.append(in.substr(i + 3 * k, 3)); // not UTF-8: keep the escape as written
      ++k;
      continue;
    }
    out.append(reinterpret_cast<const char*>(bytes.data() + k), len);
    k += len;
  }
  return end;
}

int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  return c == '/' ? 63 : -1;
}

} // namespace

std::string percent_encode(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 4);
  for (const char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c)) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(hex_digits[c >> 4]);
      out.push_back(hex_digits[c & 0x0F]);
    }
  }
  return out;
}

std::string percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size();) {
    if (escaped_byte(in, i) < 0) {
      out.push_back(in[i++]);
    } else {
      i = decode_escape_run(in, i, out);
    }
  }
  return out;
}

std::string query_parameter(std::string_view target, std::string_view name) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) {
    return {};
  }
  auto rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto kv = rest.substr(0, amp);
    const auto eq = kv.find('=');
    if (kv.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string{} : percent_decode(kv.substr(eq + 1));
    }
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
  }
  return {};
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16
                            | static_cast<std::uint8_t>(bytes[i + 1]) << 8
                            | static_cast<std::uint8_t>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) {
      out.push_back(base64_alphabet[(v >> shift) & 0x3F]);
    }
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t v = static_cast<std::uint8_t>(bytes[i]) << 16;
    if (rest == 2) {
      v |= static_cast<std::uint8_t>(bytes[i + 1]) << 8;
    }
    out.push_back(base64_alphabet[(v >> 18) & 0x3F]);
    out.push_back(base64_alphabet[(v >> 12) & 0x3F]);
    out.push_back(rest == 2 ? base64_alphabet[(v >> 6) & 0x3F] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    const int v = base64_value(text[i]);
    if (v < 0) {
      return std::nullopt;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

} // namespace outpost::iothub
