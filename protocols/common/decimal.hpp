#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace outpost {

/// `text` as an unsigned decimal number of type `T`: ASCII digits only (no sign, no spaces, no
/// base prefix), all of `text`, and within `T`. nullopt for anything else, the empty text
/// included. Leading zeros are accepted; callers that need a canonical form check text[0].
template <class T>
std::optional<T> parse_decimal(std::string_view text) noexcept {
  static_assert(std::is_integral_v<T>, "parse_decimal parses integers");
  if (text.empty() || text.front() < '0' || text.front() > '9') {
    return std::nullopt; // from_chars would take a '-' for a signed T
  }
  T value{};
  const char* const last = text.data() + text.size();
  const auto [end, err] = std::from_chars(text.data(), last, value);
  if (err != std::errc{} || end != last) {
    return std::nullopt;
  }
  return value;
}

} // namespace outpost
