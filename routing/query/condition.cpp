#include "routing/query/condition.hpp"

#include "routing/query/builtins.hpp"
#include "routing/query/system_properties.hpp"
#include "routing/query/text.hpp"

#include <array>
#include <cmath>
#include <utility>

namespace outpost::routing {

namespace {

enum class opcode : std::uint8_t {
  constant,
  app_property, ///< a bare name
  sys_property, ///< {$name}: system property only
  app_or_sys,   ///< $name: app property "$name", else system property
  app_or_body,  ///< $body.path: app property "$body.path", else the body
  body,         ///< {$body.path} or $body.a[0]: the body only
  twin_includes,
  negate,
  logical_not,
  arithmetic,
  concat,
  compare,
  logical_and,
  logical_or,
  coalesce,
  call,
};

using st = static_type;

bool is_comparison(binary_op op) noexcept {
  return op == binary_op::lt || op == binary_op::le || op == binary_op::gt || op == binary_op::ge
         || op == binary_op::eq || op == binary_op::ne;
}

bool query_value_supported(st t) noexcept {
  return t == st::null || t == st::number || t == st::string || t == st::boolean;
}

/// CheckOperands with expected = left type, as IoT Edge does for comparisons and '??'.
bool same_type_ok(st l, st r) noexcept {
  return l == r || (l == st::dynamic && query_value_supported(r))
         || (r == st::dynamic && query_value_supported(l));
}

value arithmetic(binary_op op, double l, double r) noexcept {
  switch (op) {
    case binary_op::mul:
      return value::of(l * r);
    case binary_op::div:
      return value::of(l / r);
    case binary_op::mod:
      return value::of(std::fmod(l, r));
    case binary_op::add:
      return value::of(l + r);
    default:
      return value::of(l - r);
  }
}

/// ComparisonOperators.Compare and QueryValue.CompareTo: undefined against anything is
/// undefined; different runtime types are unequal (and unordered: undefined).
value compare(binary_op op, const value& l, const value& r) noexcept {
  if (!l.is_defined() || !r.is_defined()) {
    return {};
  }
  if (l.type != r.type) {
    if (op == binary_op::eq) {
      return value::of(false);
    }
    if (op == binary_op::ne) {
      return value::of(true);
    }
    return {};
  }
  int c = 0;
  switch (l.type) {
    case value_type::boolean:
      c = static_cast<int>(l.boolean) - static_cast<int>(r.boolean);
      break;
    case value_type::number:
      c = l.number < r.number ? -1 : (l.number > r.number ? 1 : 0);
      break;
    case value_type::string:
      c = l.string.compare(r.string);
      break;
    default: // null = null
      break;
  }
  switch (op) {
    case binary_op::lt:
      return value::of(c < 0);
    case binary_op::le:
      return value::of(c <= 0);
    case binary_op::gt:
      return value::of(c > 0);
    case binary_op::ge:
      return value::of(c >= 0);
    case binary_op::eq:
      return value::of(c == 0);
    default:
      return value::of(c != 0);
  }
}

/// Kleene logic over true/false/undefined (IoT Edge's Bool & and |).
value kleene_and(const value& l, const value& r) noexcept {
  const bool lf = l.type == value_type::boolean && !l.boolean;
  const bool rf = r.type == value_type::boolean && !r.boolean;
  if (lf || rf) {
    return value::of(false);
  }
  if (l.type != value_type::boolean || r.type != value_type::boolean) {
    return {};
  }
  return value::of(true);
}

value kleene_or(const value& l, const value& r) noexcept {
  if (l.is_true() || r.is_true()) {
    return value::of(true);
  }
  if (l.type != value_type::boolean || r.type != value_type::boolean) {
    return {};
  }
  return value::of(false);
}

/// A value of static type bool (or undefined) as IoT Edge's Bool: non-bool is undefined.
value as_bool3(const value& v) noexcept {
  return v.type == value_type::boolean ? v : value{};
}

} // namespace

struct condition::node {
  opcode code = opcode::constant;
  st type = st::undefined;
  binary_op op = binary_op::mul;
  builtin fn = builtin::abs;
  call_mode mode = call_mode::runtime;
  bool has_sys = false;
  bool string_constant = false;
  system_property sys = system_property::message_id;
  std::uint32_t a = 0; ///< first child; call: first index into args_
  std::uint32_t b = 0; ///< second child; call: argument count; body ops: index into paths_
  std::uint32_t str = 0;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  value constant;
};

struct condition::tracer {
  std::vector<value> values;
  std::vector<value_origin> origins;
};

/// Type checker and code generator: one pass over the AST, children first, with IoT Edge's
/// type rules (Args.Match, CheckOperands, CheckBooleanOperands) and actionable errors.
class condition_compiler {
public:
  condition_compiler(std::string_view text, const condition_ast& ast, compile_options options,
                     condition& out)
      : text_(text),
        ast_(ast),
        options_(options),
        out_(out) {}

  bool compile(std::uint32_t ai, std::uint32_t& result, const expr* parent);
  route_error take_error() { return std::move(error_); }

private:
  std::string_view src(std::uint32_t begin, std::uint32_t end) const {
    return text_.substr(begin, end - begin);
  }
  std::string_view src(const expr& e) const { return src(e.begin, e.end); }

  std::uint32_t add(condition::node n, const expr& e) {
    n.begin = e.begin;
    n.end = e.end;
    out_.nodes_.push_back(n);
    return static_cast<std::uint32_t>(out_.nodes_.size() - 1);
  }
  std::uint32_t add_string(std::string s) {
    out_.strings_.push_back(std::move(s));
    return static_cast<std::uint32_t>(out_.strings_.size() - 1);
  }
  st type_of(std::uint32_t ni) const { return out_.nodes_[ni].type; }

  bool fail(std::uint32_t offset, std::string message, errc code, std::string hint = {}) {
    error_ = route_error{{}, column_of(text_, offset), std::move(message), code, std::move(hint)};
    return false;
  }

  std::string describe(const expr& e, st t) const;
  std::string hint_for(const expr& e, st t, st expected) const;
  bool type_error(const expr& blamed, st t, st expected, std::string where);
  bool compile_literal(const expr& e, std::uint32_t& result);
  bool compile_sys_property(const expr& e, bool escaped, std::uint32_t& result);
  bool compile_body_path(const expr& e, std::string_view path_text, std::uint32_t& path);
  bool compile_call(const expr& e, std::uint32_t& result);
  bool compile_twin_includes(const expr& e, std::uint32_t& result);
  bool compile_unary(const expr& e, const expr* parent, std::uint32_t& result);
  bool compile_binary(std::uint32_t ai, std::uint32_t& result);

  std::string_view text_;
  const condition_ast& ast_;
  compile_options options_;
  condition& out_;
  route_error error_;
};

std::string condition_compiler::describe(const expr& e, st t) const {
  std::string_view s = src(e);
  std::string shown(s.substr(0, 60));
  if (s.size() > 60) {
    shown += "...";
  }
  switch (e.kind) {
    case expr_kind::literal:
      switch (e.literal) {
        case literal_kind::string:
          return "string " + shown;
        case literal_kind::number:
          return "number " + shown;
        case literal_kind::boolean:
          return "bool " + shown;
        case literal_kind::null:
          return "null";
        case literal_kind::undefined:
          return "undefined";
      }
      break;
    case expr_kind::property:
      return "string property '" + e.text + "'";
    case expr_kind::sys_property:
    case expr_kind::escaped_sys_property:
      if (t == st::string) {
        return "string property '" + shown + "'";
      }
      return std::string(static_type_name(t)) + " '" + shown + "'";
    case expr_kind::call:
      return std::string(static_type_name(t)) + " result of " + e.text + "()";
    default:
      break;
  }
  return std::string(static_type_name(t)) + " expression '" + shown + "'";
}

std::string condition_compiler::hint_for(const expr& e, st t, st expected) const {
  if (e.kind == expr_kind::property) {
    if (e.text.find_first_of("+-*%|!&") != std::string::npos) {
      return "'" + e.text + "' is read as one property name: put spaces around operators";
    }
    if (expected == st::number) {
      return "application properties are strings: use as_number(" + e.text + ")";
    }
  }
  if (t == st::string && expected == st::number
      && (e.kind == expr_kind::sys_property || e.kind == expr_kind::escaped_sys_property)) {
    return "properties are strings: use as_number(" + std::string(src(e)) + ")";
  }
  if (e.kind == expr_kind::literal
      && (e.literal == literal_kind::null || e.literal == literal_kind::undefined)) {
    return "use is_defined(...) to test whether a property is set";
  }
  return {};
}

bool condition_compiler::type_error(const expr& blamed, st t, st expected, std::string where) {
  return fail(blamed.begin,
              "expected " + std::string(static_type_article(expected)) + " " + where + ", found "
                  + describe(blamed, t),
              errc::type_error, hint_for(blamed, t, expected));
}

bool condition_compiler::compile(std::uint32_t ai, std::uint32_t& result, const expr* parent) {
  const expr& e = ast_.at(ai);
  switch (e.kind) {
    case expr_kind::literal:
      return compile_literal(e, result);
    case expr_kind::property: {
      condition::node n;
      n.code = opcode::app_property;
      n.type = st::string;
      n.str = add_string(e.text);
      result = add(n, e);
      return true;
    }
    case expr_kind::sys_property:
      return compile_sys_property(e, false, result);
    case expr_kind::escaped_sys_property:
      return compile_sys_property(e, true, result);
    case expr_kind::call:
      return compile_call(e, result);
    case expr_kind::negate:
    case expr_kind::logical_not:
      return compile_unary(e, parent, result);
    case expr_kind::binary:
      return compile_binary(ai, result);
  }
  return fail(e.begin, "unsupported expression", errc::syntax_error);
}

bool condition_compiler::compile_literal(const expr& e, std::uint32_t& result) {
  condition::node n;
  n.code = opcode::constant;
  switch (e.literal) {
    case literal_kind::boolean:
      n.type = st::boolean;
      n.constant = value::of(e.boolean);
      break;
    case literal_kind::null:
      n.type = st::null;
      n.constant = value::null();
      break;
    case literal_kind::undefined:
      n.type = st::undefined;
      break;
    case literal_kind::number:
      n.type = st::number;
      n.constant = value::of(e.number);
      break;
    case literal_kind::string:
      n.type = st::string;
      n.string_constant = true;
      n.str = add_string(e.text);
      break;
  }
  result = add(n, e);
  return true;
}

bool condition_compiler::compile_body_path(const expr& e, std::string_view path_text,
                                           std::uint32_t& path) {
  json_path p;
  if (auto problem = parse_json_path(path_text, p)) {
    return fail(e.op_begin,
                "invalid $body query '" + std::string(src(e.op_begin, e.op_end)) + "': " + *problem,
                errc::invalid_body_query);
  }
  out_.paths_.push_back(std::move(p));
  path = static_cast<std::uint32_t>(out_.paths_.size() - 1);
  return true;
}

// ConditionVisitor.VisitSysProperty / VisitSysPropertyEscaped.
bool condition_compiler::compile_sys_property(const expr& e, bool escaped, std::uint32_t& result) {
  const std::string_view name = e.text; // with the '$'
  const bool brackets = name.find_first_of("[]") != std::string_view::npos;
  condition::node n;
  if (text::istarts_with(name, "$body.")) {
    if (!compile_body_path(e, name.substr(6), n.b)) {
      return false;
    }
    n.type = st::dynamic;
    // Names with [ ] cannot be application properties: the body only.
    n.code = escaped || brackets ? opcode::body : opcode::app_or_body;
    n.str = add_string(std::string(name));
  } else if (brackets) {
    n.code = opcode::constant; // not a body query and not a property name: undefined
    n.type = st::undefined;
  } else {
    n.code = escaped ? opcode::sys_property : opcode::app_or_sys;
    n.type = st::string;
    n.str = add_string(std::string(name));
    if (const auto p = find_system_property(name.substr(1))) {
      n.has_sys = true;
      n.sys = *p;
    }
  }
  result = add(n, e);
  return true;
}

bool condition_compiler::compile_twin_includes(const expr& e, std::uint32_t& result) {
  if (!options_.twin_change_source) {
    return fail(e.op_begin,
                "twin_change_includes() is only valid in routes FROM "
                "/twinChangeNotifications",
                errc::unknown_function);
  }
  if (e.arg_count != 1) {
    return fail(e.op_begin,
                "twin_change_includes() takes 1 argument (a twin path such as "
                "properties.reported.temperature), found "
                    + std::to_string(e.arg_count),
                errc::type_error);
  }
  // IoT Edge passes the argument's text through unevaluated: an unquoted path. A quoted path
  // is accepted too.
  const expr& arg = ast_.at(ast_.args[e.first_arg]);
  const bool usable = arg.kind == expr_kind::property
                      || (arg.kind == expr_kind::literal && arg.literal == literal_kind::string);
  const std::string path = usable ? arg.text : std::string(src(arg));
  const bool prefix_ok = text::istarts_with(path, "properties.reported.")
                         || text::istarts_with(path, "properties.desired.")
                         || text::istarts_with(path, "tags.");
  json_path p;
  const auto problem = parse_json_path(path, p);
  if (!usable || !prefix_ok || problem) {
    return fail(arg.begin,
                "twin_change_includes() expects a path starting with properties.reported., "
                "properties.desired. or tags., found '"
                    + path + "'" + (problem && prefix_ok ? ": " + *problem : std::string()),
                errc::invalid_argument);
  }
  out_.paths_.push_back(std::move(p));
  condition::node n;
  n.code = opcode::twin_includes;
  n.type = st::boolean;
  n.b = static_cast<std::uint32_t>(out_.paths_.size() - 1);
  result = add(n, e);
  return true;
}

bool condition_compiler::compile_call(const expr& e, std::uint32_t& result) {
  const auto fn = find_builtin(e.text);
  if (!fn) {
    return fail(e.op_begin, "unknown function '" + e.text + "'", errc::unknown_function,
                "the functions are " + builtin_names());
  }
  if (*fn == builtin::twin_change_includes) {
    return compile_twin_includes(e, result);
  }
  std::vector<std::uint32_t> args;
  std::vector<st> types;
  for (std::uint32_t k = 0; k < e.arg_count; ++k) {
    std::uint32_t child = 0;
    if (!compile(ast_.args[e.first_arg + k], child, &e)) {
      return false;
    }
    args.push_back(child);
    types.push_back(type_of(child));
  }
  const auto typed = type_call(*fn, types);
  if (const auto* err = std::get_if<call_type_error>(&typed)) {
    const std::string name(builtin_name(*fn));
    if (!err->arity_message.empty()) {
      return fail(e.op_begin, name + "() " + err->arity_message, errc::type_error);
    }
    const expr& arg = ast_.at(ast_.args[e.first_arg + err->argument]);
    const st t = types[err->argument];
    return fail(arg.begin,
                "expected " + err->expected + " as argument " + std::to_string(err->argument + 1)
                    + " of " + name + "(), found " + describe(arg, t),
                errc::type_error, hint_for(arg, t, st::number));
  }
  const auto& typing = std::get<call_typing>(typed);
  condition::node n;
  n.code = opcode::call;
  n.fn = *fn;
  n.mode = typing.mode;
  n.type = typing.result;
  n.a = static_cast<std::uint32_t>(out_.args_.size());
  n.b = static_cast<std::uint32_t>(args.size());
  out_.args_.insert(out_.args_.end(), args.begin(), args.end());
  result = add(n, e);
  return true;
}

bool condition_compiler::compile_unary(const expr& e, const expr* parent, std::uint32_t& result) {
  std::uint32_t child = 0;
  if (!compile(e.lhs, child, &e)) {
    return false;
  }
  const expr& operand = ast_.at(e.lhs);
  const st t = type_of(child);
  condition::node n;
  n.a = child;
  if (e.kind == expr_kind::negate) {
    if (t != st::number && t != st::dynamic) {
      return type_error(operand, t, st::number, "after '-'");
    }
    n.code = opcode::negate;
    n.type = t;
  } else {
    if (t != st::boolean && t != st::null && t != st::dynamic) {
      std::string hint = hint_for(operand, t, st::boolean);
      if (parent != nullptr && parent->kind == expr_kind::binary && is_comparison(parent->op)
          && &ast_.at(parent->lhs) == &e) {
        hint = "NOT binds tighter than comparisons: write NOT ("
               + std::string(src(operand.begin, parent->end)) + ")";
      }
      return fail(operand.begin,
                  "expected a bool after '" + std::string(src(e.op_begin, e.op_end)) + "', found "
                      + describe(operand, t),
                  errc::type_error, hint);
    }
    n.code = opcode::logical_not;
    n.type = t == st::dynamic ? st::dynamic : st::boolean;
  }
  result = add(n, e);
  return true;
}

bool condition_compiler::compile_binary(std::uint32_t ai, std::uint32_t& result) {
  const expr& e = ast_.at(ai);
  std::uint32_t l = 0;
  std::uint32_t r = 0;
  if (!compile(e.lhs, l, &e) || !compile(e.rhs, r, &e)) {
    return false;
  }
  const expr& le = ast_.at(e.lhs);
  const expr& re = ast_.at(e.rhs);
  const st lt = type_of(l);
  const st rt = type_of(r);
  const std::string op(src(e.op_begin, e.op_end));
  const std::string left = "on the left of '" + op + "'";
  const std::string right = "on the right of '" + op + "'";
  condition::node n;
  n.a = l;
  n.b = r;
  n.op = e.op;
  switch (e.op) {
    case binary_op::mul:
    case binary_op::div:
    case binary_op::mod:
    case binary_op::add:
    case binary_op::sub:
      if (lt != st::number && lt != st::dynamic) {
        return type_error(le, lt, st::number, left);
      }
      if (rt != st::number && rt != st::dynamic) {
        return type_error(re, rt, st::number, right);
      }
      n.code = opcode::arithmetic;
      n.type = lt == st::number && rt == st::number ? st::number : st::dynamic;
      break;
    case binary_op::concat:
      if (lt != st::string && lt != st::dynamic) {
        return type_error(le, lt, st::string, left);
      }
      if (rt != st::string && rt != st::dynamic) {
        return type_error(re, rt, st::string, right);
      }
      n.code = opcode::concat;
      n.type = st::string;
      break;
    case binary_op::logical_and:
    case binary_op::logical_or: {
      const auto ok = [](st t) {
        return t == st::boolean || t == st::null || t == st::undefined || t == st::dynamic;
      };
      if (!ok(lt)) {
        return type_error(le, lt, st::boolean, left);
      }
      if (!ok(rt)) {
        return type_error(re, rt, st::boolean, right);
      }
      n.code = e.op == binary_op::logical_and ? opcode::logical_and : opcode::logical_or;
      const bool null_result = e.op == binary_op::logical_and ? (lt == st::null || rt == st::null)
                                                              : (lt == st::null && rt == st::null);
      n.type = null_result ? st::null : st::boolean;
      break;
    }
    default: { // comparisons, equality, ??
      if (!same_type_ok(lt, rt)) {
        // Blame the side that is most likely wrong: a string property compared with a number
        // or a bool; otherwise the right side, as IoT Edge takes the left type as expected.
        const bool lprop = lt == st::string
                           && (le.kind == expr_kind::property || le.kind == expr_kind::sys_property
                               || le.kind == expr_kind::escaped_sys_property);
        const bool rprop = rt == st::string
                           && (re.kind == expr_kind::property || re.kind == expr_kind::sys_property
                               || re.kind == expr_kind::escaped_sys_property);
        if (e.op != binary_op::coalesce && lprop && !rprop
            && (rt == st::number || rt == st::boolean)) {
          return type_error(le, lt, rt, left);
        }
        if (lt == st::dynamic || lt == st::undefined) {
          return type_error(re, rt, lt == st::dynamic ? st::string : lt, right);
        }
        return type_error(re, rt, lt, right);
      }
      if (e.op == binary_op::coalesce) {
        n.code = opcode::coalesce;
        n.type =
            lt == st::undefined ? rt : (lt == st::dynamic || rt == st::dynamic ? st::dynamic : lt);
      } else {
        n.code = opcode::compare;
        n.type = st::boolean;
      }
      break;
    }
  }
  result = add(n, e);
  return true;
}

condition::condition() = default;
condition::condition(condition&&) noexcept = default;
condition& condition::operator=(condition&&) noexcept = default;
condition::~condition() = default;

std::variant<condition, route_error> condition::compile(std::string_view text,
                                                        const condition_ast& ast,
                                                        compile_options options) {
  condition c;
  if (ast.nodes.empty()) {
    return route_error{{}, 0, "empty condition", errc::syntax_error, {}};
  }
  c.nodes_.reserve(ast.nodes.size());
  condition_compiler compiler(text, ast, options, c);
  std::uint32_t root = 0;
  if (!compiler.compile(ast.root, root, nullptr)) {
    return compiler.take_error();
  }
  c.root_ = root;
  return c;
}

condition condition::always_true() {
  condition c;
  node n;
  n.code = opcode::constant;
  n.type = st::boolean;
  n.constant = value::of(true);
  c.nodes_.push_back(n);
  return c;
}

static_type condition::result_type() const noexcept {
  return nodes_[root_].type;
}

std::size_t condition::size() const noexcept {
  return nodes_.size();
}

bool condition::uses_body() const noexcept {
  for (const auto& n : nodes_) {
    if (n.code == opcode::app_or_body || n.code == opcode::body
        || n.code == opcode::twin_includes) {
      return true;
    }
  }
  return false;
}

value condition::evaluate(eval_context& ctx) const {
  return eval(root_, ctx, nullptr);
}

value condition::eval(std::uint32_t i, eval_context& ctx, tracer* t) const {
  const node& n = nodes_[i];
  value v;
  value_origin origin = value_origin::computed;
  const auto from_body = [&](const json_path& path) {
    const body_lookup found = ctx.body(path);
    switch (found.status) {
      case body_status::unavailable:
        origin = value_origin::body_not_json;
        break;
      case body_status::missing:
        origin = value_origin::body_missing;
        break;
      case body_status::container:
        origin = value_origin::body_container;
        break;
      case body_status::scalar:
        origin = value_origin::body;
        v = found.found;
        break;
    }
  };
  switch (n.code) {
    case opcode::constant:
      v = n.string_constant ? value::of(std::string_view(strings_[n.str])) : n.constant;
      origin = value_origin::literal;
      break;
    case opcode::app_property:
    case opcode::app_or_sys:
    case opcode::app_or_body:
      if (const auto p = ctx.app_property(strings_[n.str])) {
        v = value::of(*p);
        origin = value_origin::app_property;
        break;
      }
      if (n.code == opcode::app_or_body) {
        from_body(paths_[n.b]);
        break;
      }
      origin = value_origin::not_set;
      if (n.code == opcode::app_or_sys && n.has_sys) {
        if (const auto p = ctx.sys_property(n.sys)) {
          v = value::of(*p);
          origin = value_origin::system_property;
        }
      }
      break;
    case opcode::sys_property:
      origin = value_origin::not_set;
      if (n.has_sys) {
        if (const auto p = ctx.sys_property(n.sys)) {
          v = value::of(*p);
          origin = value_origin::system_property;
        }
      }
      break;
    case opcode::body:
      from_body(paths_[n.b]);
      break;
    case opcode::twin_includes: {
      // TwinChangeIncludes.Runtime: a null or missing member is "not included".
      const body_lookup found = ctx.body(paths_[n.b]);
      if (found.status != body_status::unavailable) {
        v = value::of(
            found.status == body_status::container
            || (found.status == body_status::scalar && found.found.type != value_type::null));
      }
      break;
    }
    case opcode::negate: {
      const value x = eval(n.a, ctx, t);
      v = x.type == value_type::number ? value::of(-x.number) : value{};
      break;
    }
    case opcode::logical_not: {
      const value x = eval(n.a, ctx, t);
      if (nodes_[n.a].type == st::null) {
        v = value::of(true); // Null's operator !: NOT null is true
      } else {
        v = x.type == value_type::boolean ? value::of(!x.boolean) : value{};
      }
      break;
    }
    case opcode::arithmetic: {
      const value l = eval(n.a, ctx, t);
      const value r = eval(n.b, ctx, t);
      if (l.type == value_type::number && r.type == value_type::number) {
        v = arithmetic(n.op, l.number, r.number);
      }
      break;
    }
    case opcode::concat: {
      const value l = eval(n.a, ctx, t);
      const value r = eval(n.b, ctx, t);
      if (l.type == value_type::string && r.type == value_type::string) {
        std::string& s = ctx.scratch_string();
        s.reserve(l.string.size() + r.string.size());
        s.append(l.string).append(r.string);
        v = value::of(ctx.commit_scratch_string());
      }
      break;
    }
    case opcode::compare: {
      const value l = eval(n.a, ctx, t);
      const value r = eval(n.b, ctx, t);
      v = compare(n.op, l, r);
      break;
    }
    case opcode::logical_and:
    case opcode::logical_or:
      v = eval_logical(n, ctx, t);
      break;
    case opcode::coalesce: {
      const value l = eval(n.a, ctx, t);
      if (nodes_[n.a].type != st::undefined && l.is_defined()) {
        v = l;
        if (t != nullptr) {
          eval(n.b, ctx, t);
        }
      } else {
        v = eval(n.b, ctx, t);
      }
      break;
    }
    case opcode::call:
      v = eval_call(n, ctx, t);
      break;
  }
  if (t != nullptr) {
    t->values[i] = v;
    t->origins[i] = origin;
  }
  return v;
}

// Bool, Null and QueryValue operators & and | of IoT Edge. Both sides always evaluate there;
// here a false left side of AND (true of OR) short-circuits when both sides are typed bool,
// which gives the same value. A trace evaluates everything.
value condition::eval_logical(const node& n, eval_context& ctx, tracer* t) const {
  const bool is_and = n.code == opcode::logical_and;
  const st lt = nodes_[n.a].type;
  const st rt = nodes_[n.b].type;
  const value l = eval(n.a, ctx, t);
  if (t == nullptr && lt == st::boolean && rt == st::boolean && l.type == value_type::boolean
      && l.boolean != is_and) {
    return l;
  }
  const value r = eval(n.b, ctx, t);
  if (lt == st::null || rt == st::null) {
    if (is_and || (lt == st::null && rt == st::null)) {
      return value::null();
    }
    // null OR x is x (as a Bool); against a $body value it is undefined.
    const st other = lt == st::null ? rt : lt;
    return other == st::dynamic ? value{} : as_bool3(lt == st::null ? r : l);
  }
  if (lt == st::dynamic || rt == st::dynamic) {
    // QueryValue & | only combine two bools; anything else is undefined.
    if (l.type != value_type::boolean || r.type != value_type::boolean) {
      return {};
    }
  }
  return is_and ? kleene_and(l, r) : kleene_or(l, r);
}

value condition::eval_call(const node& n, eval_context& ctx, tracer* t) const {
  std::array<value, 8> small;
  std::vector<value> large;
  value* args = small.data();
  if (n.b > small.size()) {
    large.resize(n.b);
    args = large.data();
  }
  for (std::uint32_t k = 0; k < n.b; ++k) {
    args[k] = eval(args_[n.a + k], ctx, t);
  }
  switch (n.mode) {
    case call_mode::constant_false:
      return value::of(false);
    case call_mode::constant_true:
      return value::of(true);
    case call_mode::identity:
      return args[0];
    case call_mode::runtime:
      break;
  }
  return call_builtin(n.fn, args, n.b, ctx);
}

void condition::list(std::uint32_t i, std::uint32_t depth, const tracer& t,
                     std::vector<trace_entry>& out) const {
  const node& n = nodes_[i];
  out.push_back({depth, n.begin, n.end, t.values[i], t.origins[i]});
  switch (n.code) {
    case opcode::negate:
    case opcode::logical_not:
      list(n.a, depth + 1, t, out);
      break;
    case opcode::arithmetic:
    case opcode::concat:
    case opcode::compare:
    case opcode::logical_and:
    case opcode::logical_or:
    case opcode::coalesce:
      list(n.a, depth + 1, t, out);
      list(n.b, depth + 1, t, out);
      break;
    case opcode::call:
      for (std::uint32_t k = 0; k < n.b; ++k) {
        list(args_[n.a + k], depth + 1, t, out);
      }
      break;
    default:
      break;
  }
}

value condition::trace(eval_context& ctx, std::vector<trace_entry>& out) const {
  tracer t;
  t.values.resize(nodes_.size());
  t.origins.resize(nodes_.size(), value_origin::computed);
  const value v = eval(root_, ctx, &t);
  list(root_, 0, t, out);
  return v;
}

} // namespace outpost::routing
