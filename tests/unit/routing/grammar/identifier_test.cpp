#include "routing/grammar/identifier.hpp"

#include "routing/grammar/lexer.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace outpost::routing {
namespace {

constexpr auto route = identifier_rule::route;
constexpr auto json_path = identifier_rule::json_path;

TEST(IdentifierRule, BothGrammarsExcludeTheSameSeparators) {
  for (const char c : std::string_view{"()<>@,;:\\\"/[]?={}\t\n\r"}) {
    EXPECT_FALSE(is_identifier_char(c, route)) << c;
    EXPECT_FALSE(is_identifier_char(c, json_path)) << c;
  }
  for (const char c : std::string_view{"aZ09_-$#'+*!~"}) {
    EXPECT_TRUE(is_identifier_char(c, route)) << c;
    EXPECT_TRUE(is_identifier_char(c, json_path)) << c;
  }
  EXPECT_TRUE(is_identifier_char('\xc3', route)) << "UTF-8 bytes belong to names";
  EXPECT_TRUE(is_identifier_char('\xc3', json_path));
}

TEST(IdentifierRule, DotSpaceAndNulAreWhereTheGrammarsDiffer) {
  // GrammarLexer.g4's ID: `a.b` is one property name, a space ends it.
  EXPECT_TRUE(is_identifier_char('.', route));
  EXPECT_FALSE(is_identifier_char(' ', route));
  EXPECT_FALSE(is_identifier_char('\0', route));
  // JsonPath.g4's IDENTIFIER: '.' separates segments, `a b` is one segment.
  EXPECT_FALSE(is_identifier_char('.', json_path));
  EXPECT_TRUE(is_identifier_char(' ', json_path));
  EXPECT_TRUE(is_identifier_char('\0', json_path));
}

TEST(IdentifierRule, TheLexerUsesTheRouteRule) {
  for (int c = 0; c < 256; ++c) {
    EXPECT_EQ(is_id_char(static_cast<char>(c)), is_identifier_char(static_cast<char>(c), route))
        << c;
  }
}

} // namespace
} // namespace outpost::routing
