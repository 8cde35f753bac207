#include "routing/grammar/parser.hpp"

#include <gtest/gtest.h>

#include <string>

namespace outpost::routing {
namespace {

route_ast parse_ok(std::string_view text) {
  auto r = parse_route(text);
  if (auto* err = std::get_if<route_error>(&r)) {
    ADD_FAILURE() << text << ": " << err->to_string();
    return {};
  }
  return std::get<route_ast>(std::move(r));
}

route_error parse_error(std::string_view text) {
  auto r = parse_route(text);
  if (!std::holds_alternative<route_error>(r)) {
    ADD_FAILURE() << text << ": parsed, expected an error";
    return {};
  }
  return std::get<route_error>(std::move(r));
}

TEST(RouteParser, ParsesTheRouteParts) {
  const auto r = parse_ok("FROM /messages/modules/filter/outputs/* WHERE a = 'b' INTO $upstream");
  EXPECT_EQ(r.source, "/messages/modules/filter/outputs/*");
  ASSERT_TRUE(r.condition);
  EXPECT_EQ(r.sink, endpoint::upstream());
  const auto& root = r.condition->at(r.condition->root);
  EXPECT_EQ(root.kind, expr_kind::binary);
  EXPECT_EQ(root.op, binary_op::eq);
}

TEST(RouteParser, AcceptsSelectStarAndAnyKeywordCase) {
  const auto r = parse_ok("select * from /* where true into $Upstream");
  EXPECT_EQ(r.source, "/*");
  EXPECT_TRUE(r.condition);
  EXPECT_EQ(r.sink.what, endpoint::kind::upstream);
}

TEST(RouteParser, RouteWithoutWhereHasNoCondition) {
  const auto r = parse_ok("FROM /* INTO $upstream");
  EXPECT_FALSE(r.condition);
}

TEST(RouteParser, ReadsBrokeredEndpointsInEitherQuoteStyle) {
  for (const char* text : {R"(FROM /* INTO BrokeredEndpoint("/modules/m1/inputs/in1"))",
                           R"(FROM /* INTO brokeredendpoint('/modules/m1/inputs/in1'))",
                           R"(FROM /* INTO BROKEREDENDPOINT("modules/m1/inputs/in1/"))",
                           R"(FROM /* INTO BrokeredEndpoint(" /Modules/m1/Inputs/in1 "))"}) {
    const auto r = parse_ok(text);
    EXPECT_EQ(r.sink, endpoint::module_input("m1", "in1")) << text;
  }
}

TEST(RouteParser, ReadsNamedEndpoints) {
  const auto r = parse_ok(R"(FROM /messages/* INTO Endpoint("bus"))");
  EXPECT_EQ(r.sink, endpoint::named("bus"));
  EXPECT_EQ(r.sink.id("edge1"), "endpoint/bus");
  EXPECT_EQ(r.sink.to_route_text(), R"(Endpoint("bus"))");
  EXPECT_EQ(parse_ok("FROM /* INTO endpoint('site.bus_2-a')").sink,
            endpoint::named("site.bus_2-a"));
  for (const char* bad :
       {R"(FROM /* INTO Endpoint("/modules/m/inputs/i"))", R"(FROM /* INTO Endpoint(""))",
        R"(FROM /* INTO Endpoint("a b"))", R"(FROM /* INTO Endpoint(bus))"}) {
    const auto err = parse_error(bad);
    EXPECT_EQ(err.code, errc::invalid_sink) << bad;
    EXPECT_EQ(err.column, 23u) << bad;
  }
  EXPECT_EQ(parse_error(R"(FROM /* INTO Endpoint("bus")").code, errc::syntax_error);
  EXPECT_EQ(parse_error("FROM /* INTO Endpoint(\"" + std::string(65, 'a') + "\")").code,
            errc::invalid_sink);
}

TEST(RouteParser, RejectsBadSinks) {
  EXPECT_NE(parse_error("FROM /* INTO $downstream").message.find("unknown system endpoint"),
            std::string::npos);
  EXPECT_EQ(parse_error("FROM /* INTO $downstream").code, errc::invalid_sink);
  EXPECT_EQ(parse_error("FROM /* INTO $downstream").column, 14u);
  EXPECT_NE(parse_error(R"(FROM /* INTO Endpoints("bus"))")
                .message.find("unknown endpoint function 'Endpoints'"),
            std::string::npos);
  for (const char* bad : {R"(FROM /* INTO BrokeredEndpoint("/modules/m/i"))",
                          R"(FROM /* INTO BrokeredEndpoint("/modules//inputs/i"))",
                          R"(FROM /* INTO BrokeredEndpoint("/module/m/inputs/i"))",
                          R"(FROM /* INTO BrokeredEndpoint("/modules/m/inputs/i/x"))"}) {
    const auto err = parse_error(bad);
    EXPECT_EQ(err.code, errc::invalid_sink) << bad;
    EXPECT_EQ(err.column, 31u) << bad;
    EXPECT_NE(err.message.find("/modules/<module>/inputs/<input>"), std::string::npos) << bad;
  }
  EXPECT_EQ(parse_error("FROM /* INTO BrokeredEndpoint(5)").code, errc::invalid_sink);
  EXPECT_EQ(parse_error("FROM /* INTO upstream").code, errc::invalid_sink);
  EXPECT_NE(parse_error("FROM /* INTO").message.find("found end of route"), std::string::npos);
}

TEST(RouteParser, RejectsAnythingAfterTheSink) {
  const auto err = parse_error("FROM /* INTO $upstream WHERE a = 'b'");
  EXPECT_EQ(err.column, 24u);
  EXPECT_NE(err.to_string().find("WHERE must come before INTO"), std::string::npos);
}

TEST(RouteParser, ReportsMissingParts) {
  EXPECT_NE(parse_error("").message.find("empty route"), std::string::npos);
  EXPECT_NE(parse_error("   ").message.find("empty route"), std::string::npos);
  EXPECT_NE(parse_error("/* INTO $upstream").message.find("expected FROM"), std::string::npos);
  EXPECT_NE(parse_error("SELECT FROM /* INTO $upstream").message.find("'*' after SELECT"),
            std::string::npos);
  auto err = parse_error("FROM messages INTO $upstream");
  EXPECT_EQ(err.code, errc::invalid_source);
  EXPECT_EQ(err.column, 6u);
  EXPECT_NE(parse_error("FROM /messages/ INTO $upstream").message.find("after '/'"),
            std::string::npos);
  EXPECT_NE(parse_error("FROM /* WHERE INTO $upstream").message.find("expected an expression"),
            std::string::npos);
  EXPECT_NE(parse_error("FROM /* WHERE a = 'b' $upstream").message.find("operator or INTO"),
            std::string::npos);
  EXPECT_NE(parse_error("FROM /* true INTO $upstream").message.find("WHERE or INTO"),
            std::string::npos);
}

TEST(RouteParser, CommentsCanSwallowPartsOfARouteAsInIotEdge) {
  // The '/*' of the source starts a comment when a '*/' follows anywhere later.
  const auto err = parse_error("FROM /messages/* WHERE /* c */ true INTO $upstream");
  EXPECT_NE(err.message.find("found 'true'"), std::string::npos) << err.to_string();
  // Without a later '*/' it is the source '/*'.
  EXPECT_EQ(parse_ok("FROM /* WHERE true INTO $upstream").source, "/*");
}

TEST(RouteParser, NotAndUnaryMinusBindTighterThanBinaryOperators) {
  auto c = parse_condition("NOT a = b");
  ASSERT_TRUE(std::holds_alternative<condition_ast>(c));
  const auto& ast = std::get<condition_ast>(c);
  EXPECT_EQ(ast.at(ast.root).kind, expr_kind::binary);
  EXPECT_EQ(ast.at(ast.at(ast.root).lhs).kind, expr_kind::logical_not);
}

TEST(RouteParser, BinaryOperatorsFollowIotHubPrecedence) {
  // ?? < OR < AND < equality < comparison < additive < multiplicative.
  auto c = parse_condition("a ?? b OR c AND d = e < f + g * h");
  ASSERT_TRUE(std::holds_alternative<condition_ast>(c));
  const auto& ast = std::get<condition_ast>(c);
  const binary_op chain[] = {binary_op::coalesce, binary_op::logical_or, binary_op::logical_and,
                             binary_op::eq,       binary_op::lt,         binary_op::add,
                             binary_op::mul};
  std::uint32_t i = ast.root;
  for (const auto op : chain) {
    ASSERT_EQ(ast.at(i).kind, expr_kind::binary);
    EXPECT_EQ(ast.at(i).op, op);
    i = ast.at(i).rhs;
  }
}

TEST(RouteParser, BinaryOperatorsAreLeftAssociative) {
  auto c = parse_condition("a - b - c");
  const auto& ast = std::get<condition_ast>(c);
  EXPECT_EQ(ast.at(ast.at(ast.root).lhs).kind, expr_kind::binary);
}

TEST(RouteParser, LimitsNesting) {
  std::string deep(150, '(');
  deep += "true";
  deep += std::string(150, ')');
  auto c = parse_condition(deep);
  ASSERT_TRUE(std::holds_alternative<route_error>(c));
  EXPECT_EQ(std::get<route_error>(c).code, errc::too_complex);
  std::string chain = "a";
  for (int i = 0; i < 300; ++i) {
    chain += " AND a";
  }
  c = parse_condition(chain);
  ASSERT_TRUE(std::holds_alternative<route_error>(c));
  EXPECT_EQ(std::get<route_error>(c).code, errc::too_complex);
  EXPECT_EQ(std::get<route_error>(parse_route(std::string(max_route_length + 1, ' '))).code,
            errc::too_complex);
}

TEST(RouteParser, ColumnsCountCharactersNotBytes) {
  const auto err = parse_error("FROM /* WHERE '\xC3\xA9\xC3\xA9' = @ INTO $upstream");
  EXPECT_EQ(err.column, 22u);
}

TEST(RouteError, FormatsWithRouteColumnAndHint) {
  route_error e{"alerts", 27, "expected a number", errc::type_error, "use as_number(x)"};
  EXPECT_EQ(e.to_string(), "route 'alerts': column 27: expected a number; hint: use as_number(x)");
  e.hint.clear();
  e.column = 0;
  EXPECT_EQ(e.to_string(), "route 'alerts': expected a number");
  e.route.clear();
  EXPECT_EQ(e.to_string(), "expected a number");
  EXPECT_EQ(e.error_code(), make_error_code(errc::type_error));
  EXPECT_EQ(e.error_code().category().name(), std::string("outpost.routing"));
  EXPECT_FALSE(e.error_code().message().empty());
}

TEST(Endpoint, HasIotEdgeIds) {
  EXPECT_EQ(endpoint::upstream().id("edge1"), "iothub");
  EXPECT_EQ(endpoint::module_input("filter", "input1").id("edge1"), "edge1/filter/input1");
  EXPECT_EQ(endpoint::module_input("m", "i").to_route_text(),
            R"(BrokeredEndpoint("/modules/m/inputs/i"))");
  EXPECT_EQ(endpoint::upstream().to_route_text(), "$upstream");
}

} // namespace
} // namespace outpost::routing
