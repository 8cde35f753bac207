#pragma once

#include "routing/grammar/ast.hpp"
#include "routing/grammar/route_error.hpp"
#include "routing/query/condition.hpp"
#include "routing/router/message_source.hpp"

#include <optional>
#include <string_view>
#include <variant>

namespace outpost::routing {

/// One route compiled from its text: source filter, condition, sink.
struct compiled_route {
  source_filter source;
  std::string source_text; ///< the FROM path as written
  condition cond;
  endpoint sink;
};

/// Parses and type-checks one route text. Errors leave `route_error::route` empty.
std::variant<compiled_route, route_error> compile_route(std::string_view text);

} // namespace outpost::routing
