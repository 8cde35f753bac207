#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace outpost::routing {

/// Token kinds of IoT Edge's route lexer (Routing.Core grammar/GrammarLexer.g4), in the order
/// of its rules: when two rules match the same number of characters the earlier one wins.
enum class token_kind : std::uint8_t {
  end,                 ///< end of the text
  kw_select,           ///< SELECT (any case)
  kw_from,             ///< FROM
  kw_where,            ///< WHERE
  kw_into,             ///< INTO
  string,              ///< '...' or "..." with \" \' \\ \uXXXX escapes
  unterminated_string, ///< a quote that is never closed (or holds an invalid escape)
  integer,             ///< -?[0-9]+
  hex,                 ///< 0x[0-9a-fA-F]+
  real,                ///< -?[0-9]*.[0-9]+(e[+-]?[0-9]+)? | -?[0-9]*e[+-]?[0-9]+
  kw_true,             ///< true (lower case only)
  kw_false,            ///< false
  kw_null,             ///< null
  kw_undefined,        ///< undefined
  lparen,
  rparen,
  comma,
  plus,
  minus,
  star,
  slash,
  percent,
  kw_and, ///< AND (any case)
  kw_or,  ///< OR
  kw_not, ///< NOT
  eq,     ///< =
  ne,     ///< !=
  ne2,    ///< <>
  le,
  ge,
  gt,
  lt,
  concat,     ///< ||
  coalesce,   ///< ??
  sys_prop,   ///< $name, $body.a.b[0]
  id,         ///< a bare name: 1+ characters outside ()<>@,;:\"/[]?={} and whitespace
  query_path, ///< like id but with [ ]: only valid after '$'
  lbrace,     ///< { (a parser literal in Condition.g4)
  rbrace,     ///< }
  unknown,    ///< any other character
};

/// One token: a kind and its byte range in the route text.
struct token {
  token_kind kind = token_kind::end;
  std::uint32_t begin = 0;
  std::uint32_t end = 0;

  std::string_view text(std::string_view source) const { return source.substr(begin, end - begin); }
};

/// Splits `text` into tokens exactly as IoT Edge's ANTLR lexer does (longest match, ties to the
/// earlier rule, so `a+1` is one name and `-5` one number); whitespace and `/* comments */`
/// are dropped. The last token is always `end`. `text` must be shorter than 4 GiB.
std::vector<token> lex(std::string_view text);

/// A short human name of a token kind ("a string", "'('", "AND", ...).
std::string_view token_kind_name(token_kind k) noexcept;

/// True if `c` may appear in a bare name (ID in GrammarLexer.g4: identifier_rule::route).
bool is_id_char(char c) noexcept;

} // namespace outpost::routing
