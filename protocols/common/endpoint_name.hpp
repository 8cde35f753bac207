#pragma once

#include <string_view>

namespace outpost {

/// A route endpoint's name (`Endpoint("bus")`, `[endpoints.bus]`): 1 to 64 of
/// `A-Z a-z 0-9 . _ -`, as IoT Hub's custom endpoint names. One rule for the route grammar and
/// the configuration.
inline bool is_endpoint_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

} // namespace outpost
