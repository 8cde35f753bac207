#pragma once

#include "routing/grammar/ast.hpp"
#include "routing/grammar/route_error.hpp"
#include "routing/query/evaluation.hpp"
#include "routing/query/json_path.hpp"
#include "routing/query/value.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace outpost::routing {

/// What the compiler needs to know about the route around a condition.
struct compile_options {
  /// The route reads FROM /twinChangeNotifications: twin_change_includes() is allowed.
  bool twin_change_source = false;
};

/// Where a traced value came from (`outpost route test`).
enum class value_origin : std::uint8_t {
  computed,        ///< an operator or a function
  literal,         ///< written in the route
  app_property,    ///< an application property of the message
  system_property, ///< a system property of the message
  body,            ///< a $body path that found a value
  body_not_json,   ///< a $body path on a body that is not JSON (content type/encoding/syntax)
  body_missing,    ///< a $body path that leads nowhere
  body_container,  ///< a $body path that found an object or an array
  not_set,         ///< a property the message does not have
};

/// One line of a condition trace: a sub-expression, its value and where the value came from.
struct trace_entry {
  std::uint32_t depth = 0; ///< 0 for the whole condition, +1 per level
  std::uint32_t begin = 0; ///< source span in the route text
  std::uint32_t end = 0;
  value result;
  value_origin origin = value_origin::computed;
};

/// A type-checked route condition compiled into a compact tree: a vector of small nodes with
/// pre-resolved property lookups, constants and parsed `$body` paths. Evaluation does not
/// allocate, except for strings made by concat/lower/upper/'||' (pooled in the scratch).
///
/// Semantics are IoT Edge's (Routing.Core ConditionVisitor, iotedge-facts §5.3); see
/// routing/README.md for the few deliberate differences. Immutable after compile; `const`
/// methods may run concurrently on different `eval_context`s.
class condition {
public:
  /// Type-checks `ast`, parsed from `text` (columns in errors refer to `text`).
  static std::variant<condition, route_error> compile(std::string_view text,
                                                      const condition_ast& ast,
                                                      compile_options options = {});
  /// The condition of a route without WHERE: `true`.
  static condition always_true();

  condition(condition&&) noexcept;
  condition& operator=(condition&&) noexcept;
  condition(const condition&) = delete;
  condition& operator=(const condition&) = delete;
  ~condition();

  /// True if the message routes: the condition is the bool `true` (undefined, null, false and
  /// non-bool values do not route).
  bool matches(eval_context& ctx) const { return evaluate(ctx).is_true(); }
  /// The condition's value for the message of `ctx`.
  value evaluate(eval_context& ctx) const;
  /// Evaluates every sub-expression (no short-circuit) and appends them to `out` in source
  /// order, parents before children. Returns the condition's value.
  value trace(eval_context& ctx, std::vector<trace_entry>& out) const;

  /// The compile-time type of the whole condition.
  static_type result_type() const noexcept;
  /// Number of nodes.
  std::size_t size() const noexcept;
  /// True if evaluating may look at the body.
  bool uses_body() const noexcept;

  struct node;

private:
  friend class condition_compiler;
  struct tracer;

  condition();
  value eval(std::uint32_t i, eval_context& ctx, tracer* t) const;
  value eval_logical(const node& n, eval_context& ctx, tracer* t) const;
  value eval_call(const node& n, eval_context& ctx, tracer* t) const;
  void list(std::uint32_t i, std::uint32_t depth, const tracer& t,
            std::vector<trace_entry>& out) const;

  std::vector<node> nodes_;
  std::vector<std::uint32_t> args_;
  std::vector<std::string> strings_;
  std::vector<json_path> paths_;
  std::uint32_t root_ = 0;
};

} // namespace outpost::routing
