#pragma once

// Shared by the fuzz targets whose input is several fields separated by NUL bytes.

#include <array>
#include <cstddef>
#include <string_view>

namespace outpost::fuzz {

/// `in` split at NUL bytes into its first `N` fields; missing fields are empty, and what follows
/// the `N`th field is ignored.
template <std::size_t N>
std::array<std::string_view, N> split_fields(std::string_view in) {
  std::array<std::string_view, N> fields{};
  for (std::size_t i = 0; i < N; ++i) {
    const auto end = in.find('\0');
    fields[i] = in.substr(0, end);
    if (end == std::string_view::npos) {
      break;
    }
    in.remove_prefix(end + 1);
  }
  return fields;
}

} // namespace outpost::fuzz
