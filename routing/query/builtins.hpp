#pragma once

#include "routing/query/evaluation.hpp"
#include "routing/query/value.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace outpost::routing {

/// The builtin functions of IoT Edge's route conditions (iotedge-facts §5.3,
/// Routing.Core/query/builtins). Names are case-insensitive.
enum class builtin : std::uint8_t {
  abs,
  exp,
  power,
  square,
  ceiling,
  floor,
  sign,
  sqrt,
  as_number,
  is_bool,
  is_defined,
  is_null,
  is_number,
  is_string,
  concat,
  length,
  lower,
  upper,
  substring,
  index_of,
  starts_with,
  ends_with,
  contains,
  twin_change_includes,
};

std::optional<builtin> find_builtin(std::string_view name) noexcept;
std::string_view builtin_name(builtin b) noexcept;
/// "abs, as_number, ceiling, ..." for error hints.
std::string builtin_names();

/// How a call was resolved at compile time (IoT Edge picks the first matching "executor").
enum class call_mode : std::uint8_t {
  runtime,        ///< evaluate the function on the argument values
  constant_false, ///< e.g. is_number('a'): false whatever the value
  constant_true,  ///< is_null(null)
  identity,       ///< as_number(<number>)
};

struct call_typing {
  static_type result = static_type::undefined;
  call_mode mode = call_mode::runtime;
};

/// Why arguments do not fit: a wrong count (`argument` = npos) or the first argument whose
/// type no overload accepts, with the types that would be accepted there.
struct call_type_error {
  std::size_t argument = static_cast<std::size_t>(-1);
  std::string expected;      ///< "a number", "a string or a number"
  std::string arity_message; ///< "takes 1 argument, found 2"
};

/// Types a call of `b` (not twin_change_includes) with arguments of types `args`.
std::variant<call_typing, call_type_error> type_call(builtin b,
                                                     const std::vector<static_type>& args);

/// Runs `b` in `call_mode::runtime` on `n` argument values.
value call_builtin(builtin b, const value* args, std::size_t n, eval_context& ctx);

} // namespace outpost::routing
