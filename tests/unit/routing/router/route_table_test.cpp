#include "routing/router/route_table.hpp"

#include "routing/router/message_source.hpp"
#include "tests/unit/routing/test_messages.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace outpost::routing {
namespace {

using testing::device_message;
using testing::module_message;
using testing::twin_change_message;

route_table table(std::vector<std::pair<std::string, route_spec>> routes, std::int64_t ttl = 7200) {
  auto t = route_table::compile(routes, ttl);
  if (auto* err = std::get_if<route_error>(&t)) {
    ADD_FAILURE() << err->to_string();
    return {};
  }
  return std::get<route_table>(std::move(t));
}

std::vector<route_target> match(const route_table& t, const message& m) {
  std::vector<route_target> out;
  t.match(m, out);
  return out;
}

bool routes(std::string_view source, const message& m) {
  const auto t = table({{"r", {"FROM " + std::string(source) + " INTO $upstream"}}});
  return !match(t, m).empty();
}

TEST(MessageSource, IsComputedAsIotEdgeDoes) {
  EXPECT_EQ(source_of(device_message()).to_string(), "/messages");
  EXPECT_EQ(source_of(module_message("filter", "out1")).to_string(),
            "/messages/modules/filter/outputs/out1");
  EXPECT_EQ(source_of(module_message("filter", "")).to_string(), "/messages/modules/filter");
  EXPECT_EQ(source_of(twin_change_message("{}")).to_string(), "/twinChangeNotifications");
}

TEST(RouteSources, MatchAsCaseInsensitivePrefixes) {
  const auto leaf = device_message();
  const auto out1 = module_message("sensor", "out1");
  const auto no_output = module_message("sensor", "");
  const auto other = module_message("sensor2", "out1");
  const auto twin = twin_change_message("{}");
  struct row {
    const char* source;
    bool leaf, out1, no_output, other, twin;
  };
  const row rows[] = {
      {"/*", true, true, true, true, true},
      {"/messages/*", true, true, true, true, false},
      {"/messages", true, true, true, true, false},
      {"/messages/modules/*", false, true, true, true, false},
      {"/messages/modules/sensor/*", false, true, true, false, false},
      {"/messages/modules/sensor", false, true, true, false, false},
      {"/MESSAGES/Modules/SENSOR/*", false, true, true, false, false},
      {"/messages/modules/sensor/outputs/*", false, true, false, false, false},
      {"/messages/modules/sensor/outputs/out1", false, true, false, false, false},
      {"/messages/modules/sensor/outputs/OUT1", false, true, false, false, false},
      {"/messages/modules/sensor/outputs/out2", false, false, false, false, false},
      {"/twinChangeNotifications", false, false, false, false, true},
      {"/TwinChangeNotifications", false, false, false, false, true},
      {"/mess*", false, false, false, false, false},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(routes(r.source, leaf), r.leaf) << r.source << " leaf";
    EXPECT_EQ(routes(r.source, out1), r.out1) << r.source << " sensor/out1";
    EXPECT_EQ(routes(r.source, no_output), r.no_output) << r.source << " sensor (no output)";
    EXPECT_EQ(routes(r.source, other), r.other) << r.source << " sensor2/out1";
    EXPECT_EQ(routes(r.source, twin), r.twin) << r.source << " twin change";
  }
}

TEST(RouteTable, LeafOnlyIdiomRoutesDevicesButNotModules) {
  const auto t = table({{"leaf",
                         {"FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) "
                          "INTO $upstream"}}});
  EXPECT_EQ(match(t, device_message()).size(), 1u);
  EXPECT_TRUE(match(t, module_message("m", "o")).empty());
}

TEST(RouteTable, RoutesOnAppPropertyBodyAndModuleId) {
  const auto t = table({
      {"hot", {"FROM /messages/* WHERE $body.temperature > 30 INTO $upstream"}},
      {"alerts",
       {R"(FROM /messages/* WHERE alert = 'yes' INTO BrokeredEndpoint("/modules/a/inputs/in"))"}},
      {"fromSensor",
       {R"(FROM /* WHERE $connectionModuleId = 'sensor' INTO BrokeredEndpoint("/modules/s/inputs/in"))"}},
  });
  message m = testing::props_message();
  auto out = match(t, m);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].target, endpoint::upstream());
  EXPECT_EQ(out[0].route, "hot");
  EXPECT_EQ(out[1].target, endpoint::module_input("a", "in"));
  EXPECT_EQ(out[2].target, endpoint::module_input("s", "in"));
  m.properties.clear();
  m.set(system_property::connection_module_id, "other");
  m.body = R"({"temperature": 20})";
  EXPECT_TRUE(match(t, m).empty());
}

TEST(RouteTable, KeepsOneTargetPerEndpointWithTheHighestPriorityAndItsTtl) {
  const auto t = table({
      {"low", {"FROM /* INTO $upstream", 5, 100}},
      {"high", {"FROM /* INTO $upstream", 1, 50}},
      {"default", {"FROM /* INTO $upstream"}},
      {"same", {"FROM /* INTO $upstream", 1, 10}}, // equal priority: the first one stays
      {"module", {R"(FROM /* INTO BrokeredEndpoint("/modules/m/inputs/i"))", 3, 0}},
  });
  const auto out = match(t, device_message());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].target, endpoint::upstream());
  EXPECT_EQ(out[0].priority, 1u);
  EXPECT_EQ(out[0].ttl_secs, 50);
  EXPECT_EQ(out[0].route, "high");
  EXPECT_EQ(out[1].target, endpoint::module_input("m", "i"));
  EXPECT_EQ(out[1].priority, 3u);
  EXPECT_EQ(out[1].ttl_secs, 7200); // 0 inherits the table's TTL
}

TEST(RouteTable, DefaultPriorityLosesToAnyExplicitOne) {
  const auto t =
      table({{"a", {"FROM /* INTO $upstream"}}, {"b", {"FROM /* INTO $upstream", 9, 5}}});
  const auto out = match(t, device_message());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].priority, 9u);
  EXPECT_EQ(out[0].route, "b");
}

TEST(RouteTable, OnlyMatchingRoutesDecideThePriority) {
  const auto t = table({{"hi", {"FROM /* WHERE false INTO $upstream", 0, 1}},
                        {"lo", {"FROM /* INTO $upstream", 8, 2}}});
  const auto out = match(t, device_message());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].priority, 8u);
}

TEST(RouteTable, NegativeTtlMeansForever) {
  const auto t = table({{"a", {"FROM /* INTO $upstream"}}}, -5);
  EXPECT_EQ(match(t, device_message())[0].ttl_secs, ttl_forever);
  EXPECT_EQ(t.default_ttl_secs(), ttl_forever);
  EXPECT_EQ(t.route(0).ttl_secs, ttl_forever);
}

TEST(RouteTable, OverwritesAndReusesTheOutputVector) {
  const auto t = table({{"a", {"FROM /* WHERE x = '1' INTO $upstream"}}});
  std::vector<route_target> out(3);
  message m = device_message();
  m.properties = {{"x", "1"}};
  t.match(m, out);
  EXPECT_EQ(out.size(), 1u);
  m.properties = {{"x", "2"}};
  t.match(m, out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(match(route_table{}, m).empty());
}

TEST(RouteTable, RejectsBadRoutesNamingThem) {
  auto bad = [](std::vector<std::pair<std::string, route_spec>> routes) {
    auto t = route_table::compile(routes, 0);
    EXPECT_TRUE(std::holds_alternative<route_error>(t));
    return std::holds_alternative<route_error>(t) ? std::get<route_error>(t) : route_error{};
  };
  auto err = bad({{"ok", {"FROM /* INTO $upstream"}},
                  {"alerts", {"FROM /messages WHERE 30 > temperature INTO $upstream"}}});
  EXPECT_EQ(err.route, "alerts");
  EXPECT_EQ(err.column, 27u);
  EXPECT_EQ(err.code, errc::type_error);
  EXPECT_EQ(err.to_string().rfind("route 'alerts': column 27: expected a number on the right of "
                                  "'>', found string property 'temperature'",
                                  0),
            0u)
      << err.to_string();
  err = bad({{"p", {"FROM /* INTO $upstream", 10, 0}}});
  EXPECT_EQ(err.route, "p");
  EXPECT_NE(err.message.find("priority 10"), std::string::npos);
  EXPECT_EQ(bad({{"d", {"FROM /* INTO $upstream"}}, {"d", {"FROM /* INTO $upstream"}}}).code,
            errc::duplicate_route);
  EXPECT_EQ(bad({{" ", {"FROM /* INTO $upstream"}}}).code, errc::invalid_config);
}

TEST(RouteTable, TwinChangeIncludesWorksOnTwinChangeRoutes) {
  const auto t = table({
      {"q",
       {"FROM /twinChangeNotifications WHERE twin_change_includes(properties.reported.wx) "
        "INTO $upstream"}},
      {"quoted",
       {R"(FROM /twinChangeNotifications WHERE twin_change_includes('properties.reported.wx.t') INTO BrokeredEndpoint("/modules/m/inputs/i"))"}},
  });
  auto out = match(t, twin_change_message(R"({"properties":{"reported":{"wx":{"t":1}}}})"));
  EXPECT_EQ(out.size(), 2u);
  out = match(t, twin_change_message(R"({"properties":{"reported":{"other":1}}})"));
  EXPECT_TRUE(out.empty());
  out = match(t, twin_change_message(R"({"properties":{"reported":{"wx":null}}})"));
  EXPECT_TRUE(out.empty());
  auto err = route_table::compile(
      {{"t", {"FROM /twinChangeNotifications WHERE twin_change_includes(foo.bar) INTO $upstream"}}},
      0);
  ASSERT_TRUE(std::holds_alternative<route_error>(err));
  EXPECT_EQ(std::get<route_error>(err).code, errc::invalid_argument);
  err = route_table::compile(
      {{"t",
        {"FROM /messages/* WHERE twin_change_includes(properties.reported.x) INTO $upstream"}}},
      0);
  ASSERT_TRUE(std::holds_alternative<route_error>(err));
  EXPECT_EQ(std::get<route_error>(err).code, errc::unknown_function);
}

TEST(RouteTable, ParsesTheBodyOncePerMessageForAllRoutes) {
  std::vector<std::pair<std::string, route_spec>> routes;
  for (int i = 0; i < 20; ++i) {
    routes.push_back(
        {"r" + std::to_string(i),
         {"FROM /* WHERE $body.v = " + std::to_string(i) + " INTO BrokeredEndpoint(\"/modules/m"
          + std::to_string(i) + "/inputs/i\")"}});
  }
  const auto t = table(routes);
  const auto out = match(t, testing::json_message(R"({"v": 7})"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].target.module, "m7");
}

TEST(RouteTable, MalformedJsonMakesTheBodyUnusableForLaterPathsToo) {
  // Fuzz crash: after simdjson abandons a malformed document, later paths must not use it.
  const auto t = table({{"a", {"FROM /* WHERE $body.temperature > 30 INTO $upstream"}},
                        {"b",
                         {"FROM /* WHERE $body.a.b[1] = 'x' OR is_defined({$body.c}) INTO "
                          "BrokeredEndpoint(\"/modules/m/inputs/i\")"}}});
  for (const char* body : {"{$0", "{\"temperature\": 35, \"a\": [", "{\"a\": {\"b\": [1, }"}) {
    EXPECT_LE(match(t, testing::json_message(body)).size(), 2u) << body;
  }
  // Truncated or unbalanced bodies are unusable, as in IoT Edge; a grammar error after the
  // value read is not seen (simdjson reads lazily), where IoT Edge rejects the whole body.
  EXPECT_TRUE(match(t, testing::json_message("{\"temperature\": 35, \"x\": [")).empty());
  EXPECT_TRUE(match(t, testing::json_message("{\"temperature\": 35} trailing")).empty());
  EXPECT_EQ(match(t, testing::json_message("{\"temperature\": 35, \"x\": 1 2}")).size(), 1u);
}

TEST(RouteTable, IsSharedAndUsableFromManyThreads) {
  const auto t = table({{"hot", {"FROM /* WHERE $body.t > 10 AND lower(k) = 'v' INTO $upstream"}}});
  const route_table copy = t; // cheap: shares the compiled routes
  EXPECT_EQ(copy.size(), 1u);
  message m = testing::json_message(R"({"t": 11})");
  m.properties = {{"k", "V"}};
  std::vector<std::thread> threads;
  std::atomic<int> hits{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      std::vector<route_target> out;
      for (int k = 0; k < 1000; ++k) {
        copy.match(m, out);
        hits += static_cast<int>(out.size());
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(hits.load(), 4000);
}

TEST(RouteTable, DescribesItsRoutes) {
  const auto t = table(
      {{"r",
        {R"(FROM /messages/modules/f/* INTO BrokeredEndpoint("/modules/m/inputs/i"))", 2, 60}}});
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t.route(0).name, "r");
  EXPECT_EQ(t.route(0).source, "/messages/modules/f/");
  EXPECT_EQ(t.route(0).sink, endpoint::module_input("m", "i"));
  EXPECT_EQ(t.route(0).priority, 2u);
  EXPECT_EQ(t.route(0).ttl_secs, 60);
}

} // namespace
} // namespace outpost::routing
