#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace outpost::routing {

/// The runtime type of a condition value (IoT Edge's string, double, Bool, Null, Undefined and
/// QueryValue collapse to these five; a NaN number is undefined, as it is in IoT Edge).
enum class value_type : std::uint8_t { undefined, null, boolean, number, string };

/// A condition value. Strings are views: into the message, the compiled condition or the
/// evaluation's scratch pool, so a value lives no longer than the evaluation that made it.
struct value {
  value_type type = value_type::undefined;
  bool boolean = false;
  double number = 0;
  std::string_view string;

  static value undefined() noexcept { return {}; }
  static value null() noexcept { return {value_type::null, false, 0, {}}; }
  static value of(bool b) noexcept { return {value_type::boolean, b, 0, {}}; }
  static value of(double d) noexcept {
    return std::isnan(d) ? value{} : value{value_type::number, false, d, {}};
  }
  static value of(std::string_view s) noexcept { return {value_type::string, false, 0, s}; }

  bool is_true() const noexcept { return type == value_type::boolean && boolean; }
  bool is_defined() const noexcept { return type != value_type::undefined; }
};

/// How a value prints in `outpost route test`: undefined, null, true, 21.5, 'text'.
std::string to_display(const value& v);

/// The compile-time type of an expression. `dynamic` is a `$body` value (IoT Edge's
/// QueryValue): its runtime type is only known per message.
enum class static_type : std::uint8_t { undefined, null, boolean, number, string, dynamic };

/// "undefined", "null", "bool", "number", "string", "$body value".
std::string_view static_type_name(static_type t) noexcept;

/// The type with its article, as type errors say what they expected: "a number", "a string",
/// "a bool", "a $body value"; "undefined" and "null" as they are.
std::string_view static_type_article(static_type t) noexcept;

} // namespace outpost::routing
