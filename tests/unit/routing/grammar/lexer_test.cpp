#include "routing/grammar/lexer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace outpost::routing {
namespace {

std::vector<std::pair<token_kind, std::string>> tokens(std::string_view text) {
  std::vector<std::pair<token_kind, std::string>> out;
  for (const auto& t : lex(text)) {
    out.emplace_back(t.kind, std::string(t.text(text)));
  }
  return out;
}

using tk = token_kind;

TEST(RouteLexer, SplitsARouteIntoTokens) {
  const auto t = tokens("FROM /messages/* WHERE a = 'x' INTO $upstream");
  const std::vector<std::pair<token_kind, std::string>> expected{{tk::kw_from, "FROM"},
                                                                 {tk::slash, "/"},
                                                                 {tk::id, "messages"},
                                                                 {tk::slash, "/"},
                                                                 {tk::star, "*"},
                                                                 {tk::kw_where, "WHERE"},
                                                                 {tk::id, "a"},
                                                                 {tk::eq, "="},
                                                                 {tk::string, "'x'"},
                                                                 {tk::kw_into, "INTO"},
                                                                 {tk::sys_prop, "$upstream"},
                                                                 {tk::end, ""}};
  EXPECT_EQ(t, expected);
}

TEST(RouteLexer, KeywordsAreCaseInsensitiveLiteralsAreNot) {
  EXPECT_EQ(lex("from")[0].kind, tk::kw_from);
  EXPECT_EQ(lex("FrOm")[0].kind, tk::kw_from);
  EXPECT_EQ(lex("aNd")[0].kind, tk::kw_and);
  EXPECT_EQ(lex("Not")[0].kind, tk::kw_not);
  EXPECT_EQ(lex("true")[0].kind, tk::kw_true);
  EXPECT_EQ(lex("True")[0].kind, tk::id);
  EXPECT_EQ(lex("undefined")[0].kind, tk::kw_undefined);
  EXPECT_EQ(lex("NULL")[0].kind, tk::id);
  EXPECT_EQ(lex("android")[0].kind, tk::id); // longest match beats the keyword prefix
}

TEST(RouteLexer, LongestMatchMakesOperatorCharactersPartOfNames) {
  // GrammarLexer.g4's ID allows + - * % ! | & . ' $, so without blanks these are names.
  EXPECT_EQ(tokens("a+1")[0], std::make_pair(tk::id, std::string("a+1")));
  EXPECT_EQ(tokens("1+2")[0], std::make_pair(tk::id, std::string("1+2")));
  EXPECT_EQ(tokens("-x")[0], std::make_pair(tk::id, std::string("-x")));
  EXPECT_EQ(tokens("a!=b")[0], std::make_pair(tk::id, std::string("a!")));
  EXPECT_EQ(tokens("'a'||'b'")[0], std::make_pair(tk::id, std::string("'a'||'b'")));
  // Ties go to the earlier rule: numbers and operators before ID.
  EXPECT_EQ(tokens("-5")[0], std::make_pair(tk::integer, std::string("-5")));
  EXPECT_EQ(tokens("e5")[0], std::make_pair(tk::real, std::string("e5")));
  EXPECT_EQ(tokens("*")[0].first, tk::star);
  EXPECT_EQ(tokens("||")[0].first, tk::concat);
  EXPECT_EQ(tokens("+5")[0], std::make_pair(tk::id, std::string("+5")));
}

TEST(RouteLexer, ReadsNumbers) {
  EXPECT_EQ(lex("42")[0].kind, tk::integer);
  EXPECT_EQ(lex("0x1f")[0].kind, tk::hex);
  EXPECT_EQ(lex("1.5")[0].kind, tk::real);
  EXPECT_EQ(lex(".5")[0].kind, tk::real);
  EXPECT_EQ(lex("1e-3")[0].kind, tk::real);
  EXPECT_EQ(tokens("1.5e")[0], std::make_pair(tk::id, std::string("1.5e")));
  EXPECT_EQ(tokens("3.5 ")[0], std::make_pair(tk::real, std::string("3.5")));
}

TEST(RouteLexer, ReadsStringsAndTheirEscapes) {
  EXPECT_EQ(tokens(R"('a\'b')")[0], std::make_pair(tk::string, std::string(R"('a\'b')")));
  EXPECT_EQ(tokens(R"("a\"b")")[0].first, tk::string);
  EXPECT_EQ(tokens(R"('\u00e9')")[0].first, tk::string);
  EXPECT_EQ(tokens(R"("it's")")[0].first, tk::string);
  EXPECT_EQ(tokens("'abc")[0], std::make_pair(tk::unterminated_string, std::string("'abc")));
  EXPECT_EQ(tokens(R"('a\nb')")[0], std::make_pair(tk::unterminated_string, std::string("'a")));
  EXPECT_EQ(tokens(R"('\u12')")[0].first, tk::unterminated_string);
}

TEST(RouteLexer, DropsBlanksAndComments) {
  EXPECT_EQ(tokens(" /* x */ a /**/ b\t\r\n").size(), 3u);
  // An unterminated comment is not a comment: '/' then '*'.
  EXPECT_EQ(tokens("/* a")[0].first, tk::slash);
  EXPECT_EQ(tokens("/* a")[1].first, tk::star);
  // A comment ends at the first */.
  EXPECT_EQ(tokens("/* a */ b */")[0], std::make_pair(tk::id, std::string("b")));
}

TEST(RouteLexer, ReadsPropertiesAndBodyPaths) {
  EXPECT_EQ(tokens("$body.a.b[2]")[0], std::make_pair(tk::sys_prop, std::string("$body.a.b[2]")));
  EXPECT_EQ(tokens("{$x}")[0].first, tk::lbrace);
  EXPECT_EQ(tokens("{$x}")[1], std::make_pair(tk::sys_prop, std::string("$x")));
  EXPECT_EQ(tokens("{$x}")[2].first, tk::rbrace);
  EXPECT_EQ(tokens("a[0]")[0].first, tk::query_path);
  EXPECT_EQ(tokens("$")[0].first, tk::id);
}

TEST(RouteLexer, FlagsUnknownSymbols) {
  EXPECT_EQ(tokens("@")[0].first, tk::unknown);
  EXPECT_EQ(tokens("?")[0].first, tk::unknown);
  EXPECT_EQ(tokens("??")[0].first, tk::coalesce);
}

TEST(RouteLexer, AlwaysEndsWithEnd) {
  EXPECT_EQ(lex("").size(), 1u);
  EXPECT_EQ(lex("")[0].kind, tk::end);
  EXPECT_EQ(lex("a").back().kind, tk::end);
}

} // namespace
} // namespace outpost::routing
