#include "routing/router/route_table.hpp"
#include "tests/unit/routing/test_messages.hpp"

#include <gtest/gtest.h>

namespace outpost::routing {
namespace {

route_table parse_ok(std::string_view json) {
  auto t = route_table::from_edgehub_desired(json);
  if (auto* err = std::get_if<route_error>(&t)) {
    ADD_FAILURE() << err->to_string();
    return {};
  }
  return std::get<route_table>(std::move(t));
}

route_error parse_error(std::string_view json) {
  auto t = route_table::from_edgehub_desired(json);
  if (!std::holds_alternative<route_error>(t)) {
    ADD_FAILURE() << "accepted: " << json;
    return {};
  }
  return std::get<route_error>(std::move(t));
}

const route_info* find(const route_table& t, std::string_view name) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t.route(i).name == name) {
      return &t.route(i);
    }
  }
  return nullptr;
}

TEST(EdgeHubDesired, ReadsSchema10StringRoutes) {
  const auto t = parse_ok(R"j({
    "schemaVersion": "1.0",
    "routes": {
      "all": "FROM /* INTO $upstream",
      "blank": "   ",
      "toFilter": "FROM /messages/modules/sensor/outputs/out1 INTO BrokeredEndpoint(\"/modules/filter/inputs/input1\")"
    },
    "storeAndForwardConfiguration": {"timeToLiveSecs": 7200}
  })j");
  EXPECT_EQ(t.size(), 2u); // blank routes are skipped in 1.0
  EXPECT_EQ(t.schema_version(), "1.0");
  EXPECT_EQ(t.default_ttl_secs(), 7200);
  ASSERT_NE(find(t, "toFilter"), nullptr);
  EXPECT_EQ(find(t, "toFilter")->sink, endpoint::module_input("filter", "input1"));
  EXPECT_EQ(find(t, "all")->priority, default_priority);
  EXPECT_EQ(find(t, "all")->ttl_secs, 7200);
}

TEST(EdgeHubDesired, Schema10NeedsNoStoreAndForwardSection) {
  const auto t =
      parse_ok(R"j({"schemaVersion": "1.0", "routes": {"r": "FROM /* INTO $upstream"}})j");
  EXPECT_EQ(t.default_ttl_secs(), ttl_forever);
  auto with_default = route_table::from_edgehub_desired(R"j({"schemaVersion": "1.0"})j", 60);
  ASSERT_TRUE(std::holds_alternative<route_table>(with_default));
  EXPECT_EQ(std::get<route_table>(with_default).default_ttl_secs(), 60);
  EXPECT_TRUE(std::get<route_table>(with_default).empty());
}

TEST(EdgeHubDesired, Schema10RejectsRouteObjects) {
  const auto err = parse_error(
      R"j({"schemaVersion": "1.0", "routes": {"r": {"route": "FROM /* INTO $upstream"}}})j");
  EXPECT_EQ(err.route, "r");
  EXPECT_NE(err.message.find("schemaVersion 1.1"), std::string::npos);
}

TEST(EdgeHubDesired, ReadsSchema11RouteObjectsWithPriorityAndTtl) {
  const auto t = parse_ok(R"j({
    "schemaVersion": "1.1",
    "routes": {
      "legacy": "FROM /* INTO $upstream",
      "urgent": {"route": "FROM /messages/* WHERE alert = 'yes' INTO $upstream", "priority": 0, "timeToLiveSecs": 86400},
      "bulk": {"route": "FROM /messages/* INTO $upstream", "priority": 9},
      "plain": {"route": "FROM /* INTO BrokeredEndpoint('/modules/m/inputs/i')"}
    },
    "storeAndForwardConfiguration": {"timeToLiveSecs": 3600, "storeLimits": {"maxSizeBytes": 1048576}}
  })j");
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(find(t, "urgent")->priority, 0u);
  EXPECT_EQ(find(t, "urgent")->ttl_secs, 86400);
  EXPECT_EQ(find(t, "bulk")->priority, 9u);
  EXPECT_EQ(find(t, "bulk")->ttl_secs, 3600);
  EXPECT_EQ(find(t, "plain")->priority, default_priority);
  EXPECT_EQ(find(t, "legacy")->priority, default_priority);
  EXPECT_EQ(t.max_store_size_bytes(), 1048576u);

  message m = testing::device_message();
  m.properties = {{"alert", "yes"}};
  std::vector<route_target> out;
  t.match(m, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].target, endpoint::upstream());
  EXPECT_EQ(out[0].priority, 0u);
  EXPECT_EQ(out[0].ttl_secs, 86400);
  EXPECT_EQ(out[0].route, "urgent");
}

TEST(EdgeHubDesired, AcceptsSchemas12And13AndTheirExtraSections) {
  for (const char* v : {"1.2", "1.3", "1.1.0"}) {
    const std::string json = std::string(R"j({"schemaVersion": ")j") + v + R"j(",
      "routes": {"r": "FROM /* INTO $upstream"},
      "storeAndForwardConfiguration": {"timeToLiveSecs": -1},
      "mqttBroker": {"bridges": [], "authorizations": []},
      "integrity": {"header": {}, "signature": {}}, "$version": 4})j";
    const auto t = parse_ok(json);
    EXPECT_EQ(t.size(), 1u) << v;
    EXPECT_EQ(t.default_ttl_secs(), ttl_forever) << v;
  }
}

TEST(EdgeHubDesired, AcceptsTheDesiredPropertiesWrappedOrInAManifest) {
  const auto wrapped = parse_ok(
      R"j({"properties.desired": {"schemaVersion": "1.0", "routes": {"r": "FROM /* INTO $upstream"}}})j");
  EXPECT_EQ(wrapped.size(), 1u);
  const auto manifest = parse_ok(R"j({"modulesContent": {
      "$edgeAgent": {"properties.desired": {"schemaVersion": "1.1"}},
      "$edgeHub": {"properties.desired": {"schemaVersion": "1.1", "routes": {"a": "FROM /* INTO $upstream", "b": "FROM /messages/* INTO $upstream"},
                   "storeAndForwardConfiguration": {"timeToLiveSecs": 7200}}}}})j");
  EXPECT_EQ(manifest.size(), 2u);
}

TEST(EdgeHubDesired, ObjectFormWinsOverStringFormForTheSameName) {
  const auto t = parse_ok(R"j({"schemaVersion": "1.1",
      "routes": {"r": {"route": "FROM /* INTO $upstream", "priority": 3}, "r": "FROM /messages/* INTO $upstream"},
      "storeAndForwardConfiguration": {"timeToLiveSecs": 10}})j");
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t.route(0).priority, 3u);
}

TEST(EdgeHubDesired, RejectsBadJsonAndBadShapes) {
  EXPECT_EQ(parse_error("{not json").code, errc::invalid_json);
  EXPECT_EQ(parse_error("").code, errc::invalid_json);
  EXPECT_EQ(parse_error("[1]").code, errc::invalid_config);
  EXPECT_NE(parse_error(R"j({"routes": {}})j").message.find("missing SchemaVersion"),
            std::string::npos);
  for (const char* v : {"\"2.0\"", "\"1.4\"", "\"1\"", "\"x\"", "1.5", "null"}) {
    const auto err = parse_error(std::string(R"j({"schemaVersion": )j") + v + "}");
    EXPECT_NE(err.message.find("unsupported SchemaVersion"), std::string::npos) << v;
  }
  EXPECT_NE(parse_error(R"j({"schemaVersion": "1.1", "routes": {}})j")
                .message.find("requires storeAndForwardConfiguration"),
            std::string::npos);
  EXPECT_NE(
      parse_error(
          R"j({"schemaVersion": "1.1", "storeAndForwardConfiguration": {"timeToLiveSecs": 1}})j")
          .message.find("requires routes"),
      std::string::npos);
  EXPECT_NE(parse_error(R"j({"schemaVersion": "1.0", "routes": ["FROM /* INTO $upstream"]})j")
                .message.find("routes must be an object"),
            std::string::npos);
  EXPECT_NE(
      parse_error(
          R"j({"schemaVersion": "1.0", "storeAndForwardConfiguration": {"timeToLiveSecs": "x"}})j")
          .message.find("timeToLiveSecs must be an integer"),
      std::string::npos);
  EXPECT_NE(parse_error(R"j({"schemaVersion": "1.0", "routes": {"": "FROM /* INTO $upstream"}})j")
                .message.find("empty route name"),
            std::string::npos);
}

TEST(EdgeHubDesired, RejectsBadRouteObjectsNamingTheRoute) {
  const std::string head =
      R"j({"schemaVersion": "1.1", "storeAndForwardConfiguration": {"timeToLiveSecs": 1}, "routes": {"r": )j";
  auto err = parse_error(head + R"j({"route": "FROM /* INTO $upstream", "priority": 12}}})j");
  EXPECT_EQ(err.route, "r");
  EXPECT_NE(err.message.find("invalid priority 12"), std::string::npos);
  err = parse_error(head + R"j({"route": "FROM /* INTO $upstream", "priority": -1}}})j");
  EXPECT_NE(err.message.find("invalid priority"), std::string::npos);
  err = parse_error(head + R"j({"route": "FROM /* INTO $upstream", "timeToLiveSecs": -5}}})j");
  EXPECT_NE(err.message.find("invalid timeToLiveSecs"), std::string::npos);
  // Numbers past int64's range are refused, not converted (UB, found by route_parser_fuzz);
  // an integral double inside it is an integer, as JSON.NET reads it.
  err = parse_error(head + R"j({"route": "FROM /* INTO $upstream", "priority": 1e30}}})j");
  EXPECT_NE(err.message.find("invalid priority 1e+30"), std::string::npos) << err.message;
  err = parse_error(head + R"j({"route": "FROM /* INTO $upstream", "timeToLiveSecs": -1e300}}})j");
  EXPECT_NE(err.message.find("invalid timeToLiveSecs"), std::string::npos) << err.message;
  EXPECT_EQ(
      find(parse_ok(head + R"j({"route": "FROM /* INTO $upstream", "priority": 3e0}}})j"), "r")
          ->priority,
      3u);
  err = parse_error(head + R"j({"priority": 1}}})j");
  EXPECT_NE(err.message.find("no \"route\""), std::string::npos);
  err = parse_error(head + R"j(42}})j");
  EXPECT_NE(err.message.find("malformed route specification"), std::string::npos);
  err = parse_error(head + R"j("  "}})j");
  EXPECT_NE(err.message.find("empty"), std::string::npos);
  EXPECT_EQ(err.route, "r");
}

TEST(EdgeHubDesired, ABadRouteRejectsTheWholeSectionWithItsNameAndColumn) {
  const auto err = parse_error(R"j({"schemaVersion": "1.1",
      "routes": {"good": "FROM /* INTO $upstream",
                 "alerts": "FROM /messages WHERE 30 > temperature INTO $upstream"},
      "storeAndForwardConfiguration": {"timeToLiveSecs": 7200}})j");
  EXPECT_EQ(err.route, "alerts");
  EXPECT_EQ(err.column, 27u);
  EXPECT_EQ(err.to_string().rfind("route 'alerts': column 27: expected a number on the right of "
                                  "'>', found string property 'temperature'",
                                  0),
            0u)
      << err.to_string();
  const auto sink =
      parse_error(R"j({"schemaVersion": "1.0", "routes": {"s": "FROM /* INTO $nowhere"}})j");
  EXPECT_EQ(sink.route, "s");
  EXPECT_EQ(sink.code, errc::invalid_sink);
}

} // namespace
} // namespace outpost::routing
