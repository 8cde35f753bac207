#include "routing/query/json_path.hpp"

#include "routing/grammar/identifier.hpp"

namespace outpost::routing {

namespace {

bool is_segment_char(char c) noexcept {
  return is_identifier_char(c, identifier_rule::json_path);
}

bool all_digits(std::string_view s) noexcept {
  for (const char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

} // namespace

std::optional<std::string> parse_json_path(std::string_view text, json_path& out) {
  out.text = std::string(text);
  out.segments.clear();
  if (text.empty()) {
    return std::string("the $body path is empty");
  }
  std::size_t i = 0;
  for (;;) {
    const std::size_t start = i;
    while (i < text.size() && is_segment_char(text[i])) {
      ++i;
    }
    const std::string_view key = text.substr(start, i - start);
    if (key.empty()) {
      return "expected a member name at position " + std::to_string(start + 1) + " of '"
             + std::string(text) + "'";
    }
    if (all_digits(key)) {
      // JsonPath.g4 lexes an all-digit name as INT, which the parser rejects.
      return "member name '" + std::string(key) + "' is a number; use [" + std::string(key)
             + "] after the array's name for an index";
    }
    json_path_segment seg{std::string(key), -1};
    if (i < text.size() && text[i] == '[') {
      const std::size_t digits = ++i;
      std::int64_t index = 0;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        // Saturate: an index beyond any real array just finds nothing.
        index = index > 100000000000LL ? index : index * 10 + (text[i] - '0');
        ++i;
      }
      if (i == digits || i >= text.size() || text[i] != ']') {
        return "expected [<non-negative integer>] after '" + std::string(key) + "' in '"
               + std::string(text) + "'";
      }
      ++i;
      seg.index = index;
    }
    out.segments.push_back(std::move(seg));
    if (i == text.size()) {
      return std::nullopt;
    }
    if (text[i] != '.') {
      return "unexpected '" + std::string(1, text[i]) + "' at position " + std::to_string(i + 1)
             + " of '" + std::string(text) + "' (one [index] per member)";
    }
    ++i;
  }
}

} // namespace outpost::routing
