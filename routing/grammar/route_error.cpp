#include "routing/grammar/route_error.hpp"

namespace outpost::routing {

std::string route_error::to_string() const {
  std::string out;
  if (!route.empty()) {
    out += "route '";
    out += route;
    out += "': ";
  }
  if (column != 0) {
    out += "column ";
    out += std::to_string(column);
    out += ": ";
  }
  out += message;
  if (!hint.empty()) {
    out += "; hint: ";
    out += hint;
  }
  return out;
}

std::size_t column_of(std::string_view text, std::size_t offset) noexcept {
  if (offset > text.size()) {
    offset = text.size();
  }
  std::size_t column = 1;
  for (std::size_t i = 0; i < offset; ++i) {
    // Count lead bytes only, so a multi-byte character is one column.
    if ((static_cast<unsigned char>(text[i]) & 0xC0u) != 0x80u) {
      ++column;
    }
  }
  return column;
}

} // namespace outpost::routing
