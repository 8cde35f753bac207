#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::routing {

/// One step of a `$body` path: a member name, optionally followed by one `[index]`.
struct json_path_segment {
  std::string key;
  std::int64_t index = -1; ///< -1: no index
};

/// A `$body` path in IoT Edge's JsonPath subset (Routing.Core query/jsonpath/JsonPath.g4):
/// `ident(.ident)*`, each ident optionally followed by `[int]`. Keys are case-sensitive.
struct json_path {
  std::string text; ///< as written after `$body.`
  std::vector<json_path_segment> segments;
};

/// Parses `text` (what follows `$body.`) into `out`. Returns a description of the problem when
/// `text` is not in the subset (empty, `a..b`, `a[x]`, `a[0][1]`, an all-digit name, ...).
std::optional<std::string> parse_json_path(std::string_view text, json_path& out);

} // namespace outpost::routing
