#include "routing/query/builtins.hpp"

#include "routing/query/text.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <utility>

namespace outpost::routing {

namespace {

constexpr std::array<std::pair<std::string_view, builtin>, 24> names{{
    {"abs", builtin::abs},
    {"exp", builtin::exp},
    {"power", builtin::power},
    {"square", builtin::square},
    {"ceiling", builtin::ceiling},
    {"floor", builtin::floor},
    {"sign", builtin::sign},
    {"sqrt", builtin::sqrt},
    {"as_number", builtin::as_number},
    {"is_bool", builtin::is_bool},
    {"is_defined", builtin::is_defined},
    {"is_null", builtin::is_null},
    {"is_number", builtin::is_number},
    {"is_string", builtin::is_string},
    {"concat", builtin::concat},
    {"length", builtin::length},
    {"lower", builtin::lower},
    {"upper", builtin::upper},
    {"substring", builtin::substring},
    {"index_of", builtin::index_of},
    {"starts_with", builtin::starts_with},
    {"ends_with", builtin::ends_with},
    {"contains", builtin::contains},
    {"twin_change_includes", builtin::twin_change_includes},
}};

using st = static_type;

/// One IoT Edge BuiltinExecutor: parameter types (Args), AnyArgs(n) or VarArgs, and whether
/// a $body value (QueryValue) may stand in for a parameter.
struct signature {
  std::array<st, 3> params{};
  std::uint8_t arity = 0;
  bool any = false;     ///< AnyArgs(arity): any types
  bool varargs = false; ///< VarArgs(string, string, string...): arity or more strings
  bool query_value = true;
  st result = st::undefined;
  call_mode mode = call_mode::runtime;
};

constexpr signature sig(std::array<st, 3> p, std::uint8_t arity, st result, bool query_value = true,
                        call_mode mode = call_mode::runtime) {
  return {p, arity, false, false, query_value, result, mode};
}

constexpr signature any1(call_mode mode) {
  return {{}, 1, true, false, false, st::boolean, mode};
}

std::vector<signature> signatures(builtin b) {
  const std::array<st, 3> n{st::number};
  const std::array<st, 3> s{st::string};
  const std::array<st, 3> ss{st::string, st::string};
  switch (b) {
    case builtin::abs:
    case builtin::exp:
    case builtin::square:
    case builtin::ceiling:
    case builtin::floor:
    case builtin::sign:
    case builtin::sqrt:
      return {sig(n, 1, st::number)};
    case builtin::power:
      return {sig({st::number, st::number}, 2, st::number)};
    case builtin::as_number:
      return {sig(s, 1, st::number), sig(n, 1, st::number, false, call_mode::identity)};
    case builtin::is_bool:
      return {sig({st::boolean}, 1, st::boolean), any1(call_mode::constant_false)};
    case builtin::is_defined:
      return {sig(s, 1, st::boolean, false),
              sig(n, 1, st::boolean, false),
              sig({st::boolean}, 1, st::boolean, false),
              sig({st::undefined}, 1, st::boolean, false, call_mode::constant_false),
              sig({st::null}, 1, st::boolean, false, call_mode::constant_true),
              sig({st::dynamic}, 1, st::boolean, false)};
    case builtin::is_null:
      return {sig(s, 1, st::boolean, false, call_mode::constant_false),
              sig({st::dynamic}, 1, st::boolean, false),
              sig({st::null}, 1, st::boolean, false, call_mode::constant_true),
              any1(call_mode::constant_false)};
    case builtin::is_number:
      return {sig(n, 1, st::boolean), any1(call_mode::constant_false)};
    case builtin::is_string:
      return {sig(s, 1, st::boolean), any1(call_mode::constant_false)};
    case builtin::concat:
      return {{{st::string, st::string}, 2, false, true, true, st::string, call_mode::runtime}};
    case builtin::length:
      return {sig(s, 1, st::number)};
    case builtin::lower:
    case builtin::upper:
      return {sig(s, 1, st::string)};
    case builtin::substring:
      return {sig({st::string, st::number}, 2, st::string),
              sig({st::string, st::number, st::number}, 3, st::string)};
    case builtin::index_of:
      return {sig(ss, 2, st::number)};
    case builtin::starts_with:
    case builtin::ends_with:
    case builtin::contains:
      return {sig(ss, 2, st::boolean)};
    case builtin::twin_change_includes:
      return {};
  }
  return {};
}

bool query_value_supported(st t) noexcept {
  return t == st::null || t == st::number || t == st::string || t == st::boolean;
}

/// Args.Match / IsMatchInternal of IoT Edge.
bool param_matches(st param, st given, bool query_value) noexcept {
  if (param == given) {
    return true;
  }
  return query_value
         && ((given == st::dynamic && query_value_supported(param))
             || (param == st::dynamic && query_value_supported(given)));
}

bool matches(const signature& s, const std::vector<st>& args) noexcept {
  if (s.varargs) {
    return args.size() >= s.arity && std::all_of(args.begin(), args.end(), [&](st g) {
             return g == st::string || (s.query_value && g == st::dynamic);
           });
  }
  if (args.size() != s.arity) {
    return false;
  }
  if (s.any) {
    return true;
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (!param_matches(s.params[i], args[i], s.query_value)) {
      return false;
    }
  }
  return true;
}

std::string arity_text(const std::vector<signature>& sigs, std::size_t given) {
  std::string counts;
  if (sigs.front().varargs) {
    counts = "at least " + std::to_string(sigs.front().arity) + " arguments";
  } else {
    std::vector<std::size_t> arities;
    for (const auto& s : sigs) {
      if (std::find(arities.begin(), arities.end(), s.arity) == arities.end()) {
        arities.push_back(s.arity);
      }
    }
    for (std::size_t i = 0; i < arities.size(); ++i) {
      counts += (i == 0 ? "" : " or ") + std::to_string(arities[i]);
    }
    counts += arities.size() == 1 && arities[0] == 1 ? " argument" : " arguments";
  }
  return "takes " + counts + ", found " + std::to_string(given);
}

bool num(const value& v) noexcept {
  return v.type == value_type::number;
}
bool str(const value& v) noexcept {
  return v.type == value_type::string;
}

value math1(builtin b, double x) noexcept {
  switch (b) {
    case builtin::abs:
      return value::of(std::fabs(x));
    case builtin::exp:
      return value::of(std::exp(x));
    case builtin::square:
      return value::of(std::pow(x, 2.0));
    case builtin::ceiling:
      return value::of(std::ceil(x));
    case builtin::floor:
      return value::of(std::floor(x));
    case builtin::sign:
      return value::of(x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0));
    default:
      return value::of(std::sqrt(x));
  }
}

/// String.Substring with IoT Edge's validity checks (query/builtins/Substring.cs); indices are
/// UTF-16 code units, as in .NET.
value substring(const value* a, std::size_t n) noexcept {
  if (!str(a[0]) || !num(a[1]) || (n == 3 && !num(a[2]))) {
    return {};
  }
  const std::string_view s = a[0].string;
  const auto len = static_cast<double>(text::utf16_length(s));
  const double start = a[1].number;
  if (n == 2) {
    if (!(start >= 0 && start <= len)) {
      return {};
    }
    return value::of(s.substr(text::utf16_to_byte(s, static_cast<std::size_t>(start))));
  }
  const double count = a[2].number;
  if (!(start >= 0 && start < len && count >= 0 && count <= len - start)) {
    return {};
  }
  const auto first = static_cast<std::size_t>(start);
  const std::size_t from = text::utf16_to_byte(s, first);
  const std::size_t to = text::utf16_to_byte(s, first + static_cast<std::size_t>(count));
  return value::of(s.substr(from, to - from));
}

value string_pair(builtin b, const value& x, const value& y) noexcept {
  if (!str(x) || !str(y)) {
    return {};
  }
  const std::string_view s = x.string;
  const std::string_view f = y.string;
  switch (b) {
    case builtin::index_of: {
      const auto pos = s.find(f);
      return value::of(
          pos == std::string_view::npos ? -1.0 : static_cast<double>(text::byte_to_utf16(s, pos)));
    }
    case builtin::starts_with:
      return value::of(s.substr(0, f.size()) == f);
    case builtin::ends_with:
      return value::of(s.size() >= f.size() && s.substr(s.size() - f.size()) == f);
    default:
      return value::of(s.find(f) != std::string_view::npos);
  }
}

value case_map(builtin b, const value& x, eval_context& ctx) {
  if (!str(x)) {
    return {};
  }
  const bool upper = b == builtin::upper;
  if (upper ? text::is_upper_invariant(x.string) : text::is_lower_invariant(x.string)) {
    return x; // nothing to change: no copy
  }
  std::string& out = ctx.scratch_string();
  if (upper) {
    text::to_upper(x.string, out);
  } else {
    text::to_lower(x.string, out);
  }
  return value::of(ctx.commit_scratch_string());
}

value concat(const value* a, std::size_t n, eval_context& ctx) {
  for (std::size_t i = 0; i < n; ++i) {
    if (!str(a[i])) {
      return {};
    }
  }
  std::string& out = ctx.scratch_string();
  for (std::size_t i = 0; i < n; ++i) {
    out.append(a[i].string);
  }
  return value::of(ctx.commit_scratch_string());
}

} // namespace

std::optional<builtin> find_builtin(std::string_view name) noexcept {
  for (const auto& [n, b] : names) {
    if (text::iequals(n, name)) {
      return b;
    }
  }
  return std::nullopt;
}

std::string_view builtin_name(builtin b) noexcept {
  for (const auto& [n, v] : names) {
    if (v == b) {
      return n;
    }
  }
  return "?";
}

std::string builtin_names() {
  std::vector<std::string_view> sorted;
  for (const auto& entry : names) {
    sorted.push_back(entry.first);
  }
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto n : sorted) {
    out += (out.empty() ? "" : ", ") + std::string(n);
  }
  return out;
}

std::variant<call_typing, call_type_error> type_call(builtin b, const std::vector<st>& args) {
  const auto sigs = signatures(b);
  for (const auto& s : sigs) {
    if (matches(s, args)) {
      st result = s.result;
      return call_typing{result, s.mode};
    }
  }
  call_type_error err;
  std::vector<const signature*> same_arity;
  for (const auto& s : sigs) {
    if ((s.varargs && args.size() >= s.arity) || (!s.varargs && s.arity == args.size())) {
      same_arity.push_back(&s);
    }
  }
  if (same_arity.empty()) {
    err.arity_message = arity_text(sigs, args.size());
    return err;
  }
  // The first argument that no overload of this arity accepts, and what they accept there.
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::vector<st> accepted;
    bool ok = false;
    for (const auto* s : same_arity) {
      const st param = s->varargs ? st::string : s->params[i];
      if (param_matches(param, args[i], s->query_value) || s->any) {
        ok = true;
      }
      if (std::find(accepted.begin(), accepted.end(), param) == accepted.end()) {
        accepted.push_back(param);
      }
    }
    if (!ok) {
      err.argument = i;
      for (std::size_t k = 0; k < accepted.size(); ++k) {
        err.expected += (k == 0 ? "" : " or ") + std::string(static_type_article(accepted[k]));
      }
      return err;
    }
  }
  err.arity_message = arity_text(sigs, args.size());
  return err;
}

value call_builtin(builtin b, const value* a, std::size_t n, eval_context& ctx) {
  switch (b) {
    case builtin::abs:
    case builtin::exp:
    case builtin::square:
    case builtin::ceiling:
    case builtin::floor:
    case builtin::sign:
    case builtin::sqrt:
      return num(a[0]) ? math1(b, a[0].number) : value{};
    case builtin::power:
      return num(a[0]) && num(a[1]) ? value::of(std::pow(a[0].number, a[1].number)) : value{};
    case builtin::as_number:
      if (num(a[0])) {
        return a[0];
      }
      if (str(a[0])) {
        const auto d = text::parse_number(a[0].string);
        return d ? value::of(*d) : value{};
      }
      return {};
    case builtin::is_bool:
      if (!a[0].is_defined()) {
        return {};
      }
      return value::of(a[0].type == value_type::boolean);
    case builtin::is_defined:
      return value::of(a[0].is_defined());
    case builtin::is_null:
      if (!a[0].is_defined()) {
        return {};
      }
      return value::of(a[0].type == value_type::null);
    case builtin::is_number:
      return value::of(num(a[0]) && std::isfinite(a[0].number));
    case builtin::is_string:
      return value::of(str(a[0]));
    case builtin::concat:
      return concat(a, n, ctx);
    case builtin::length:
      return str(a[0]) ? value::of(static_cast<double>(text::utf16_length(a[0].string))) : value{};
    case builtin::lower:
    case builtin::upper:
      return case_map(b, a[0], ctx);
    case builtin::substring:
      return substring(a, n);
    case builtin::index_of:
    case builtin::starts_with:
    case builtin::ends_with:
    case builtin::contains:
      return string_pair(b, a[0], a[1]);
    case builtin::twin_change_includes:
      return {}; // compiled to its own node kind
  }
  return {};
}

} // namespace outpost::routing
