#include "routing/grammar/parser.hpp"

#include "protocols/common/utf8.hpp"
#include "routing/grammar/lexer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

namespace outpost::routing {

namespace {

constexpr std::size_t max_nesting = 100; // parentheses, calls and prefix operators

int precedence(token_kind k) noexcept {
  switch (k) {
    case token_kind::star:
    case token_kind::slash:
    case token_kind::percent:
      return 7;
    case token_kind::plus:
    case token_kind::minus:
    case token_kind::concat:
      return 6;
    case token_kind::lt:
    case token_kind::le:
    case token_kind::gt:
    case token_kind::ge:
      return 5;
    case token_kind::eq:
    case token_kind::ne:
    case token_kind::ne2:
      return 4;
    case token_kind::kw_and:
      return 3;
    case token_kind::kw_or:
      return 2;
    case token_kind::coalesce:
      return 1;
    default:
      return 0;
  }
}

binary_op to_binary_op(token_kind k) noexcept {
  switch (k) {
    case token_kind::star:
      return binary_op::mul;
    case token_kind::slash:
      return binary_op::div;
    case token_kind::percent:
      return binary_op::mod;
    case token_kind::plus:
      return binary_op::add;
    case token_kind::minus:
      return binary_op::sub;
    case token_kind::concat:
      return binary_op::concat;
    case token_kind::lt:
      return binary_op::lt;
    case token_kind::le:
      return binary_op::le;
    case token_kind::gt:
      return binary_op::gt;
    case token_kind::ge:
      return binary_op::ge;
    case token_kind::eq:
      return binary_op::eq;
    case token_kind::ne:
    case token_kind::ne2:
      return binary_op::ne;
    case token_kind::kw_and:
      return binary_op::logical_and;
    case token_kind::kw_or:
      return binary_op::logical_or;
    default:
      return binary_op::coalesce;
  }
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<unsigned char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<unsigned char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

std::uint32_t hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return static_cast<std::uint32_t>(c - '0');
  }
  if (c >= 'a' && c <= 'f') {
    return static_cast<std::uint32_t>(c - 'a' + 10);
  }
  return static_cast<std::uint32_t>(c - 'A' + 10);
}

/// Decodes the inside of a string literal: \" \' \\ and \uXXXX (a surrogate pair of two
/// \u escapes becomes one character; a lone surrogate becomes U+FFFD).
std::string unescape(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '\\' || i + 1 >= in.size()) {
      out.push_back(in[i]);
      continue;
    }
    if (in[i + 1] != 'u' || i + 5 >= in.size()) {
      out.push_back(in[i + 1]);
      ++i;
      continue;
    }
    std::uint32_t cp = 0;
    for (std::size_t k = 2; k < 6; ++k) {
      cp = cp * 16 + hex_value(in[i + k]);
    }
    i += 5;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < in.size() && in[i + 1] == '\\'
        && in[i + 2] == 'u') {
      std::uint32_t low = 0;
      for (std::size_t k = 3; k < 7; ++k) {
        low = low * 16 + hex_value(in[i + k]);
      }
      if (low >= 0xDC00 && low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        i += 6;
      }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      cp = 0xFFFD;
    }
    append_utf8(out, static_cast<char32_t>(cp));
  }
  return out;
}

double parse_decimal(std::string_view text) noexcept {
  double value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  (void)ptr;
  if (ec == std::errc::result_out_of_range) {
    // .NET's double.TryParse gives ±infinity for overflow and 0 for underflow.
    const bool negative = !text.empty() && text.front() == '-';
    const auto e = text.find_first_of("eE");
    const bool huge = e == std::string_view::npos || text[e + 1] != '-';
    value = huge ? (negative ? -std::numeric_limits<double>::infinity()
                             : std::numeric_limits<double>::infinity())
                 : (negative ? -0.0 : 0.0);
  }
  return value;
}

class parser {
public:
  explicit parser(std::string_view text) : text_(text), tokens_(lex(text)) {}

  std::variant<route_ast, route_error> route();
  std::variant<condition_ast, route_error> condition_only();

private:
  const token& peek(std::size_t k = 0) const {
    return tokens_[std::min(pos_ + k, tokens_.size() - 1)];
  }
  token next() {
    const token t = peek();
    if (pos_ < tokens_.size() - 1) {
      ++pos_;
    }
    return t;
  }
  bool accept(token_kind k) {
    if (peek().kind != k) {
      return false;
    }
    next();
    return true;
  }
  std::string_view text(const token& t) const { return t.text(text_); }

  std::string describe(const token& t) const {
    if (t.kind == token_kind::end) {
      return "end of route";
    }
    std::string_view s = text(t);
    std::string out = "'";
    if (s.size() > 40) {
      out.append(s.substr(0, 37)).append("...");
    } else {
      out.append(s);
    }
    return out + "'";
  }

  bool fail(std::uint32_t offset, std::string message, errc code = errc::syntax_error,
            std::string hint = {}) {
    if (!error_) {
      error_ = route_error{{}, column_of(text_, offset), std::move(message), code, std::move(hint)};
    }
    return false;
  }
  bool expected(std::string_view what, const token& found) {
    return fail(found.begin, "expected " + std::string(what) + ", found " + describe(found));
  }

  std::uint32_t add(expr e) {
    nodes_->nodes.push_back(std::move(e));
    return static_cast<std::uint32_t>(nodes_->nodes.size() - 1);
  }
  expr& node(std::uint32_t i) { return nodes_->nodes[i]; }

  bool check_depth(std::uint32_t i) {
    if (node(i).depth > max_expression_depth) {
      return fail(
          node(i).begin,
          "expression nested deeper than " + std::to_string(max_expression_depth) + " levels",
          errc::too_complex);
    }
    return true;
  }

  bool expression(std::uint32_t& out, int min_precedence);
  bool unary(std::uint32_t& out);
  bool primary(std::uint32_t& out);
  bool literal(const token& t, std::uint32_t& out);
  bool call(const token& name, std::uint32_t& out);
  bool string_literal(const token& t, std::uint32_t& out);
  bool unterminated(const token& t);
  bool source(route_ast& r);
  bool sink(route_ast& r);
  bool named_sink(route_ast& r);

  std::string_view text_;
  std::vector<token> tokens_;
  std::size_t pos_ = 0;
  std::size_t nesting_ = 0;
  condition_ast* nodes_ = nullptr;
  std::optional<route_error> error_;
};

bool parser::expression(std::uint32_t& out, int min_precedence) {
  std::uint32_t lhs = 0;
  if (!unary(lhs)) {
    return false;
  }
  for (;;) {
    const token op = peek();
    const int p = precedence(op.kind);
    if (p == 0 || p < min_precedence) {
      break;
    }
    next();
    std::uint32_t rhs = 0;
    if (peek().kind == token_kind::end) {
      return fail(peek().begin,
                  "expected an expression after " + describe(op) + ", found end of route");
    }
    if (!expression(rhs, p + 1)) {
      return false;
    }
    expr e;
    e.kind = expr_kind::binary;
    e.op = to_binary_op(op.kind);
    e.begin = node(lhs).begin;
    e.end = node(rhs).end;
    e.op_begin = op.begin;
    e.op_end = op.end;
    e.lhs = lhs;
    e.rhs = rhs;
    e.depth = static_cast<std::uint16_t>(
        std::min<std::size_t>(1 + std::max(node(lhs).depth, node(rhs).depth), 0xFFFF));
    lhs = add(std::move(e));
    if (!check_depth(lhs)) {
      return false;
    }
  }
  out = lhs;
  return true;
}

bool parser::unary(std::uint32_t& out) {
  const token t = peek();
  if (t.kind != token_kind::minus && t.kind != token_kind::kw_not) {
    return primary(out);
  }
  next();
  if (++nesting_ > max_nesting) {
    return fail(t.begin, "expression nested too deeply", errc::too_complex);
  }
  std::uint32_t operand = 0;
  // IoT Edge's grammar lists the prefix operators before every binary one, so they bind
  // tightest: NOT a = b is (NOT a) = b, and -a * b is (-a) * b.
  if (!unary(operand)) {
    return false;
  }
  --nesting_;
  expr e;
  e.kind = t.kind == token_kind::minus ? expr_kind::negate : expr_kind::logical_not;
  e.begin = t.begin;
  e.end = node(operand).end;
  e.op_begin = t.begin;
  e.op_end = t.end;
  e.lhs = operand;
  e.depth = static_cast<std::uint16_t>(node(operand).depth + 1);
  out = add(std::move(e));
  return check_depth(out);
}

bool parser::primary(std::uint32_t& out) {
  const token t = peek();
  switch (t.kind) {
    case token_kind::lparen: {
      next();
      if (++nesting_ > max_nesting) {
        return fail(t.begin, "expression nested too deeply", errc::too_complex);
      }
      if (!expression(out, 1)) {
        return false;
      }
      --nesting_;
      if (peek().kind != token_kind::rparen) {
        return fail(peek().begin, "expected ')' to close the '(' at column "
                                      + std::to_string(column_of(text_, t.begin)) + ", found "
                                      + describe(peek()));
      }
      const token close = next();
      node(out).begin = t.begin;
      node(out).end = close.end;
      return true;
    }
    case token_kind::kw_true:
    case token_kind::kw_false:
    case token_kind::kw_null:
    case token_kind::kw_undefined:
    case token_kind::integer:
    case token_kind::hex:
    case token_kind::real:
      next();
      return literal(t, out);
    case token_kind::string:
      next();
      return string_literal(t, out);
    case token_kind::unterminated_string:
      return unterminated(t);
    case token_kind::sys_prop:
    case token_kind::id: {
      next();
      if (t.kind == token_kind::id && peek().kind == token_kind::lparen) {
        return call(t, out);
      }
      expr e;
      e.kind = t.kind == token_kind::id ? expr_kind::property : expr_kind::sys_property;
      e.begin = e.op_begin = t.begin;
      e.end = e.op_end = t.end;
      e.text = std::string(text(t));
      out = add(std::move(e));
      return true;
    }
    case token_kind::lbrace: {
      next();
      const token prop = peek();
      if (prop.kind != token_kind::sys_prop) {
        return expected("a $property after '{'", prop);
      }
      next();
      if (peek().kind != token_kind::rbrace) {
        return expected("'}' after " + describe(prop), peek());
      }
      const token close = next();
      expr e;
      e.kind = expr_kind::escaped_sys_property;
      e.begin = t.begin;
      e.end = close.end;
      e.op_begin = prop.begin;
      e.op_end = prop.end;
      e.text = std::string(text(prop));
      out = add(std::move(e));
      return true;
    }
    case token_kind::query_path:
      return fail(t.begin, describe(t) + " is not a valid name: only $body paths may use [ ]",
                  errc::syntax_error, "write $body." + std::string(text(t)) + " to read the body");
    case token_kind::unknown:
      return fail(t.begin, "invalid symbol " + describe(t));
    case token_kind::rparen:
      return fail(t.begin, "unmatched ')'");
    default:
      return expected("an expression", t);
  }
}

bool parser::literal(const token& t, std::uint32_t& out) {
  expr e;
  e.kind = expr_kind::literal;
  e.begin = e.op_begin = t.begin;
  e.end = e.op_end = t.end;
  const std::string_view s = text(t);
  switch (t.kind) {
    case token_kind::kw_true:
    case token_kind::kw_false:
      e.literal = literal_kind::boolean;
      e.boolean = t.kind == token_kind::kw_true;
      break;
    case token_kind::kw_null:
      e.literal = literal_kind::null;
      break;
    case token_kind::kw_undefined:
      e.literal = literal_kind::undefined;
      break;
    case token_kind::hex: {
      // .NET long.TryParse(HexNumber): up to 16 significant digits, read as a two's complement
      // 64-bit value; more digits do not parse and IoT Edge makes the literal undefined.
      std::string_view digits = s.substr(2);
      while (digits.size() > 1 && digits.front() == '0') {
        digits.remove_prefix(1);
      }
      if (digits.size() > 16) {
        e.literal = literal_kind::undefined;
        break;
      }
      std::uint64_t v = 0;
      for (const char c : digits) {
        v = v * 16 + hex_value(c);
      }
      e.literal = literal_kind::number;
      e.number = static_cast<double>(static_cast<std::int64_t>(v));
      break;
    }
    default: {
      // double.TryParse: a mantissa without digits ("e5", "-e5") does not parse, and IoT
      // Edge makes the literal undefined.
      const auto mantissa = s.substr(0, s.find_first_of("eE"));
      if (mantissa.find_first_of("0123456789") == std::string_view::npos) {
        e.literal = literal_kind::undefined;
        break;
      }
      e.literal = literal_kind::number;
      e.number = parse_decimal(s);
      break;
    }
  }
  out = add(std::move(e));
  return true;
}

bool parser::string_literal(const token& t, std::uint32_t& out) {
  expr e;
  e.kind = expr_kind::literal;
  e.literal = literal_kind::string;
  e.begin = e.op_begin = t.begin;
  e.end = e.op_end = t.end;
  e.text = unescape(text(t).substr(1, t.end - t.begin - 2));
  out = add(std::move(e));
  return true;
}

bool parser::unterminated(const token& t) {
  const std::size_t stop = t.end;
  if (stop < text_.size() && text_[stop] == '\\') {
    const std::string escape(text_.substr(stop, 2));
    return fail(static_cast<std::uint32_t>(stop), "invalid escape '" + escape + "' in a string",
                errc::syntax_error, "only \\\", \\', \\\\ and \\uXXXX escapes are allowed");
  }
  return fail(t.begin, "unterminated string: no closing " + std::string(1, text_[t.begin]));
}

bool parser::call(const token& name, std::uint32_t& out) {
  const token open = next(); // '('
  if (++nesting_ > max_nesting) {
    return fail(open.begin, "expression nested too deeply", errc::too_complex);
  }
  std::vector<std::uint32_t> args;
  std::uint16_t depth = 1;
  if (peek().kind != token_kind::rparen) {
    for (;;) {
      std::uint32_t arg = 0;
      if (!expression(arg, 1)) {
        return false;
      }
      args.push_back(arg);
      depth = std::max<std::uint16_t>(depth, static_cast<std::uint16_t>(node(arg).depth + 1));
      if (accept(token_kind::comma)) {
        continue;
      }
      if (peek().kind == token_kind::rparen) {
        break;
      }
      return expected("',' or ')' in the arguments of " + std::string(text(name)) + "()", peek());
    }
  }
  --nesting_;
  const token close = next();
  expr e;
  e.kind = expr_kind::call;
  e.begin = name.begin;
  e.end = close.end;
  e.op_begin = name.begin;
  e.op_end = name.end;
  e.text = std::string(text(name));
  e.first_arg = static_cast<std::uint32_t>(nodes_->args.size());
  e.arg_count = static_cast<std::uint32_t>(args.size());
  e.depth = depth;
  nodes_->args.insert(nodes_->args.end(), args.begin(), args.end());
  out = add(std::move(e));
  return check_depth(out);
}

bool is_source_item(token_kind k) noexcept {
  switch (k) {
    case token_kind::star:
    case token_kind::id:
    case token_kind::sys_prop:
    case token_kind::query_path:
    case token_kind::integer:
    case token_kind::hex:
    case token_kind::real:
    case token_kind::kw_true:
    case token_kind::kw_false:
    case token_kind::kw_null:
    case token_kind::kw_undefined:
    case token_kind::kw_and:
    case token_kind::kw_or:
    case token_kind::kw_not:
      return true;
    default:
      return false;
  }
}

bool parser::source(route_ast& r) {
  const token first = peek();
  if (first.kind != token_kind::slash) {
    return fail(first.begin,
                "expected a source path such as /messages/* after FROM, found " + describe(first),
                errc::invalid_source);
  }
  r.source_begin = first.begin;
  while (accept(token_kind::slash)) {
    r.source += '/';
    const token item = peek();
    if (!is_source_item(item.kind)) {
      return fail(item.begin,
                  "expected a path element or '*' after '/' in the source, found " + describe(item),
                  errc::invalid_source);
    }
    next();
    r.source.append(text(item));
  }
  return true;
}

bool parser::sink(route_ast& r) {
  const token t = peek();
  r.sink_begin = t.begin;
  const std::string usage =
      "$upstream, BrokeredEndpoint(\"/modules/<module>/inputs/<input>\") "
      "or Endpoint(\"<name>\")";
  if (t.kind == token_kind::sys_prop) {
    next();
    if (!iequals(text(t), "$upstream")) {
      return fail(t.begin, "unknown system endpoint " + describe(t) + ": expected " + usage,
                  errc::invalid_sink);
    }
    r.sink = endpoint::upstream();
    return true;
  }
  if (t.kind != token_kind::id || peek(1).kind != token_kind::lparen) {
    return fail(t.begin, "expected " + usage + " after INTO, found " + describe(t),
                errc::invalid_sink);
  }
  if (iequals(text(t), "Endpoint")) {
    return named_sink(r);
  }
  if (!iequals(text(t), "BrokeredEndpoint")) {
    return fail(t.begin, "unknown endpoint function " + describe(t) + ": expected " + usage,
                errc::invalid_sink);
  }
  next();
  next(); // '('
  const token arg = peek();
  if (arg.kind == token_kind::unterminated_string) {
    return unterminated(arg);
  }
  if (arg.kind != token_kind::string) {
    return fail(arg.begin,
                "expected a string \"/modules/<module>/inputs/<input>\" in BrokeredEndpoint(), "
                "found "
                    + describe(arg),
                errc::invalid_sink);
  }
  next();
  if (peek().kind != token_kind::rparen) {
    return expected("')' after the BrokeredEndpoint address", peek());
  }
  next();
  // EndpointFactory.CreateFunctionEndpoint: trim, drop one leading and one trailing '/', split
  // on '/' into exactly modules/<m>/inputs/<i>. The raw text is used (no unescaping).
  std::string_view address = text(arg).substr(1, arg.end - arg.begin - 2);
  while (!address.empty() && (address.front() == ' ' || address.front() == '\t')) {
    address.remove_prefix(1);
  }
  while (!address.empty() && (address.back() == ' ' || address.back() == '\t')) {
    address.remove_suffix(1);
  }
  std::string_view rest = address;
  if (!rest.empty() && rest.front() == '/') {
    rest.remove_prefix(1);
  }
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t slash = rest.find('/', start);
    parts.push_back(rest.substr(start, slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  if (parts.size() != 4 || !iequals(parts[0], "modules") || !iequals(parts[2], "inputs")
      || parts[1].empty() || parts[3].empty()) {
    return fail(arg.begin,
                "expected \"/modules/<module>/inputs/<input>\" in BrokeredEndpoint(), found "
                    + std::string(text(arg)),
                errc::invalid_sink);
  }
  r.sink = endpoint::module_input(std::string(parts[1]), std::string(parts[3]));
  return true;
}

/// `Endpoint("name")`: an Outpost extension naming an `[endpoints.<name>]` of the
/// configuration (whether it is configured is the hub's to check, not the grammar's).
bool parser::named_sink(route_ast& r) {
  next(); // Endpoint
  next(); // '('
  const token arg = peek();
  if (arg.kind == token_kind::unterminated_string) {
    return unterminated(arg);
  }
  if (arg.kind != token_kind::string) {
    return fail(arg.begin, "expected a string \"<name>\" in Endpoint(), found " + describe(arg),
                errc::invalid_sink);
  }
  next();
  if (peek().kind != token_kind::rparen) {
    return expected("')' after the Endpoint name", peek());
  }
  next();
  const std::string_view name = text(arg).substr(1, arg.end - arg.begin - 2);
  if (!endpoint::valid_name(name)) {
    return fail(arg.begin,
                "expected an endpoint name of 1 to 64 letters, digits, '.', '_' or '-' in "
                "Endpoint(), found "
                    + std::string(text(arg)),
                errc::invalid_sink);
  }
  r.sink = endpoint::named(std::string(name));
  return true;
}

std::variant<route_ast, route_error> parser::route() {
  route_ast r;
  if (text_.size() > max_route_length) {
    return route_error{{},
                       0,
                       "route longer than " + std::to_string(max_route_length) + " characters",
                       errc::too_complex,
                       {}};
  }
  if (peek().kind == token_kind::end) {
    fail(0, "empty route: expected FROM <source> [WHERE <condition>] INTO <sink>");
    return *error_;
  }
  if (accept(token_kind::kw_select) && !accept(token_kind::star)) {
    expected("'*' after SELECT", peek());
    return *error_;
  }
  if (!accept(token_kind::kw_from)) {
    expected("FROM", peek());
    return *error_;
  }
  if (!source(r)) {
    return *error_;
  }
  if (accept(token_kind::kw_where)) {
    r.condition.emplace();
    nodes_ = &*r.condition;
    std::uint32_t root = 0;
    if (!expression(root, 1)) {
      return *error_;
    }
    r.condition->root = root;
    if (peek().kind != token_kind::kw_into) {
      expected("an operator or INTO", peek());
      return *error_;
    }
  }
  if (!accept(token_kind::kw_into)) {
    expected(r.condition ? "INTO" : "WHERE or INTO after the source", peek());
    return *error_;
  }
  if (!sink(r)) {
    return *error_;
  }
  if (peek().kind != token_kind::end) {
    fail(peek().begin, "unexpected " + describe(peek()) + " after the sink", errc::syntax_error,
         "a route ends with its sink: WHERE must come before INTO");
    return *error_;
  }
  return r;
}

std::variant<condition_ast, route_error> parser::condition_only() {
  condition_ast c;
  if (text_.size() > max_route_length) {
    return route_error{{},
                       0,
                       "condition longer than " + std::to_string(max_route_length) + " characters",
                       errc::too_complex,
                       {}};
  }
  nodes_ = &c;
  std::uint32_t root = 0;
  if (!expression(root, 1)) {
    return *error_;
  }
  if (peek().kind != token_kind::end) {
    expected("an operator or the end of the condition", peek());
    return *error_;
  }
  c.root = root;
  return c;
}

} // namespace

std::variant<route_ast, route_error> parse_route(std::string_view text) {
  if (text.size() > max_route_length) {
    return route_error{{},
                       0,
                       "route longer than " + std::to_string(max_route_length) + " characters",
                       errc::too_complex,
                       {}};
  }
  return parser(text).route();
}

std::variant<condition_ast, route_error> parse_condition(std::string_view text) {
  if (text.size() > max_route_length) {
    return route_error{{},
                       0,
                       "condition longer than " + std::to_string(max_route_length) + " characters",
                       errc::too_complex,
                       {}};
  }
  return parser(text).condition_only();
}

} // namespace outpost::routing
