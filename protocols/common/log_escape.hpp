#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace outpost {

/// A peer-supplied string made safe for one log line: printable ASCII is kept, backslash and
/// double quote are escaped, everything else (control characters such as CR/LF, bytes >= 0x7F)
/// becomes `\xHH`, and the result is cut at `max_bytes` of input with a trailing `...`. A peer
/// therefore cannot forge a log line, hide text with terminal escapes, or make one line huge.
inline std::string log_escape(std::string_view raw, std::size_t max_bytes = 128) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  const bool cut = raw.size() > max_bytes;
  if (cut) {
    raw = raw.substr(0, max_bytes);
  }
  out.reserve(raw.size() + 8);
  for (const char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\' || c == '"') {
      out += '\\';
      out += ch;
    } else if (c >= 0x20 && c < 0x7F) {
      out += ch;
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (cut) {
    out += "...";
  }
  return out;
}

} // namespace outpost
