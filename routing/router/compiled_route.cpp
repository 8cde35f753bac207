#include "routing/router/compiled_route.hpp"

#include "routing/grammar/parser.hpp"

namespace outpost::routing {

std::variant<compiled_route, route_error> compile_route(std::string_view text) {
  auto parsed = parse_route(text);
  if (auto* err = std::get_if<route_error>(&parsed)) {
    return std::move(*err);
  }
  auto& ast = std::get<route_ast>(parsed);
  auto source = source_filter::from_route(ast.source);
  compile_options options;
  options.twin_change_source = source.is_twin_change();
  std::optional<condition> cond;
  if (ast.condition) {
    auto compiled = condition::compile(text, *ast.condition, options);
    if (auto* err = std::get_if<route_error>(&compiled)) {
      return std::move(*err);
    }
    cond.emplace(std::move(std::get<condition>(compiled)));
  } else {
    cond.emplace(condition::always_true());
  }
  return compiled_route{std::move(source), std::move(ast.source), std::move(*cond),
                        std::move(ast.sink)};
}

} // namespace outpost::routing
