#pragma once

#include <cstdint>

namespace outpost::routing {

/// Which characters make up a bare name. IoT Edge's routing engine has two grammars that
/// define it differently, and the difference is theirs, so both rules live in one table:
enum class identifier_rule : std::uint8_t {
  /// ID of GrammarLexer.g4 (route conditions: property and function names, facts §5.1): any
  /// character but `( ) < > @ , ; : \ " / [ ] ? = { }`, space, tab, CR and LF. '.' belongs to a
  /// name (`a.b` is one application property). NUL is excluded too (ours: a route with a NUL
  /// is a syntax error rather than a name no message can carry).
  route = 1,
  /// IDENTIFIER of JsonPath.g4 (the segments of a `$body` path, facts §5.3): the same set,
  /// except that '.' separates segments and so is excluded, while space is allowed (ANTLR's
  /// longest match makes `a b` one segment; JsonPath.g4 skips whitespace only between tokens),
  /// and NUL is allowed (a JSON key may hold one).
  json_path = 2,
};

/// Whether `c` may appear in a name under `rule`.
bool is_identifier_char(char c, identifier_rule rule) noexcept;

} // namespace outpost::routing
