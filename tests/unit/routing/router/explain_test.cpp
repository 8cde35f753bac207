#include "routing/router/explain.hpp"

#include "tests/unit/routing/test_messages.hpp"

#include <gtest/gtest.h>

namespace outpost::routing {
namespace {

std::string explain_ok(std::string_view route, const message& m) {
  auto r = explain(route, m);
  if (auto* err = std::get_if<route_error>(&r)) {
    ADD_FAILURE() << err->to_string();
    return {};
  }
  return std::get<std::string>(r);
}

bool has(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Explain, ShowsEverySubExpressionItsValueAndTheEndpoint) {
  const auto m = testing::props_message();
  const auto out = explain_ok(
      "FROM /messages/* WHERE as_number(temperature) > 30 AND $body.humidity < 50 INTO "
      "BrokeredEndpoint(\"/modules/alerts/inputs/in\")",
      m);
  EXPECT_TRUE(has(out, "source /messages/modules/sensor/outputs/out1")) << out;
  EXPECT_TRUE(has(out, "/messages/* matches")) << out;
  EXPECT_TRUE(has(out, "as_number(temperature) > 30 AND $body.humidity < 50  =  false")) << out;
  EXPECT_TRUE(has(out, "    as_number(temperature) > 30  =  true")) << out;
  EXPECT_TRUE(has(out, "      as_number(temperature)  =  35")) << out;
  EXPECT_TRUE(has(out, "        temperature  =  '35'  (application property)")) << out;
  EXPECT_TRUE(has(out, "      $body.humidity  =  60  (from the body)")) << out;
  EXPECT_TRUE(has(out, "no match: the condition is false")) << out;
  EXPECT_TRUE(has(out, "module 'alerts', input 'in'")) << out;
}

TEST(Explain, SaysWhyAValueIsUndefined) {
  auto m = testing::props_message("text/plain");
  auto out = explain_ok("FROM /* WHERE $body.temperature > 30 INTO $upstream", m);
  EXPECT_TRUE(has(out, "contentType 'text/plain'")) << out;
  EXPECT_TRUE(has(out, "the condition is undefined (only true routes a message)")) << out;
  out = explain_ok("FROM /* WHERE missing = 'x' OR $body.nope = 1 INTO $upstream",
                   testing::props_message());
  EXPECT_TRUE(has(out, "missing  =  undefined  (undefined: the message has no such property)"))
      << out;
  EXPECT_TRUE(has(out, "$body.nope  =  undefined  (undefined: not in the body)")) << out;
  out = explain_ok("FROM /* WHERE $connectionDeviceId = 'dev1' INTO $upstream",
                   testing::props_message());
  EXPECT_TRUE(has(out, "'dev1'  (system property)")) << out;
  EXPECT_TRUE(has(out, "MATCH: the message goes to $upstream (endpoint id iothub)")) << out;
}

TEST(Explain, ReportsASourceMismatch) {
  const auto out =
      explain_ok("FROM /messages/modules/other/* INTO $upstream", testing::props_message());
  EXPECT_TRUE(has(out, "WHERE:     (none: true)")) << out;
  EXPECT_TRUE(has(out,
                  "no match: the message source /messages/modules/sensor/outputs/out1 is "
                  "not under /messages/modules/other/*"))
      << out;
}

TEST(Explain, ReturnsCompileErrors) {
  const auto r = explain("FROM /* WHERE temperature > 30 INTO $upstream", message{});
  ASSERT_TRUE(std::holds_alternative<route_error>(r));
  EXPECT_EQ(std::get<route_error>(r).column, 15u);
}

} // namespace
} // namespace outpost::routing
