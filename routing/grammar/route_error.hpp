#pragma once

#include "routing/grammar/errc.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace outpost::routing {

/// A route (or `$edgeHub` section) the compiler rejected, with what a user needs to fix it.
///
/// `column` is 1-based and counts characters (UTF-8 code points) from the start of the route
/// text; 0 when the error is not about a position (a JSON shape error, a missing field).
struct route_error {
  std::string route; ///< the route's name; empty for errors outside any route
  std::size_t column = 0;
  std::string message; ///< what was expected and what was found
  errc code = errc::syntax_error;
  std::string hint; ///< how to fix it, when there is an obvious fix; may be empty

  /// "route 'alerts': column 27: expected a number on the right of '>', found string property
  /// 'temperature'; hint: ..." (the parts that do not apply are left out).
  std::string to_string() const;

  std::error_code error_code() const noexcept { return make_error_code(code); }
};

/// The 1-based column (in code points) of byte `offset` of `text`.
std::size_t column_of(std::string_view text, std::size_t offset) noexcept;

} // namespace outpost::routing
