#pragma once

#include <string_view>
#include <vector>

/// Small ASCII string helpers shared by the iothub sources. Private to protocols/iothub.
namespace outpost::iothub::detail {

inline bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

inline bool ends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

inline char ascii_lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// Ordinal comparison ignoring ASCII case (.NET `OrdinalIgnoreCase` on ASCII text).
inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) {
      return false;
    }
  }
  return true;
}

inline bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/// `s` without leading and trailing ASCII white space (.NET `Trim()` on ASCII text).
inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

/// True when `s` is empty or only white space (.NET `IsNullOrWhiteSpace`).
inline bool is_blank(std::string_view s) noexcept {
  return trim(s).empty();
}

/// Splits `s` at every `sep`, keeping empty parts (.NET `Split(char)`); views into `s`.
inline std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (std::size_t pos = s.find(sep); pos != std::string_view::npos; pos = s.find(sep)) {
    parts.push_back(s.substr(0, pos));
    s.remove_prefix(pos + 1);
  }
  parts.push_back(s);
  return parts;
}

} // namespace outpost::iothub::detail
