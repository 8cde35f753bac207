#pragma once

#include "routing/grammar/route_error.hpp"
#include "routing/model/message.hpp"

#include <string>
#include <string_view>
#include <variant>

namespace outpost::routing {

/// Explains one route against one message, for `outpost route test`: the message source and
/// whether FROM matches it, every sub-expression of the condition with its value and where the
/// value came from (application property, system property, $body, or why it is undefined),
/// and the outcome with the endpoint. Returns the route's compile error if it has one.
std::variant<std::string, route_error> explain(std::string_view route_text, const message& m);

} // namespace outpost::routing
