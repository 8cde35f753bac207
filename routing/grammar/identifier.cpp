#include "routing/grammar/identifier.hpp"

#include <array>
#include <string_view>

namespace outpost::routing {
namespace {

// Both grammars exclude these (facts §5.1 and JsonPath.g4).
constexpr std::string_view excluded_by_both = "()<>@,;:\\\"/[]?={}\t\n\r";

constexpr std::array<std::uint8_t, 256> make_table() {
  std::array<std::uint8_t, 256> table{};
  const auto route = static_cast<std::uint8_t>(identifier_rule::route);
  const auto json_path = static_cast<std::uint8_t>(identifier_rule::json_path);
  for (auto& entry : table) {
    entry = route | json_path;
  }
  for (const char c : excluded_by_both) {
    table[static_cast<unsigned char>(c)] = 0;
  }
  table[static_cast<unsigned char>(' ')] = json_path; // a separator for routes only
  table[0] = json_path;                               // NUL: see identifier_rule::route
  table[static_cast<unsigned char>('.')] = route;     // the $body path's separator
  return table;
}

constexpr auto table = make_table();

} // namespace

bool is_identifier_char(char c, identifier_rule rule) noexcept {
  return (table[static_cast<unsigned char>(c)] & static_cast<std::uint8_t>(rule)) != 0;
}

} // namespace outpost::routing
