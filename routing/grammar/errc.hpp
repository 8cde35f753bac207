#pragma once

#include <cstdint>
#include <system_error>

namespace outpost::routing {

/// Why a route or an `$edgeHub` routing section was rejected. Carried by `route_error`; the hub
/// reports every one of them as status 400 on `$edgeHub` (iotedge-facts §1.3).
enum class errc : std::uint8_t {
  syntax_error = 1,   ///< the text does not follow the route grammar (facts §5.1)
  type_error,         ///< operand or argument types do not fit the operator or function
  unknown_function,   ///< a call to a function that is not a builtin of facts §5.3
  invalid_argument,   ///< a builtin argument with the right type but an unusable value
  invalid_body_query, ///< a `$body.` path outside the supported JsonPath subset
  invalid_source,     ///< a FROM path that is not `/...`
  invalid_sink,       ///< INTO something other than `$upstream`, `BrokeredEndpoint` or `Endpoint`
  too_complex,        ///< nesting deeper than the evaluator allows, or an oversized route
  invalid_config,     ///< `$edgeHub` desired properties with a bad shape or value
  invalid_json,       ///< `$edgeHub` desired properties that are not JSON
  duplicate_route,    ///< two routes with the same name passed to `route_table::compile`
};

const std::error_category& routing_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), routing_category()};
}

} // namespace outpost::routing

template <>
struct std::is_error_code_enum<outpost::routing::errc> : std::true_type {};
