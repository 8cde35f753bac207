#include "routing/grammar/lexer.hpp"

#include "routing/grammar/identifier.hpp"

#include <array>
#include <cstddef>
#include <string_view>

namespace outpost::routing {

namespace {

bool is_ws(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

bool is_hex_digit(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_query_path_char(char c) noexcept {
  return is_id_char(c) || c == '[' || c == ']';
}

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

/// The lexer state over one text: candidate lengths per rule at a position.
class scanner {
public:
  explicit scanner(std::string_view text) : text_(text) { find_comment_ends(); }

  char at(std::size_t i) const noexcept { return i < text_.size() ? text_[i] : '\0'; }

  std::size_t keyword(std::size_t i, std::string_view word, bool any_case) const noexcept {
    if (text_.size() - i < word.size()) {
      return 0;
    }
    for (std::size_t k = 0; k < word.size(); ++k) {
      const char c = any_case ? lower(text_[i + k]) : text_[i + k];
      if (c != word[k]) {
        return 0;
      }
    }
    return word.size();
  }

  std::size_t literal(std::size_t i, std::string_view lit) const noexcept {
    return text_.substr(i, lit.size()) == lit ? lit.size() : 0;
  }

  /// Scans a quoted string from `i`; `closed` says whether the closing quote was found.
  std::size_t quoted(std::size_t i, bool& closed) const noexcept {
    const char quote = text_[i];
    std::size_t j = i + 1;
    closed = false;
    while (j < text_.size()) {
      const char c = text_[j];
      if (c == quote) {
        closed = true;
        return j + 1 - i;
      }
      if (c != '\\') {
        ++j;
        continue;
      }
      const char e = at(j + 1);
      if (e == '"' || e == '\'' || e == '\\') {
        j += 2;
      } else if (e == 'u' && is_hex_digit(at(j + 2)) && is_hex_digit(at(j + 3))
                 && is_hex_digit(at(j + 4)) && is_hex_digit(at(j + 5))) {
        j += 6;
      } else {
        break; // an invalid escape ends the (unterminated) string
      }
    }
    return j - i;
  }

  std::size_t integer(std::size_t i) const noexcept {
    std::size_t j = i + (at(i) == '-' ? 1 : 0);
    const std::size_t digits = j;
    while (is_digit(at(j))) {
      ++j;
    }
    return j > digits ? j - i : 0;
  }

  std::size_t hex(std::size_t i) const noexcept {
    if (at(i) != '0' || (at(i + 1) != 'x' && at(i + 1) != 'X') || !is_hex_digit(at(i + 2))) {
      return 0;
    }
    std::size_t j = i + 2;
    while (is_hex_digit(at(j))) {
      ++j;
    }
    return j - i;
  }

  std::size_t exponent(std::size_t k) const noexcept {
    if (at(k) != 'e' && at(k) != 'E') {
      return 0;
    }
    std::size_t m = k + 1;
    if (at(m) == '+' || at(m) == '-') {
      ++m;
    }
    if (!is_digit(at(m))) {
      return 0;
    }
    while (is_digit(at(m))) {
      ++m;
    }
    return m - k;
  }

  std::size_t real(std::size_t i) const noexcept {
    std::size_t j = i + (at(i) == '-' ? 1 : 0);
    while (is_digit(at(j))) {
      ++j;
    }
    std::size_t best = 0;
    if (at(j) == '.' && is_digit(at(j + 1))) {
      std::size_t k = j + 1;
      while (is_digit(at(k))) {
        ++k;
      }
      best = k + exponent(k) - i;
    }
    if (const auto e = exponent(j); e != 0 && j + e - i > best) {
      best = j + e - i;
    }
    return best;
  }

  std::size_t run(std::size_t i, bool (*pred)(char) noexcept) const noexcept {
    std::size_t j = i;
    while (j < text_.size() && pred(text_[j])) {
      ++j;
    }
    return j - i;
  }

  std::size_t comment(std::size_t i) const noexcept {
    if (at(i) != '/' || at(i + 1) != '*') {
      return 0;
    }
    // First "*/" that starts at or after i + 2; npos when there is none.
    const std::size_t close = comment_end_[i + 2];
    return close == std::string_view::npos ? 0 : close + 2 - i;
  }

  std::string_view text() const noexcept { return text_; }

private:
  // comment_end_[k] = the first position p >= k with text[p..p+1] == "*/", so that each
  // "/*" is resolved in O(1) (a text full of "/*" would otherwise be quadratic).
  void find_comment_ends() {
    comment_end_.assign(text_.size() + 3, std::string_view::npos);
    for (std::size_t k = text_.size(); k-- > 0;) {
      comment_end_[k] = (text_[k] == '*' && k + 1 < text_.size() && text_[k + 1] == '/')
                            ? k
                            : comment_end_[k + 1];
    }
  }

  std::string_view text_;
  std::vector<std::size_t> comment_end_;
};

/// Pseudo kinds for the skipped rules, after the real ones.
constexpr std::size_t ws_rule = static_cast<std::size_t>(token_kind::unknown) + 1;
constexpr std::size_t comment_rule = ws_rule + 1;

} // namespace

bool is_id_char(char c) noexcept {
  return is_identifier_char(c, identifier_rule::route);
}

std::vector<token> lex(std::string_view text) {
  scanner s(text);
  std::vector<token> out;
  out.reserve(text.size() / 4 + 2);
  std::size_t i = 0;
  while (i < text.size()) {
    // Candidate length per rule, in GrammarLexer.g4 order (ties go to the earlier rule). The
    // parser literals '{' '}' come first, as ANTLR defines implicit tokens before lexer rules.
    struct candidate {
      std::size_t rule;
      std::size_t length;
    };
    const char c = text[i];
    bool closed = false;
    const std::size_t quoted_length = (c == '"' || c == '\'') ? s.quoted(i, closed) : 0;
    const std::size_t sys_prop_length =
        c == '$' ? (s.run(i + 1, is_query_path_char) > 0 ? 1 + s.run(i + 1, is_query_path_char) : 0)
                 : 0;
    const std::array<candidate, 41> candidates{{
        {static_cast<std::size_t>(token_kind::lbrace), c == '{' ? 1u : 0u},
        {static_cast<std::size_t>(token_kind::rbrace), c == '}' ? 1u : 0u},
        {static_cast<std::size_t>(token_kind::kw_select), s.keyword(i, "select", true)},
        {static_cast<std::size_t>(token_kind::kw_from), s.keyword(i, "from", true)},
        {static_cast<std::size_t>(token_kind::kw_where), s.keyword(i, "where", true)},
        {static_cast<std::size_t>(token_kind::kw_into), s.keyword(i, "into", true)},
        {static_cast<std::size_t>(token_kind::string), closed ? quoted_length : 0},
        {static_cast<std::size_t>(token_kind::unterminated_string),
         closed ? quoted_length - 1 : quoted_length},
        {static_cast<std::size_t>(token_kind::integer), s.integer(i)},
        {static_cast<std::size_t>(token_kind::hex), s.hex(i)},
        {static_cast<std::size_t>(token_kind::real), s.real(i)},
        {static_cast<std::size_t>(token_kind::kw_true), s.keyword(i, "true", false)},
        {static_cast<std::size_t>(token_kind::kw_false), s.keyword(i, "false", false)},
        {static_cast<std::size_t>(token_kind::kw_null), s.keyword(i, "null", false)},
        {static_cast<std::size_t>(token_kind::kw_undefined), s.keyword(i, "undefined", false)},
        {static_cast<std::size_t>(token_kind::lparen), s.literal(i, "(")},
        {static_cast<std::size_t>(token_kind::rparen), s.literal(i, ")")},
        {static_cast<std::size_t>(token_kind::comma), s.literal(i, ",")},
        {static_cast<std::size_t>(token_kind::plus), s.literal(i, "+")},
        {static_cast<std::size_t>(token_kind::minus), s.literal(i, "-")},
        {static_cast<std::size_t>(token_kind::star), s.literal(i, "*")},
        {static_cast<std::size_t>(token_kind::slash), s.literal(i, "/")},
        {static_cast<std::size_t>(token_kind::percent), s.literal(i, "%")},
        {static_cast<std::size_t>(token_kind::kw_and), s.keyword(i, "and", true)},
        {static_cast<std::size_t>(token_kind::kw_or), s.keyword(i, "or", true)},
        {static_cast<std::size_t>(token_kind::kw_not), s.keyword(i, "not", true)},
        {static_cast<std::size_t>(token_kind::eq), s.literal(i, "=")},
        {static_cast<std::size_t>(token_kind::ne), s.literal(i, "!=")},
        {static_cast<std::size_t>(token_kind::ne2), s.literal(i, "<>")},
        {static_cast<std::size_t>(token_kind::le), s.literal(i, "<=")},
        {static_cast<std::size_t>(token_kind::ge), s.literal(i, ">=")},
        {static_cast<std::size_t>(token_kind::gt), s.literal(i, ">")},
        {static_cast<std::size_t>(token_kind::lt), s.literal(i, "<")},
        {static_cast<std::size_t>(token_kind::concat), s.literal(i, "||")},
        {static_cast<std::size_t>(token_kind::coalesce), s.literal(i, "??")},
        {static_cast<std::size_t>(token_kind::sys_prop), sys_prop_length},
        {static_cast<std::size_t>(token_kind::id), s.run(i, is_id_char)},
        {static_cast<std::size_t>(token_kind::query_path), s.run(i, is_query_path_char)},
        {ws_rule, s.run(i, is_ws)},
        {comment_rule, s.comment(i)},
        {static_cast<std::size_t>(token_kind::unknown), 1},
    }};
    candidate best{static_cast<std::size_t>(token_kind::unknown), 0};
    for (const auto& cand : candidates) {
      if (cand.length > best.length) {
        best = cand;
      }
    }
    if (best.rule != ws_rule && best.rule != comment_rule) {
      out.push_back({static_cast<token_kind>(best.rule), static_cast<std::uint32_t>(i),
                     static_cast<std::uint32_t>(i + best.length)});
    }
    i += best.length;
  }
  out.push_back({token_kind::end, static_cast<std::uint32_t>(text.size()),
                 static_cast<std::uint32_t>(text.size())});
  return out;
}

std::string_view token_kind_name(token_kind k) noexcept {
  switch (k) {
    case token_kind::end:
      return "end of route";
    case token_kind::kw_select:
      return "SELECT";
    case token_kind::kw_from:
      return "FROM";
    case token_kind::kw_where:
      return "WHERE";
    case token_kind::kw_into:
      return "INTO";
    case token_kind::string:
      return "a string";
    case token_kind::unterminated_string:
      return "an unterminated string";
    case token_kind::integer:
    case token_kind::hex:
    case token_kind::real:
      return "a number";
    case token_kind::kw_true:
      return "true";
    case token_kind::kw_false:
      return "false";
    case token_kind::kw_null:
      return "null";
    case token_kind::kw_undefined:
      return "undefined";
    case token_kind::lparen:
      return "'('";
    case token_kind::rparen:
      return "')'";
    case token_kind::comma:
      return "','";
    case token_kind::plus:
      return "'+'";
    case token_kind::minus:
      return "'-'";
    case token_kind::star:
      return "'*'";
    case token_kind::slash:
      return "'/'";
    case token_kind::percent:
      return "'%'";
    case token_kind::kw_and:
      return "AND";
    case token_kind::kw_or:
      return "OR";
    case token_kind::kw_not:
      return "NOT";
    case token_kind::eq:
      return "'='";
    case token_kind::ne:
      return "'!='";
    case token_kind::ne2:
      return "'<>'";
    case token_kind::le:
      return "'<='";
    case token_kind::ge:
      return "'>='";
    case token_kind::gt:
      return "'>'";
    case token_kind::lt:
      return "'<'";
    case token_kind::concat:
      return "'||'";
    case token_kind::coalesce:
      return "'?"
             "?'";
    case token_kind::sys_prop:
      return "a $property";
    case token_kind::id:
      return "a name";
    case token_kind::query_path:
      return "a name with [ ]";
    case token_kind::lbrace:
      return "'{'";
    case token_kind::rbrace:
      return "'}'";
    case token_kind::unknown:
      return "an invalid symbol";
  }
  return "a token";
}

} // namespace outpost::routing
