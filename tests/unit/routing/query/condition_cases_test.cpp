// Table-driven test of route conditions: each case is a condition, a message and the expected
// value (or compile error with its column). The semantics are IoT Edge's (Routing.Core
// ConditionVisitor and builtins; iotedge-facts §5.3); routing/README.md lists the few
// deliberate differences, and the cases below that show them say so.

#include "routing/grammar/parser.hpp"
#include "routing/query/condition.hpp"
#include "tests/unit/routing/test_messages.hpp"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace outpost::routing {
namespace {

using testing::json_message;
using testing::utf16le;
using testing::utf32le;

enum class msg {
  props,     ///< app + system properties, JSON body (application/json, utf-8)
  text,      ///< the same with contentType text/plain
  shadow,    ///< app properties "$connectionDeviceId" and "$body.name" set too
  none,      ///< nothing at all
  utf16,     ///< Application/JSON, UTF-16 body {"t":5}
  utf32,     ///< application/json, utf-32 body {"t":5}
  no_enc,    ///< application/json without contentEncoding
  bad_json,  ///< application/json body that is not JSON
  array_top, ///< application/json body that is an array
};

struct condition_case {
  const char* condition;
  msg message;
  /// The value as to_display prints it, or "error@<column>: <text in message or hint>".
  const char* expected;
};

std::ostream& operator<<(std::ostream& os, const condition_case& c) {
  return os << c.condition << " -> " << c.expected;
}

message make(msg m) {
  switch (m) {
    case msg::props:
      return testing::props_message();
    case msg::text:
      return testing::props_message("text/plain");
    case msg::shadow:
      return testing::shadow_message();
    case msg::none:
      return {};
    case msg::utf16:
      return json_message(utf16le(R"({"t":5})"), "UTF-16", "Application/JSON");
    case msg::utf32:
      return json_message(utf32le(R"({"t":5})"), "utf-32");
    case msg::no_enc: {
      message m = json_message(R"({"name":"x"})");
      m.system_properties.pop_back(); // drop contentEncoding
      return m;
    }
    case msg::bad_json:
      return json_message("not json");
    case msg::array_top:
      return json_message("[1,2]");
  }
  return {};
}

const std::vector<condition_case> cases = {
    // --- literals -------------------------------------------------------------------------
    {"true", msg::none, "true"},
    {"false", msg::none, "false"},
    {"null", msg::none, "null"},
    {"undefined", msg::none, "undefined"},
    {"42", msg::none, "42"},
    {"-42", msg::none, "-42"},
    {"0x1F", msg::none, "31"},
    {"0X10", msg::none, "16"},
    {"0xFFFFFFFFFFFFFFFF", msg::none, "-1"},         // .NET long hex: two's complement
    {"0x10000000000000000", msg::none, "undefined"}, // 17 digits do not parse
    {"3.25", msg::none, "3.25"},
    {".5", msg::none, "0.5"},
    {"1e3", msg::none, "1000"},
    {"-2.5E-1", msg::none, "-0.25"},
    {"e5", msg::none, "undefined"}, // REAL beats ID on a tie; .NET cannot parse it
    {"2e2", msg::none, "200"},
    {"'single'", msg::none, "'single'"},
    {"\"double\"", msg::none, "'double'"},
    {R"('it\'s')", msg::none, R"('it\'s')"},
    {R"("say \"hi\"")", msg::none, R"('say "hi"')"},
    {R"('back\\slash')", msg::none, R"('back\\slash')"},
    {R"('\u0041\u00e9')", msg::none, "'A\xC3\xA9'"},
    {R"('\uD83D\uDE00')", msg::none, "'\xF0\x9F\x98\x80'"},
    {"'a' /* a comment */ = 'a'", msg::none, "true"},
    {"/* leading */ true /* trailing */", msg::none, "true"},
    {"TRUE", msg::props, "'upper'"}, // literals are lower case: TRUE is an app property
    {"NULL", msg::props, "undefined"},
    // --- arithmetic ------------------------------------------------------------------------
    {"1 + 2 * 3", msg::none, "7"},
    {"(1 + 2) * 3", msg::none, "9"},
    {"10 - 4 - 3", msg::none, "3"},
    {"2 * 3 % 4", msg::none, "2"},
    {"7 % 3", msg::none, "1"},
    {"-7 % 3", msg::none, "-1"},
    {"1 / 4", msg::none, "0.25"},
    {"1 / 0", msg::none, "Infinity"},
    {"0 / 0", msg::none, "undefined"}, // NaN is undefined
    {"- 5 * 2", msg::none, "-10"},
    {"-(2 + 3)", msg::none, "-5"},
    {"1 - -1", msg::none, "2"},
    {"1+2", msg::props, "undefined"}, // one name: the app property "1+2"
    {"a+1 = 'weird'", msg::props, "true"},
    {"as_number(temperature) + 1", msg::props, "36"},
    {"$body.temperature * 2", msg::props, "71"},
    {"$body.name + 1", msg::props, "undefined"},
    {"$body.missing + 1", msg::props, "undefined"},
    {"- $body.neg", msg::props, "4.5"},
    {"-$body.neg", msg::props, "undefined"}, // one name: the app property "-$body.neg"
    {"$body.humidity % 7", msg::props, "4"},
    // --- string concatenation --------------------------------------------------------------
    {"'a' || 'b'", msg::none, "'ab'"},
    {"name || '-' || status", msg::props, "'Sensor-01-Active'"},
    {"missing || 'x'", msg::props, "undefined"},
    {"$body.name || '!'", msg::props, "'thermo!'"},
    {"$body.humidity || 'x'", msg::props, "undefined"},
    {"'a'||'b'", msg::props, "undefined"}, // one name: the app property 'a'||'b'
    // --- comparisons -----------------------------------------------------------------------
    {"temperature = '35'", msg::props, "true"},
    {"temperature != '35'", msg::props, "false"},
    {"temperature <> '36'", msg::props, "true"},
    {"temperature < '4'", msg::props, "true"}, // strings compare ordinally
    {"status >= 'Active'", msg::props, "true"},
    {"status > 'active'", msg::props, "false"},
    {"3 < 4", msg::none, "true"},
    {"4 <= 4", msg::none, "true"},
    {"5 > 6", msg::none, "false"},
    {"6 >= 7", msg::none, "false"},
    {"true = true", msg::none, "true"},
    {"false < true", msg::none, "true"},
    {"null = null", msg::none, "true"},
    {"null != null", msg::none, "false"},
    {"null <= null", msg::none, "true"},
    {"undefined = undefined", msg::none, "undefined"},
    {"missing = 'x'", msg::props, "undefined"},
    {"missing != 'x'", msg::props, "undefined"},
    {"empty = ''", msg::props, "true"},
    {"$body.temperature > 35", msg::props, "true"},
    {"$body.temperature = 35.5", msg::props, "true"},
    {"$body.name = 'thermo'", msg::props, "true"},
    {"$body.active = true", msg::props, "true"},
    {"$body.nothing = null", msg::props, "true"},
    {"$body.name = 5", msg::props, "false"},
    {"$body.name != 5", msg::props, "true"},
    {"$body.name > 5", msg::props, "undefined"}, // differs from IoT Edge: no type ordering
    {"$body.missing = 1", msg::props, "undefined"},
    {"$body.nested = 1", msg::props, "undefined"},
    {"$body.tags[1] = 'b'", msg::props, "true"},
    {"$body.arr[1].v = 2", msg::props, "true"},
    {"$body.nested.level.deep = 7", msg::props, "true"},
    {"$body.tags[5] = 'x'", msg::props, "undefined"},
    {"$body.big > 1e299", msg::props, "true"},
    {"$body.str_num = 42", msg::props, "false"},
    {"$body.unicode = 'h\\u00e9llo'", msg::props, "true"},
    {"$body.$weird = 'x'", msg::props, "true"},
    {"$body.tags[2] = 'c' AND $body.name = 'thermo'", msg::props, "true"},
    {"$body.nested.level.deep = 7 AND $body.temperature > 35", msg::props, "true"},
    {"$body.arr[1].v = 2 AND $body.arr[0].v = 1 AND $body.tags[0] = 'a'", msg::props, "true"},
    // --- logic, three-valued -----------------------------------------------------------------
    {"true AND false", msg::none, "false"},
    {"true and true", msg::none, "true"},
    {"false Or true", msg::none, "true"},
    {"NOT true", msg::none, "false"},
    {"not false", msg::none, "true"},
    {"NOT NOT true", msg::none, "true"},
    {"missing = 'x' AND false", msg::props, "false"},
    {"missing = 'x' AND true", msg::props, "undefined"},
    {"missing = 'x' OR true", msg::props, "true"},
    {"missing = 'x' OR false", msg::props, "undefined"},
    {"NOT (missing = 'x')", msg::props, "undefined"},
    {"undefined AND false", msg::none, "false"},
    {"undefined OR true", msg::none, "true"},
    {"null AND true", msg::none, "null"},
    {"null OR true", msg::none, "true"},
    {"null OR null", msg::none, "null"},
    {"NOT null", msg::none, "true"},
    {"$body.active AND true", msg::props, "true"},
    {"$body.active AND $body.off", msg::props, "false"},
    {"$body.name AND true", msg::props, "undefined"},
    {"NOT $body.active", msg::props, "false"},
    {"NOT $body.name", msg::props, "undefined"},
    {"true OR false AND false", msg::none, "true"},
    {"(true OR false) AND false", msg::none, "false"},
    {"alert = 'yes' AND status = 'Active'", msg::props, "true"},
    {"alert = 'no' OR NOT (status = 'Active')", msg::props, "false"},
    // --- coalesce ---------------------------------------------------------------------------
    {"missing ?? 'default'", msg::props, "'default'"},
    {"alert ?? 'default'", msg::props, "'yes'"},
    {"$body.missing ?? 5", msg::props, "5"},
    {"$body.humidity ?? 5", msg::props, "60"},
    {"undefined ?? undefined", msg::none, "undefined"},
    {"missing ?? other ?? 'last'", msg::props, "'last'"},
    {"(missing ?? 'd') = 'd'", msg::props, "true"},
    // --- properties: app, $system, {$system}, precedence ------------------------------------
    {"$connectionDeviceId = 'dev1'", msg::props, "true"},
    {"$ConnectionDeviceID = 'dev1'", msg::props, "true"},
    {"$connectionModuleId = 'sensor'", msg::props, "true"},
    {"$outputName = 'out1'", msg::props, "true"},
    {"$contentType", msg::props, "'application/json'"},
    {"$contentEncoding", msg::props, "'utf-8'"},
    {"$messageId", msg::props, "'mid-1'"},
    {"$correlationId", msg::props, "'cid-1'"},
    {"$cid", msg::props, "'cid-1'"},
    {"$userId", msg::props, "'user1'"},
    {"$to", msg::props, "'/devices/dev1/messages/events'"},
    {"$enqueuedTime", msg::props, "'2024-01-01T00:00:00Z'"},
    {"$messageType", msg::props, "undefined"},
    {"$connectionDeviceId", msg::none, "undefined"},
    {"$custom", msg::props, "'app-dollar'"},
    {"{$custom}", msg::props, "undefined"},
    {"{$connectionDeviceId}", msg::props, "'dev1'"},
    {"$connectionDeviceId", msg::shadow, "'app-dev'"},
    {"{$connectionDeviceId}", msg::shadow, "'dev1'"},
    {"$body.name", msg::shadow, "'from-app'"},
    {"{$body.name}", msg::shadow, "'thermo'"},
    {"ALERT = 'yes'", msg::props, "true"}, // property names are case-insensitive
    {"$body", msg::props, "undefined"},
    {"$foo[0]", msg::props, "undefined"},
    // --- $body and content type/encoding -----------------------------------------------------
    {"$body.name", msg::text, "undefined"},
    {"is_defined($body.name)", msg::text, "false"},
    {"$body.t = 5", msg::utf16, "true"},
    {"$body.t = 5", msg::utf32, "true"},
    {"$body.name", msg::no_enc, "undefined"},
    {"$body.x", msg::bad_json, "undefined"},
    {"$body.x", msg::array_top, "undefined"},
    {"$Body.name", msg::props, "'thermo'"},
    {"$body.name[0]", msg::props, "undefined"},
    {"$body.nested", msg::props, "undefined"},
    // --- math builtins -----------------------------------------------------------------------
    {"abs(-3)", msg::none, "3"},
    {"ABS(-1)", msg::none, "1"},
    {"exp(0)", msg::none, "1"},
    {"power(2, 10)", msg::none, "1024"},
    {"square(3)", msg::none, "9"},
    {"ceiling(1.2)", msg::none, "2"},
    {"floor(-1.2)", msg::none, "-2"},
    {"sign(-5)", msg::none, "-1"},
    {"sign(0)", msg::none, "0"},
    {"Sign(3)", msg::none, "1"},
    {"sqrt(16)", msg::none, "4"},
    {"sqrt(-1)", msg::none, "undefined"},
    {"abs($body.neg)", msg::props, "4.5"},
    {"abs($body.name)", msg::props, "undefined"},
    // --- type builtins -----------------------------------------------------------------------
    {"as_number('12.5')", msg::none, "12.5"},
    {"as_number(' 1,000 ')", msg::none, "1000"},
    {"as_number('abc')", msg::none, "undefined"},
    {"as_number(7)", msg::none, "7"},
    {"as_number('(5)')", msg::none, "-5"},
    {"as_number('1e2')", msg::none, "100"},
    {"as_number(temperature) > 30", msg::props, "true"},
    {"as_number($body.str_num) = 42", msg::props, "true"},
    {"is_bool(true)", msg::none, "true"},
    {"is_bool($body.active)", msg::props, "true"},
    {"is_bool($body.name)", msg::props, "false"},
    {"is_bool('x')", msg::none, "false"},
    {"is_bool($body.missing)", msg::props, "undefined"},
    {"is_defined(alert)", msg::props, "true"},
    {"is_defined(missing)", msg::props, "false"},
    {"is_defined(undefined)", msg::none, "false"},
    {"is_defined(null)", msg::none, "true"},
    {"is_defined($body.nothing)", msg::props, "true"},
    {"is_defined($body.missing)", msg::props, "false"}, // IoT Edge: true (missing is null)
    {"is_defined($connectionModuleId)", msg::props, "true"},
    {"NOT is_defined($connectionModuleId)", msg::none, "true"},
    {"is_null(null)", msg::none, "true"},
    {"is_null($body.nothing)", msg::props, "true"},
    {"is_null($body.name)", msg::props, "false"},
    {"is_null(alert)", msg::props, "false"},
    {"is_null(5)", msg::none, "false"},
    {"is_number(5)", msg::none, "true"},
    {"is_number($body.humidity)", msg::props, "true"},
    {"is_number($body.name)", msg::props, "false"},
    {"is_number('5')", msg::none, "false"},
    {"is_number(1 / 0)", msg::none, "false"},
    {"is_string('x')", msg::none, "true"},
    {"is_string(alert)", msg::props, "true"},
    {"is_string(missing)", msg::props, "false"},
    {"is_string($body.name)", msg::props, "true"},
    {"is_string(5)", msg::none, "false"},
    // --- string builtins ---------------------------------------------------------------------
    {"concat('a', 'b', 'c')", msg::none, "'abc'"},
    {"concat(name, '/', status)", msg::props, "'Sensor-01/Active'"},
    {"concat('a', missing)", msg::props, "undefined"},
    {"concat($body.name, 'x')", msg::props, "'thermox'"},
    {"length('hello')", msg::none, "5"},
    {"length(name)", msg::props, "9"},
    {"length(unit)", msg::props, "2"},
    {"length('\xF0\x9F\x98\x80')", msg::none, "2"}, // UTF-16 code units, as .NET counts
    {"lower('ABC')", msg::none, "'abc'"},
    {"upper(status)", msg::props, "'ACTIVE'"},
    {"lower('\xC3\x80\xC3\x89\xC3\x8E')", msg::none, "'\xC3\xA0\xC3\xA9\xC3\xAE'"},
    {"upper('\xCE\xB1\xCE\xB2\xCE\xB3')", msg::none, "'\xCE\x91\xCE\x92\xCE\x93'"},
    {"lower('\xD0\x9F\xD0\xA0\xD0\x98')", msg::none, "'\xD0\xBF\xD1\x80\xD0\xB8'"},
    {"substring('hello', 1)", msg::none, "'ello'"},
    {"substring('hello', 1, 3)", msg::none, "'ell'"},
    {"substring('hello', 5)", msg::none, "''"},
    {"substring('hello', 6)", msg::none, "undefined"},
    {"substring('hello', 5, 0)", msg::none, "undefined"},
    {"substring('hello', 0, 6)", msg::none, "undefined"},
    {"substring('hello', 1.9)", msg::none, "'ello'"},
    {"substring('\xF0\x9F\x98\x80"
     "ab', 2)",
     msg::none, "'ab'"},
    {"index_of('hello', 'l')", msg::none, "2"},
    {"index_of('hello', 'z')", msg::none, "-1"},
    {"index_of('hello', '')", msg::none, "0"},
    {"index_of('\xC3\xA9!', '!')", msg::none, "1"},
    {"starts_with(name, 'Sensor')", msg::props, "true"},
    {"starts_with(name, 'sensor')", msg::props, "false"},
    {"ends_with(name, '01')", msg::props, "true"},
    {"contains(name, 'or-')", msg::props, "true"},
    {"contains($body.text, 'World')", msg::props, "true"},
    {"contains(missing, 'x')", msg::props, "undefined"},
    // --- type errors: column, what was expected, what was found ------------------------------
    {"temperature > 30", msg::none,
     "error@1: expected a number on the left of '>', found string property 'temperature'"},
    {"temperature > 30", msg::none, "error@1: use as_number(temperature)"},
    {"30 > temperature", msg::none,
     "error@6: expected a number on the right of '>', found string property 'temperature'"},
    {"alert AND true", msg::none,
     "error@1: expected a bool on the left of 'AND', found string property 'alert'"},
    {"true or alert", msg::none,
     "error@9: expected a bool on the right of 'or', found string property 'alert'"},
    {"NOT alert", msg::none, "error@5: expected a bool after 'NOT', found string property"},
    {"NOT alert = 'yes'", msg::none, "error@5: write NOT (alert = 'yes')"},
    {"'a' + 1", msg::none, "error@1: expected a number on the left of '+', found string 'a'"},
    {"1 || 'a'", msg::none, "error@1: expected a string on the left of '||', found number 1"},
    {"abs('x')", msg::none, "error@5: expected a number as argument 1 of abs(), found string"},
    {"abs(1, 2)", msg::none, "error@1: abs() takes 1 argument, found 2"},
    {"concat('a')", msg::none, "error@1: concat() takes at least 2 arguments, found 1"},
    {"substring('a')", msg::none, "error@1: substring() takes 2 or 3 arguments, found 1"},
    {"foo(1)", msg::none, "error@1: unknown function 'foo'"},
    {"as_number(true)", msg::none,
     "error@11: expected a string or a number as argument 1 of as_number(), found bool true"},
    {"- 'a'", msg::none, "error@3: expected a number after '-', found string 'a'"},
    {"alert = null", msg::none, "error@9: expected a string on the right of '=', found null"},
    {"alert = undefined", msg::none, "error@9: use is_defined"},
    {"1 = '1'", msg::none, "error@5: expected a number on the right of '=', found string '1'"},
    {"true = 1", msg::none, "error@8: expected a bool on the right of '=', found number 1"},
    {"missing ?? 'd' = 'd'", msg::none,
     "error@12: expected a string on the right of '?"
     "?', found bool"},
    {"a+1 > 2", msg::none, "error@1: 'a+1' is read as one property name"},
    {"$foo[0] = 'x'", msg::none, "error@11: expected undefined on the right of '='"},
    {"undefined ?? 'x'", msg::none,
     "error@14: expected undefined on the right of '?"
     "?'"},
    {"NOT undefined", msg::none, "error@5: expected a bool after 'NOT', found undefined"},
    {"$body.a..b = 1", msg::none, "error@1: invalid $body query '$body.a..b'"},
    {"$body. = 1", msg::none, "error@1: the $body path is empty"},
    {"$body.a[x] = 1", msg::none, "error@1: invalid $body query"},
    {"$body.a[0][1] = 1", msg::none, "error@1: one [index] per member"},
    {"$body.0 = 1", msg::none, "error@1: member name '0' is a number"},
    {"twin_change_includes(properties.reported.x)", msg::none,
     "error@1: only valid in routes FROM /twinChangeNotifications"},
    // --- syntax errors -----------------------------------------------------------------------
    {"", msg::none, "error@1: expected an expression, found end of route"},
    {"(true", msg::none, "error@6: expected ')' to close the '(' at column 1"},
    {"true)", msg::none, "error@5: expected an operator or the end of the condition, found ')'"},
    {"'abc", msg::none, "error@1: unterminated string"},
    {R"('a\nb')", msg::none, R"(error@3: invalid escape '\n' in a string)"},
    {"@", msg::none, "error@1: invalid symbol '@'"},
    {"a @ b", msg::none, "error@3: found '@'"},
    {"1 2", msg::none, "error@3: expected an operator or the end of the condition, found '2'"},
    {"a[0] = 1", msg::none, "error@1: 'a[0]' is not a valid name"},
    {"{connectionDeviceId}", msg::none, "error@2: expected a $property after '{'"},
    {"AND true", msg::none, "error@1: expected an expression, found 'AND'"},
    {"true AND", msg::none, "error@9: expected an expression after 'AND', found end of route"},
    {"f(1,", msg::none, "error@5: expected an expression, found end of route"},
    {"true AND from", msg::none, "error@10: expected an expression, found 'from'"},
    {"true /* unterminated comment", msg::none, "error@7: expected an expression, found '*'"},
};

class ConditionCases : public ::testing::TestWithParam<condition_case> {};

TEST_P(ConditionCases, EvaluatesLikeIotEdge) {
  const condition_case& c = GetParam();
  const std::string expected = c.expected;
  auto parsed = parse_condition(c.condition);
  std::variant<condition, route_error> compiled = route_error{};
  if (auto* ast = std::get_if<condition_ast>(&parsed)) {
    compiled = condition::compile(c.condition, *ast);
  } else {
    compiled = std::get<route_error>(parsed);
  }
  if (expected.rfind("error@", 0) == 0) {
    const auto colon = expected.find(':');
    const std::size_t column = std::stoul(expected.substr(6, colon - 6));
    const std::string text = expected.substr(colon + 2);
    ASSERT_TRUE(std::holds_alternative<route_error>(compiled)) << "compiled, expected an error";
    const auto& err = std::get<route_error>(compiled);
    EXPECT_EQ(err.column, column) << err.to_string();
    EXPECT_NE(err.to_string().find(text), std::string::npos) << err.to_string();
    return;
  }
  ASSERT_TRUE(std::holds_alternative<condition>(compiled))
      << std::get<route_error>(compiled).to_string();
  const auto& cond = std::get<condition>(compiled);
  const message m = make(c.message);
  evaluation_scratch scratch;
  eval_context ctx(m, scratch);
  EXPECT_EQ(to_display(cond.evaluate(ctx)), expected);
  // The trace evaluates without short-circuits and must agree.
  eval_context ctx2(m, scratch);
  std::vector<trace_entry> trace;
  EXPECT_EQ(to_display(cond.trace(ctx2, trace)), expected);
  ASSERT_FALSE(trace.empty());
  EXPECT_EQ(trace.front().depth, 0u);
}

INSTANTIATE_TEST_SUITE_P(Table, ConditionCases, ::testing::ValuesIn(cases));

TEST(ConditionCasesTable, HasAtLeast150Cases) {
  EXPECT_GE(cases.size(), 150u);
}

} // namespace
} // namespace outpost::routing
