#pragma once

#include "routing/grammar/endpoint.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace outpost::routing {

/// What a condition expression node is (Condition.g4 alternatives).
enum class expr_kind : std::uint8_t {
  literal,              ///< true false null undefined, a number or a string
  property,             ///< a bare name: an application property
  sys_property,         ///< $name: app property "$name", else a $body query, else a system one
  escaped_sys_property, ///< {$name}: a $body query or a system property, never an app property
  call,                 ///< name(arguments...)
  negate,               ///< - operand
  logical_not,          ///< NOT operand
  binary,               ///< lhs op rhs
};

enum class literal_kind : std::uint8_t { boolean, null, undefined, number, string };

/// Binary operators, grouped by IoT Edge's precedence (highest first, all left-associative).
enum class binary_op : std::uint8_t {
  mul,
  div,
  mod, // * / %
  add,
  sub,
  concat, // + - ||
  lt,
  le,
  gt,
  ge, // < <= > >=
  eq,
  ne, // = != <>
  logical_and,
  logical_or,
  coalesce, // ??
};

/// One node of a condition. Children are indices into `condition_ast::nodes`.
struct expr {
  expr_kind kind = expr_kind::literal;
  literal_kind literal = literal_kind::undefined;
  binary_op op = binary_op::mul;
  bool boolean = false;    ///< literal true/false
  std::uint16_t depth = 1; ///< height of the subtree rooted here
  std::uint32_t begin = 0; ///< source span [begin, end) in the route text, in bytes
  std::uint32_t end = 0;
  std::uint32_t op_begin = 0; ///< the operator, the function name or the token itself
  std::uint32_t op_end = 0;
  std::uint32_t lhs = 0; ///< binary: left operand; unary: the operand
  std::uint32_t rhs = 0;
  std::uint32_t first_arg = 0; ///< call: arguments are args[first_arg, first_arg + arg_count)
  std::uint32_t arg_count = 0;
  double number = 0; ///< number literal value
  std::string text;  ///< decoded string literal, property name (with '$'), or function name
};

/// A parsed condition: nodes in creation order (children before parents), root last.
struct condition_ast {
  std::vector<expr> nodes;
  std::vector<std::uint32_t> args;
  std::uint32_t root = 0;

  const expr& at(std::uint32_t i) const { return nodes[i]; }
};

/// A parsed route: `[SELECT *] FROM source [WHERE condition] INTO sink`.
struct route_ast {
  std::string source; ///< the FROM path as written, tokens joined without blanks
  std::uint32_t source_begin = 0;
  std::optional<condition_ast> condition; ///< absent without WHERE (the condition is `true`)
  endpoint sink;
  std::uint32_t sink_begin = 0;
};

} // namespace outpost::routing
