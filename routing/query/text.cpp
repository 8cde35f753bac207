#include "routing/query/text.hpp"

#include "protocols/common/utf8.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>

namespace outpost::routing::text {

namespace {

char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Decodes one UTF-8 character at `i`, advancing `i`; invalid bytes decode as U+FFFD.
char32_t decode(std::string_view s, std::size_t& i) noexcept {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int extra = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    extra = 1;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    extra = 2;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    extra = 3;
    cp = b0 & 0x07;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + static_cast<std::size_t>(extra) >= s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (int k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  i += static_cast<std::size_t>(extra) + 1;
  return cp;
}

char32_t upper_of(char32_t c) noexcept {
  if (c < 0x80) {
    return c >= 'a' && c <= 'z' ? c - 32 : c;
  }
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) {
    return c - 32;
  }
  if (c == 0xFF) {
    return 0x178;
  }
  if (c == 0xB5) {
    return 0x39C;
  }
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x131) {
      return 'I';
    }
    if (c == 0x17F) {
      return 'S';
    }
    const bool odd_lower = (c <= 0x137 && c != 0x130) || (c >= 0x14A && c <= 0x177);
    const bool even_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_lower && (c & 1) == 1) {
      return c - 1;
    }
    if (even_lower && (c & 1) == 0) {
      return c - 1;
    }
    return c;
  }
  if (c >= 0x3B1 && c <= 0x3C9) {
    return c == 0x3C2 ? 0x3A3 : c - 32;
  }
  if (c == 0x3AC) {
    return 0x386;
  }
  if (c >= 0x3AD && c <= 0x3AF) {
    return c - 37;
  }
  if (c == 0x3CC) {
    return 0x38C;
  }
  if (c == 0x3CD || c == 0x3CE) {
    return c - 63;
  }
  if (c >= 0x430 && c <= 0x44F) {
    return c - 32;
  }
  if (c >= 0x450 && c <= 0x45F) {
    return c - 80;
  }
  return c;
}

char32_t lower_of(char32_t c) noexcept {
  if (c < 0x80) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
  }
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) {
    return c + 32;
  }
  if (c == 0x178) {
    return 0xFF;
  }
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130) {
      return 'i';
    }
    const bool even_upper = (c <= 0x137 && c != 0x131) || (c >= 0x14A && c <= 0x177);
    const bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (even_upper && (c & 1) == 0) {
      return c + 1;
    }
    if (odd_upper && (c & 1) == 1) {
      return c + 1;
    }
    return c;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) {
    return c + 32;
  }
  if (c == 0x386) {
    return 0x3AC;
  }
  if (c >= 0x388 && c <= 0x38A) {
    return c + 37;
  }
  if (c == 0x38C) {
    return 0x3CC;
  }
  if (c == 0x38E || c == 0x38F) {
    return c + 63;
  }
  if (c >= 0x410 && c <= 0x42F) {
    return c + 32;
  }
  if (c >= 0x400 && c <= 0x40F) {
    return c + 80;
  }
  return c;
}

template <class Map>
void map_case(std::string_view s, std::string& out, Map map) {
  out.reserve(out.size() + s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(map(b)));
      ++i;
      continue;
    }
    const std::size_t start = i;
    const char32_t cp = decode(s, i);
    const char32_t mapped = map(cp);
    if (mapped == cp) {
      out.append(s.substr(start, i - start)); // keep the original bytes (even invalid ones)
    } else {
      append_utf8(out, mapped);
    }
  }
}

template <class Map>
bool is_invariant(std::string_view s, Map map) noexcept {
  for (std::size_t i = 0; i < s.size();) {
    const char32_t cp = decode(s, i);
    if (map(cp) != cp) {
      return false;
    }
  }
  return true;
}

bool is_blank(char c) noexcept {
  // .NET NumberStyles.AllowLeadingWhite/AllowTrailingWhite: U+0009-U+000D and U+0020.
  return c == ' ' || (c >= '\t' && c <= '\r');
}

} // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i] && ascii_lower(a[i]) != ascii_lower(b[i])) {
      return false;
    }
  }
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

std::size_t utf16_length(std::string_view s) noexcept {
  std::size_t n = 0;
  for (const char ch : s) {
    const auto b = static_cast<unsigned char>(ch);
    if ((b & 0xC0) != 0x80) {
      n += b >= 0xF0 ? 2 : 1;
    }
  }
  return n;
}

std::size_t utf16_to_byte(std::string_view s, std::size_t index) noexcept {
  std::size_t units = 0;
  std::size_t i = 0;
  while (i < s.size() && units < index) {
    const auto b = static_cast<unsigned char>(s[i]);
    units += b >= 0xF0 ? 2 : 1;
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) {
      ++i;
    }
  }
  return i;
}

std::size_t byte_to_utf16(std::string_view s, std::size_t offset) noexcept {
  return utf16_length(s.substr(0, offset));
}

void to_upper(std::string_view s, std::string& out) {
  map_case(s, out, upper_of);
}

void to_lower(std::string_view s, std::string& out) {
  map_case(s, out, lower_of);
}

bool is_upper_invariant(std::string_view s) noexcept {
  return is_invariant(s, upper_of);
}

bool is_lower_invariant(std::string_view s) noexcept {
  return is_invariant(s, lower_of);
}

std::optional<double> parse_number(std::string_view s) noexcept {
  while (!s.empty() && is_blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_blank(s.back())) {
    s.remove_suffix(1);
  }
  bool negative = false;
  bool signed_already = false;
  if (s.size() >= 2 && s.front() == '(' && s.back() == ')') {
    negative = true;
    signed_already = true;
    s = s.substr(1, s.size() - 2);
  }
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    if (signed_already) {
      return std::nullopt;
    }
    negative = s.front() == '-';
    signed_already = true;
    s.remove_prefix(1);
  } else if (!s.empty() && (s.back() == '+' || s.back() == '-')) {
    negative = s.back() == '-';
    signed_already = true;
    s.remove_suffix(1);
  }
  if (iequals(s, "infinity") || s == "\xE2\x88\x9E") {
    const double inf = std::numeric_limits<double>::infinity();
    return negative ? -inf : inf;
  }
  // Normalise into digits[.digits][e[+-]digits] for from_chars (locale independent).
  char buf[512];
  std::size_t n = 0;
  std::size_t i = 0;
  bool digits = false;
  auto put = [&](char c) {
    if (n < sizeof buf) {
      buf[n++] = c;
    }
  };
  while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || (s[i] == ',' && digits))) {
    if (s[i] != ',') {
      put(s[i]);
      digits = true;
    }
    ++i;
  }
  if (i < s.size() && s[i] == '.') {
    put('.');
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      put(s[i++]);
      digits = true;
    }
  }
  if (!digits) {
    return std::nullopt;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    put('e');
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      put(s[i++]);
    }
    const std::size_t exp_start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      put(s[i++]);
    }
    if (i == exp_start) {
      return std::nullopt;
    }
  }
  if (i != s.size() || n >= sizeof buf) {
    return std::nullopt;
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(buf, buf + n, value);
  if (ec == std::errc::result_out_of_range) {
    // .NET gives infinity on overflow and 0 on underflow.
    const bool tiny = std::string_view(buf, n).find("e-") != std::string_view::npos;
    value = tiny ? 0.0 : std::numeric_limits<double>::infinity();
  } else if (ec != std::errc{} || ptr != buf + n) {
    return std::nullopt;
  }
  return negative ? -value : value;
}

std::string format_number(double d) {
  if (std::isinf(d)) {
    return d > 0 ? "Infinity" : "-Infinity";
  }
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, d);
  if (ec != std::errc{}) {
    return "?";
  }
  return std::string(buf, ptr);
}

void transcode_to_utf8(std::string_view bytes, int bytes_per_unit, std::string& out) {
  out.clear();
  const auto unit = [&](std::size_t i) -> char32_t {
    char32_t v = 0;
    for (int k = bytes_per_unit - 1; k >= 0; --k) {
      v = (v << 8) | static_cast<unsigned char>(bytes[i + static_cast<std::size_t>(k)]);
    }
    return v;
  };
  const auto step = static_cast<std::size_t>(bytes_per_unit);
  const std::size_t count = bytes.size() / step;
  out.reserve(count);
  std::size_t i = 0;
  if (count > 0 && unit(0) == 0xFEFF) {
    i = 1;
  }
  for (; i < count; ++i) {
    char32_t cp = unit(i * step);
    if (bytes_per_unit == 2 && cp >= 0xD800 && cp <= 0xDBFF && i + 1 < count) {
      const char32_t low = unit((i + 1) * step);
      if (low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        ++i;
      }
    }
    append_utf8(out, cp);
  }
  if (bytes.size() % step != 0) {
    append_utf8(out, 0xFFFD);
  }
}

} // namespace outpost::routing::text
