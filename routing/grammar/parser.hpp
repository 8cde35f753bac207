#pragma once

#include "routing/grammar/ast.hpp"
#include "routing/grammar/route_error.hpp"

#include <cstddef>
#include <string_view>
#include <variant>

namespace outpost::routing {

/// Longest route text accepted (bytes); longer texts are `errc::too_complex`.
inline constexpr std::size_t max_route_length = 64 * 1024;
/// Deepest expression tree accepted; keeps compilation and evaluation recursion bounded.
inline constexpr std::size_t max_expression_depth = 200;

/// Parses a whole route, `[SELECT *] FROM /source [WHERE condition] INTO sink`, with IoT
/// Edge's grammar (iotedge-facts §5.1). Also checks the sink (`$upstream` or
/// `BrokeredEndpoint("/modules/<m>/inputs/<i>")`). Errors carry the column and leave
/// `route_error::route` empty for the caller to fill. Pure; never throws on any input.
std::variant<route_ast, route_error> parse_route(std::string_view text);

/// Parses a condition alone (what follows WHERE), up to the end of `text`.
std::variant<condition_ast, route_error> parse_condition(std::string_view text);

} // namespace outpost::routing
