#include "protocols/iothub/topics.hpp"

#include "protocols/iothub/detail/text.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace outpost::iothub {
namespace {

using routing::message;
using routing::system_property;
using props = std::vector<std::pair<std::string, std::string>>;

const client_identity dev1{"dev1", ""};
const client_identity mod_a{"edge1", "modA"};

std::string sys(const message& m, system_property p) {
  return std::string{m.get(p).value_or("<unset>")};
}

result<inbound_topic> parse(std::string_view topic, const client_identity& who, message& into) {
  return parse_publish_topic(topic, who, into);
}

result<inbound_topic> parse(std::string_view topic, const client_identity& who) {
  message ignored;
  return parse_publish_topic(topic, who, ignored);
}

TEST(IothubPublishTopic, ParsesTheCapturedDeviceTelemetry) {
  // azure-sdk-wire.md §2.3 / appendix A.
  message m;
  auto t = parse(
      "devices/dev1/messages/events/%24.mid=mid-1&%24.cid=cid-1&%24.uid=user-1&%24.to=%2Fsome%2Fto"
      "&%24.ct=application%2Fjson&%24.ce=utf-8&%24.exp=2026-11-26T13%3A58%3A07.899Z&prop1=value%"
      "201&"
      "weird%2Fkey%26%3D=v%3Da%26b%2Fc&%24.sub=comp1",
      dev1, m);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, inbound_kind::telemetry);
  EXPECT_EQ(t->target, dev1);
  EXPECT_EQ(sys(m, system_property::message_id), "mid-1");
  EXPECT_EQ(sys(m, system_property::absolute_expiry_time), "2026-11-26T13:58:07.899Z");
  EXPECT_EQ(sys(m, system_property::component_name), "comp1");
  EXPECT_EQ(sys(m, system_property::connection_device_id), "dev1");
  EXPECT_FALSE(m.get(system_property::connection_module_id));
  EXPECT_EQ(m.properties, (props{{"prop1", "value 1"}, {"weird/key&=", "v=a&b/c"}}));
}

TEST(IothubPublishTopic, ParsesTelemetryWithAndWithoutBagOrTrailingSlash) {
  for (const char* topic : {"devices/dev1/messages/events/", "devices/dev1/messages/events",
                            "devices/dev1/messages/events//", "devices/dev1/messages/events/k=v",
                            "devices/dev1/messages/events/k=v/"}) {
    message m;
    m.body = "plain body";
    auto t = parse(topic, dev1, m);
    ASSERT_TRUE(t) << topic;
    EXPECT_EQ(t->kind, inbound_kind::telemetry) << topic;
    EXPECT_EQ(sys(m, system_property::connection_device_id), "dev1") << topic;
    EXPECT_EQ(m.body, "plain body") << topic;
  }
}

TEST(IothubPublishTopic, ParsesTheCapturedModuleOutputs) {
  message m;
  auto t = parse("devices/edge1/modules/modA/messages/events/%24.on=out1&%24.mid=mod-mid-1&k=v/",
                 mod_a, m);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, inbound_kind::telemetry);
  EXPECT_EQ(t->target, mod_a);
  EXPECT_EQ(sys(m, system_property::output_name), "out1");
  EXPECT_EQ(sys(m, system_property::message_id), "mod-mid-1");
  EXPECT_EQ(sys(m, system_property::connection_device_id), "edge1");
  EXPECT_EQ(sys(m, system_property::connection_module_id), "modA");
  EXPECT_EQ(m.properties, (props{{"k", "v"}}));

  message only_output;
  ASSERT_TRUE(parse("devices/edge1/modules/modA/messages/events/%24.on=out1/", mod_a, only_output));
  EXPECT_EQ(sys(only_output, system_property::output_name), "out1");
  EXPECT_TRUE(parse("devices/edge1/modules/modA/messages/events/", mod_a));
  EXPECT_TRUE(parse("devices/edge1/modules/modA/messages/events", mod_a));
}

TEST(IothubPublishTopic, StampsTheSenderFromTheAuthenticatedIdentity) {
  message m;
  ASSERT_TRUE(parse("devices/edge1/modules/modA/messages/events/%24.cdid=x&%24.cmid=y", mod_a, m));
  EXPECT_EQ(sys(m, system_property::connection_device_id), "edge1");
  EXPECT_EQ(sys(m, system_property::connection_module_id), "modA");
}

TEST(IothubPublishTopic, RefusesTopicsNamingAnotherIdentity) {
  const std::pair<const char*, client_identity> cases[] = {
      {"devices/dev2/messages/events/", dev1},
      {"devices/DEV1/messages/events/", dev1},
      {"devices/edge1/messages/events/", mod_a},
      {"devices/edge1/modules/modB/messages/events/", mod_a},
      {"devices/edge2/modules/modA/messages/events/", mod_a},
      {"devices/edge1/modules/modA/messages/events/", client_identity{"edge1", ""}},
      {"devices//messages/events/", dev1},
  };
  for (const auto& [topic, who] : cases) {
    message m;
    auto t = parse(topic, who, m);
    ASSERT_FALSE(t) << topic;
    EXPECT_EQ(t.error(), errc::client_id_mismatch) << topic;
    EXPECT_TRUE(m.system_properties.empty()) << topic;
  }
}

TEST(IothubPublishTopic, RefusesUnmatchedTopics) {
  for (const char* topic :
       {"", "devices", "devices/dev1/messages/events/a=1/b=2", "devices/dev1/messages/events/a/b/",
        "devices/dev1/messages/event", "devices/dev1/messages",
        "devices/dev1/messages/events/a=1///", "xdevices/dev1/messages/events/",
        "/devices/dev1/messages/events/", "Devices/dev1/messages/events/",
        "devices/dev1/modules/modA/messages/events/a/b", "devices/dev1/modules/modA/messages",
        "devices/dev1/messages/devicebound/", "devices/edge1/modules/modA/inputs/input1/",
        "$iothub/methods/res", "$iothub/methods/POST/x/?$rid=1", "$iothub/whatever"}) {
    auto t = parse(topic, dev1);
    ASSERT_FALSE(t) << topic;
    EXPECT_EQ(t.error(), errc::unknown_topic) << topic;
  }
}

TEST(IothubPublishTopic, RefusesAMalformedBag) {
  auto t = parse("devices/dev1/messages/events/a=b=c", dev1);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), errc::bad_property_bag);
}

TEST(IothubPublishTopic, ParsesTheCapturedTwinRequests) {
  message untouched;
  auto get = parse("$iothub/twin/GET/?$rid=f9cd48d5-fa7e-4004-b73d-5a37eb2d3539", dev1, untouched);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->kind, inbound_kind::twin_get);
  EXPECT_EQ(get->request_id, "f9cd48d5-fa7e-4004-b73d-5a37eb2d3539");
  EXPECT_EQ(get->target, dev1);
  auto patch =
      parse("$iothub/twin/PATCH/properties/reported/?$rid=5b24b59d-d225-4a3e-82fa-e60e996142b3",
            mod_a, untouched);
  ASSERT_TRUE(patch);
  EXPECT_EQ(patch->kind, inbound_kind::twin_patch_reported);
  EXPECT_EQ(patch->request_id, "5b24b59d-d225-4a3e-82fa-e60e996142b3");
  EXPECT_EQ(patch->target, mod_a);
  EXPECT_EQ(untouched, message{});
}

TEST(IothubPublishTopic, ReadsTheRequestIdAmongOtherTwinParameters) {
  auto get = parse("$iothub/twin/GET/?foo=1&$rid=7&bar", dev1);
  ASSERT_TRUE(get);
  EXPECT_EQ(get->request_id, "7");
  auto raw = parse("$iothub/twin/GET/?$rid=a%20b/c", dev1);
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->request_id, "a%20b/c"); // echoed exactly as sent
}

TEST(IothubPublishTopic, AcceptsAReportedPatchWithoutRequestId) {
  for (const char* topic :
       {"$iothub/twin/PATCH/properties/reported/", "$iothub/twin/PATCH/properties/reported/?"}) {
    auto patch = parse(topic, dev1);
    ASSERT_TRUE(patch) << topic;
    EXPECT_EQ(patch->kind, inbound_kind::twin_patch_reported);
    EXPECT_EQ(patch->request_id, "");
  }
}

TEST(IothubPublishTopic, RequiresARequestIdForTwinGet) {
  for (const char* topic : {"$iothub/twin/GET/", "$iothub/twin/GET/?", "$iothub/twin/GET/?$rid=",
                            "$iothub/twin/GET/?$rid", "$iothub/twin/GET/?rid=1"}) {
    auto get = parse(topic, dev1);
    ASSERT_FALSE(get) << topic;
    EXPECT_EQ(get.error(), errc::missing_request_id) << topic;
  }
  auto twice = parse("$iothub/twin/GET/?$rid=1&$rid=2", dev1);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error(), errc::bad_property_bag);
}

TEST(IothubPublishTopic, RefusesOtherTwinOperations) {
  for (const char* topic :
       {"$iothub/twin/", "$iothub/twin/GET", "$iothub/twin/DELETE/?$rid=1",
        "$iothub/twin/PATCH/properties/desired/?$rid=1", "$iothub/twin/PATCH/properties/reported",
        "$iothub/twin/GET/sub/?$rid=1", "$iothub/twin/get/?$rid=1",
        "$iothub/twin/res/200/?$rid=1"}) {
    auto t = parse(topic, dev1);
    ASSERT_FALSE(t) << topic;
    EXPECT_EQ(t.error(), errc::unsupported_twin_operation) << topic;
  }
}

TEST(IothubPublishTopic, ParsesTheCapturedMethodResponses) {
  auto ok = parse("$iothub/methods/res/200/?$rid=1", dev1);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->kind, inbound_kind::method_response);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->request_id, "1");
  auto created = parse("$iothub/methods/res/201/?$rid=1", mod_a);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(created->target, mod_a);
  auto negative = parse("$iothub/methods/res/-1/?$rid=x&y", dev1);
  ASSERT_TRUE(negative);
  EXPECT_EQ(negative->status, -1);
  EXPECT_EQ(negative->request_id, "x&y");
}

TEST(IothubPublishTopic, MapsAnUnparsableMethodStatusToGenericBadRequest) {
  for (const char* topic :
       {"$iothub/methods/res/abc/?$rid=1", "$iothub/methods/res//?$rid=1",
        "$iothub/methods/res/99999999999/?$rid=1", "$iothub/methods/res/2x/?$rid=1"}) {
    auto t = parse(topic, dev1);
    ASSERT_TRUE(t) << topic;
    EXPECT_EQ(t->status, 400000) << topic;
  }
}

TEST(IothubPublishTopic, RefusesMalformedMethodResponses) {
  const std::pair<const char*, errc> cases[] = {
      {"$iothub/methods/res/200", errc::unknown_topic},
      {"$iothub/methods/res/200/", errc::unknown_topic},
      {"$iothub/methods/res/200/?rid=1", errc::unknown_topic},
      {"$iothub/methods/res/200/?$rid=1/2", errc::unknown_topic},
      {"$iothub/methods/res/200/x/?$rid=1", errc::unknown_topic},
      {"$iothub/methods/res/200/?$rid=", errc::missing_request_id},
  };
  for (const auto& [topic, expected] : cases) {
    auto t = parse(topic, dev1);
    ASSERT_FALSE(t) << topic;
    EXPECT_EQ(t.error(), expected) << topic;
  }
}

TEST(IothubSubscription, ClassifiesTheSdkFilters) {
  // azure-sdk-wire.md §2.2.
  EXPECT_EQ(classify_subscription("devices/dev1/messages/devicebound/#"), subscription_kind::c2d);
  EXPECT_EQ(classify_subscription("devices/edge1/modules/modA/inputs/#"),
            subscription_kind::module_inputs);
  EXPECT_EQ(classify_subscription("$iothub/methods/POST/#"), subscription_kind::methods);
  EXPECT_EQ(classify_subscription("$iothub/twin/res/#"), subscription_kind::twin_response);
  EXPECT_EQ(classify_subscription("$iothub/twin/PATCH/properties/desired/#"),
            subscription_kind::twin_desired);
}

TEST(IothubSubscription, FollowsSessionStateParserRules) {
  EXPECT_EQ(classify_subscription("devices/edge1/modules/modA/#"),
            subscription_kind::module_inputs);
  EXPECT_EQ(classify_subscription("devices/a/b/modules/c/d/#"), subscription_kind::module_inputs);
  EXPECT_EQ(classify_subscription("$iothub/methods/POST/"), subscription_kind::methods);
  EXPECT_EQ(classify_subscription("$iothub/methods/POST/+"), subscription_kind::methods);
  EXPECT_EQ(classify_subscription("$iothub/twin/PATCH/properties/desired/"),
            subscription_kind::twin_desired);
  EXPECT_EQ(classify_subscription("messages/devicebound/#"), subscription_kind::c2d);
  EXPECT_EQ(classify_subscription("devices/edge1/modules/modA/messages/devicebound/#"),
            subscription_kind::c2d); // C2D is tested before module messages
}

TEST(IothubSubscription, LeavesOtherFiltersUnknown) {
  for (const char* filter :
       {"", " ", "#", "+", "devices/dev1/messages/events/", "devices/dev1/messages/devicebound/+",
        "$iothub/twin/res/+", "$iothub/twin/res", "$iothub/twin/res/#/", "$iothub/methods/POST",
        "$iothub/twin/PATCH/properties/desired", "devices/modules/#", "devices//modules/m/#",
        "devices/d/modules//#", "devices/d/modules/m/", "devices/d/modules/m/#/x",
        "devices/d\n/modules/m/#", "devices/#"}) {
    EXPECT_EQ(classify_subscription(filter), subscription_kind::unknown) << filter;
  }
}

TEST(IothubOutboundTopic, BuildsTheCapturedModuleInputTopic) {
  message m;
  m.set(system_property::message_id, "mod-mid-1");
  m.set(system_property::connection_device_id, "edge1");
  m.set(system_property::connection_module_id, "modA");
  m.properties = {{"k", "v"}};
  EXPECT_EQ(
      module_input_topic(client_identity{"edge1", "modB"}, "input1", m),
      "devices/edge1/modules/modB/inputs/input1/%24.mid=mod-mid-1&k=v&%24.cdid=edge1&%24.cmid="
      "modA");
}

TEST(IothubOutboundTopic, ForwardsAModuleOutputToAnotherModulesInput) {
  // modA sends on output out1 (captured topic); a route delivers it to modB's input1.
  message m;
  ASSERT_TRUE(parse("devices/edge1/modules/modA/messages/events/%24.on=out1&%24.mid=mod-mid-1&k=v/",
                    mod_a, m));
  EXPECT_EQ(
      module_input_topic(client_identity{"edge1", "modB"}, "input1", m),
      "devices/edge1/modules/modB/inputs/input1/%24.mid=mod-mid-1&k=v&%24.cdid=edge1&%24.cmid="
      "modA");
}

TEST(IothubOutboundTopic, KeepsTheSlashAfterTheInputNameWithAnEmptyBag) {
  EXPECT_EQ(module_input_topic(client_identity{"e", "m"}, "input1", message{}),
            "devices/e/modules/m/inputs/input1/");
  EXPECT_EQ(c2d_topic("dev1", message{}), "devices/dev1/messages/devicebound/");
}

TEST(IothubOutboundTopic, KeepsTheSdkSplitPositionsWithSlashesInValues) {
  // The SDK takes input = split('/')[5] and bag = split('/')[6].
  message m;
  m.properties = {{"path/key", "a/b/c"}};
  m.set(system_property::to, "/devices/x");
  const auto topic = module_input_topic(client_identity{"e", "m"}, "in", m);
  const auto parts = detail::split(topic, '/'); // views into `topic`
  ASSERT_EQ(parts.size(), 7u);
  EXPECT_EQ(parts[5], "in");
  EXPECT_EQ(parts[6], "%24.to=%2Fdevices%2Fx&path%2Fkey=a%2Fb%2Fc");
}

TEST(IothubOutboundTopic, BuildsACloudToDeviceTopic) {
  message m;
  m.set(system_property::message_id, "c2d-msg-1");
  m.set(system_property::to, "/devices/dev1/messages/deviceBound");
  m.properties = {{"c2dProp", "c2d value/with space&amp"}};
  EXPECT_EQ(
      c2d_topic("dev1", m),
      "devices/dev1/messages/devicebound/%24.mid=c2d-msg-1&%24.to=%2Fdevices%2Fdev1%2Fmessages%"
      "2FdeviceBound&c2dProp=c2d%20value%2Fwith%20space%26amp");
}

TEST(IothubOutboundTopic, BuildsTheCapturedTwinAndMethodTopics) {
  // azure-sdk-wire.md §2.5, §2.6 and appendix A.
  EXPECT_EQ(twin_response_topic(200, "f9cd48d5-fa7e-4004-b73d-5a37eb2d3539"),
            "$iothub/twin/res/200/?$rid=f9cd48d5-fa7e-4004-b73d-5a37eb2d3539");
  EXPECT_EQ(twin_response_topic(204, "5b24b59d-d225-4a3e-82fa-e60e996142b3", 2),
            "$iothub/twin/res/204/?$rid=5b24b59d-d225-4a3e-82fa-e60e996142b3&$version=2");
  EXPECT_EQ(desired_patch_topic(2), "$iothub/twin/PATCH/properties/desired/?$version=2");
  EXPECT_EQ(method_request_topic("demoMethod", "1"), "$iothub/methods/POST/demoMethod/?$rid=1");
}

} // namespace
} // namespace outpost::iothub

namespace outpost::iothub {
namespace {

TEST(IothubSubscription, GrantsOnlyTopicsOfTheIdentityItself) {
  const client_identity dev{"dev1", ""};
  const client_identity mod{"edge1", "modA"};
  for (const auto* f : {"$iothub/methods/POST/#", "$iothub/twin/res/#",
                        "$iothub/twin/PATCH/properties/desired/#"}) {
    EXPECT_TRUE(subscription_allowed(dev, f)) << f;
    EXPECT_TRUE(subscription_allowed(mod, f)) << f;
  }
  EXPECT_TRUE(subscription_allowed(dev, "devices/dev1/messages/devicebound/#"));
  EXPECT_TRUE(subscription_allowed(mod, "devices/edge1/modules/modA/#"));
  EXPECT_TRUE(subscription_allowed(mod, "devices/edge1/modules/modA/inputs/#"));
  const std::pair<const client_identity*, const char*> refused[] = {
      {&dev, "#"},
      {&dev, "devices/#"},
      {&dev, "devices/+/messages/devicebound/#"},
      {&dev, "devices/dev2/messages/devicebound/#"},
      {&dev, "devices/dev11/messages/devicebound/#"},
      {&dev, "devices/edge1/modules/modA/#"},
      {&mod, "devices/edge1/messages/devicebound/#"},
      {&mod, "devices/edge1/modules/modB/#"},
      {&mod, "devices/edge1/modules/+/#"},
      {&mod, "devices/edge1/modules/modA/+/#"},
      {&mod, "devices/edge1/modules/modAB/#"},
      {&mod, "some/other/topic"},
  };
  for (const auto& [who, f] : refused) {
    EXPECT_FALSE(subscription_allowed(*who, f)) << who->id() << " " << f;
  }
}

} // namespace
} // namespace outpost::iothub
