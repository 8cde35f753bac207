#include "protocols/iothub/property_bag.hpp"

#include "protocols/iothub/encoding.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace outpost::iothub {
namespace {

using routing::message;
using routing::system_property;
using props = std::vector<std::pair<std::string, std::string>>;

// azure-sdk-wire.md §2.3: the captured sendEvent bag with every system property.
constexpr const char* captured_device_bag =
    "%24.mid=mid-1&%24.cid=cid-1&%24.uid=user-1&%24.to=%2Fsome%2Fto&%24.ct=application%2Fjson&%24."
    "ce=utf-8&%24.exp=2026-11-26T13%3A58%3A07.899Z&prop1=value%201&weird%2Fkey%26%3D=v%3Da%26b%2Fc&"
    "%24.sub=comp1";

message decoded(std::string_view bag) {
  message m;
  auto r = decode_property_bag(bag, m);
  EXPECT_TRUE(r) << bag;
  return m;
}

std::string sys(const message& m, system_property p) {
  return std::string{m.get(p).value_or("<unset>")};
}

/// What the Node SDK does with a bag (azure-sdk-wire.md §2.4): split on '&' then on the first
/// '=', decodeURIComponent both sides.
props sdk_decode(std::string_view bag) {
  props out;
  std::size_t start = 0;
  while (start <= bag.size() && !bag.empty()) {
    const auto end = std::min(bag.find('&', start), bag.size());
    const auto pair = bag.substr(start, end - start);
    const auto eq = pair.find('=');
    out.emplace_back(percent_decode(pair.substr(0, eq)),
                     eq == std::string_view::npos ? "" : percent_decode(pair.substr(eq + 1)));
    start = end + 1;
  }
  return out;
}

TEST(IothubPropertyBag, DecodesTheCapturedSdkBag) {
  const message m = decoded(captured_device_bag);
  EXPECT_EQ(sys(m, system_property::message_id), "mid-1");
  EXPECT_EQ(sys(m, system_property::correlation_id), "cid-1");
  EXPECT_EQ(sys(m, system_property::user_id), "user-1");
  EXPECT_EQ(sys(m, system_property::to), "/some/to");
  EXPECT_EQ(sys(m, system_property::content_type), "application/json");
  EXPECT_EQ(sys(m, system_property::content_encoding), "utf-8");
  EXPECT_EQ(sys(m, system_property::absolute_expiry_time), "2026-11-26T13:58:07.899Z");
  EXPECT_EQ(sys(m, system_property::component_name), "comp1");
  EXPECT_EQ(m.properties, (props{{"prop1", "value 1"}, {"weird/key&=", "v=a&b/c"}}));
  EXPECT_EQ(m.system_properties.size(), 8u);
}

TEST(IothubPropertyBag, AcceptsDollarRawOrEncoded) {
  const message m = decoded("$.mid=1&%24.on=out1&$.ct=text%2Fplain");
  EXPECT_EQ(sys(m, system_property::message_id), "1");
  EXPECT_EQ(sys(m, system_property::output_name), "out1");
  EXPECT_EQ(sys(m, system_property::content_type), "text/plain");
  EXPECT_TRUE(m.properties.empty());
}

TEST(IothubPropertyBag, MapsEveryInboundSystemKey) {
  const message m = decoded(
      "$.schema=s&$.ctime=t&$.ifid=i&iothub-operation=o&ack=full&$.on=out&iothub-ack=x&$.cdid="
      "spoof&"
      "$.cmid=spoof&$.MID=case");
  EXPECT_EQ(sys(m, system_property::message_schema), "s");
  EXPECT_EQ(sys(m, system_property::creation_time), "t");
  EXPECT_EQ(sys(m, system_property::interface_id), "i");
  EXPECT_EQ(sys(m, system_property::operation), "o");
  EXPECT_EQ(sys(m, system_property::ack), "full");
  EXPECT_EQ(sys(m, system_property::output_name), "out");
  // Outbound-only and unknown keys stay application properties; keys are case-sensitive.
  EXPECT_EQ(
      m.properties,
      (props{{"iothub-ack", "x"}, {"$.cdid", "spoof"}, {"$.cmid", "spoof"}, {"$.MID", "case"}}));
  EXPECT_FALSE(m.get(system_property::connection_device_id));
}

TEST(IothubPropertyBag, GivesKeysWithoutEqualsAndEmptyValuesAnEmptyValue) {
  EXPECT_EQ(decoded("flag&k=v&empty=&last").properties,
            (props{{"flag", ""}, {"k", "v"}, {"empty", ""}, {"last", ""}}));
}

TEST(IothubPropertyBag, KeepsTheFirstPositionAndTheLastValueOfARepeatedKey) {
  const message m = decoded("a=1&b=2&a=3&$.mid=x&$.mid=y");
  EXPECT_EQ(m.properties, (props{{"a", "3"}, {"b", "2"}}));
  EXPECT_EQ(sys(m, system_property::message_id), "y");
}

TEST(IothubPropertyBag, DecodesPercentEscapesButNotPlus) {
  EXPECT_EQ(decoded("k%20x=a+b%2Bc%25d%26e%3Df%2Fg").properties, (props{{"k x", "a+b+c%d&e=f/g"}}));
  EXPECT_EQ(decoded("k=100%&j=%zz").properties, (props{{"k", "100%"}, {"j", "%zz"}}));
}

TEST(IothubPropertyBag, DecodesUnicodeEscapedOrRaw) {
  EXPECT_EQ(decoded("temp%C2%B0=21%E2%80%89%C2%B0C&city=Z\xC3\xBCrich").properties,
            (props{{"temp\xC2\xB0",
                    "21\xE2\x80\x89\xC2\xB0"
                    "C"},
                   {"city", "Z\xC3\xBCrich"}}));
  EXPECT_EQ(decoded("bad=%FF%C3").properties, (props{{"bad", "%FF%C3"}}));
}

TEST(IothubPropertyBag, DropsRawQuestionMarksAsProtocolGatewayDoes) {
  const message m = decoded("?$.ct=text&k?x=v?1&q=%3F");
  EXPECT_EQ(sys(m, system_property::content_type), "text");
  EXPECT_EQ(m.properties, (props{{"kx", "v1"}, {"q", "?"}}));
  EXPECT_TRUE(decoded("?").properties.empty());
  EXPECT_TRUE(decoded("??&k=v").properties.size() == 1);
}

TEST(IothubPropertyBag, AllowsOneTrailingSlash) {
  EXPECT_EQ(decoded("k=v/").properties, (props{{"k", "v"}}));
  EXPECT_EQ(decoded("k/").properties, (props{{"k", ""}}));
  EXPECT_TRUE(decoded("/").properties.empty());
  EXPECT_TRUE(decoded("").properties.empty());
}

TEST(IothubPropertyBag, RefusesWhatTheTokenizerRefuses) {
  for (const char* bag : {"=v", "&", "=", "&a=1", "a=1&", "a=1&&b=2", "a=b=c", "a=1/b=2", "a=1//",
                          "a/b", "//", "a=1&=2"}) {
    message m;
    auto r = decode_property_bag(bag, m);
    ASSERT_FALSE(r) << bag;
    EXPECT_EQ(r.error(), errc::bad_property_bag) << bag;
  }
}

TEST(IothubPropertyBag, EncodesTheCapturedModuleInputBag) {
  // azure-sdk-wire.md §2.4: devices/edge1/modules/modB/inputs/input1/<this>.
  message m;
  m.set(system_property::connection_module_id, "modA");
  m.set(system_property::connection_device_id, "edge1");
  m.set(system_property::message_id, "mod-mid-1");
  m.properties = {{"k", "v"}};
  EXPECT_EQ(encode_property_bag(m, true), "%24.mid=mod-mid-1&k=v&%24.cdid=edge1&%24.cmid=modA");
}

TEST(IothubPropertyBag, EncodesACloudToDeviceBagTheSdkReadsLikeTheCapture) {
  message m;
  m.set(system_property::message_id, "c2d-msg-1");
  m.set(system_property::to, "/devices/dev1/messages/deviceBound");
  m.set(system_property::correlation_id, "c2d-corr-1");
  m.set(system_property::ack, "full");
  m.set(system_property::content_type, "application/json");
  m.set(system_property::content_encoding, "utf-8");
  m.set(system_property::connection_device_id, "never-for-devices");
  m.properties = {{"c2dProp", "c2d value/with space&amp"}};
  const std::string bag = encode_property_bag(m, false);
  EXPECT_EQ(
      bag,
      "%24.mid=c2d-msg-1&%24.cid=c2d-corr-1&%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound&"
      "%24.ct=application%2Fjson&%24.ce=utf-8&ack=full&c2dProp=c2d%20value%2Fwith%20space%26amp");
  // The captured delivery (azure-sdk-wire.md §2.4) decodes to the same fields, but for the ack
  // key: edgeHub writes `ack` (SystemProperties.cs), the capture server wrote `iothub-ack`.
  props ours = sdk_decode(bag);
  props captured = sdk_decode(
      "%24.mid=c2d-msg-1&%24.to=%2Fdevices%2Fdev1%2Fmessages%2FdeviceBound&%24.cid=c2d-corr-1&"
      "iothub-ack=full&%24.ct=application%2Fjson&%24.ce=utf-8&c2dProp=c2d%20value%2Fwith%20space%"
      "26amp");
  for (auto& [k, v] : captured) {
    k = k == "iothub-ack" ? "ack" : k;
  }
  std::sort(ours.begin(), ours.end());
  std::sort(captured.begin(), captured.end());
  EXPECT_EQ(ours, captured);
}

TEST(IothubPropertyBag, EncodesOutboundSystemPropertiesInFactsOrder) {
  message m;
  m.set(system_property::ack, "a");
  m.set(system_property::operation, "o");
  m.set(system_property::component_name, "sub");
  m.set(system_property::creation_time, "ct");
  m.set(system_property::message_schema, "s");
  m.set(system_property::content_encoding, "ce");
  m.set(system_property::content_type, "t");
  m.set(system_property::absolute_expiry_time, "e");
  m.set(system_property::user_id, "u");
  m.set(system_property::to, "to");
  m.set(system_property::correlation_id, "c");
  m.set(system_property::message_id, "m");
  EXPECT_EQ(encode_property_bag(m, false),
            "%24.mid=m&%24.cid=c&%24.to=to&%24.uid=u&%24.exp=e&%24.ct=t&%24.ce=ce&%24.schema=s&"
            "%24.ctime=ct&%24.sub=sub&iothub-operation=o&ack=a");
}

TEST(IothubPropertyBag, NeverForwardsInboundOnlyOrInternalProperties) {
  message m;
  m.set(system_property::output_name, "out1");
  m.set(system_property::interface_id, "if");
  m.set(system_property::input_name, "in");
  m.set(system_property::enqueued_time, "now");
  m.set(system_property::edge_message_id, "42");
  EXPECT_EQ(encode_property_bag(m, true), "");
  EXPECT_EQ(encode_property_bag(message{}, true), "");
}

TEST(IothubPropertyBag, DropsApplicationPropertiesThatClashWithSystemKeys) {
  message m;
  m.set(system_property::message_id, "real");
  m.set(system_property::connection_device_id, "edge1");
  m.properties = {{"$.mid", "fake"}, {"$.cdid", "fake"}, {"k", "1"}, {"k", "2"}};
  EXPECT_EQ(encode_property_bag(m, true), "%24.mid=real&k=1&%24.cdid=edge1");
  // Without the sender's ids (C2D), an application property of that name passes through.
  EXPECT_EQ(encode_property_bag(m, false), "%24.mid=real&%24.cdid=fake&k=1");
}

TEST(IothubPropertyBag, NeverWritesRawSeparators) {
  message m;
  m.properties = {{"a/b&c=d", "e/f&g=h?i j%k"}, {"", ""}};
  EXPECT_EQ(encode_property_bag(m, false), "a%2Fb%26c%3Dd=e%2Ff%26g%3Dh%3Fi%20j%25k&=");
}

std::vector<std::pair<system_property, std::string>> sorted(
    std::vector<std::pair<system_property, std::string>> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(IothubPropertyBag, RoundTripsAwkwardText) {
  const props awkward = {{"slash/key", "a/b/"},
                         {"amp&key", "a&b&"},
                         {"eq=key", "a=b="},
                         {"pct%key", "100%25%"},
                         {"space key", " leading and trailing "},
                         {"unicode\xE2\x82\xAC", "\xF0\x9F\x98\x80 \xC3\xA9"},
                         {"empty", ""},
                         {"plus+", "a+b"},
                         {"question?", "?"},
                         {"$dollar", "$"},
                         {"~-._", "~-._"}};
  message m;
  m.properties = awkward;
  m.set(system_property::message_id, "id/with&all=the%chars ");
  m.set(system_property::to, "/devices/d/messages/deviceBound");
  m.set(system_property::absolute_expiry_time, "2026-11-26T13:58:07.899Z");
  m.set(system_property::content_type, "application/json; charset=utf-8");
  m.set(system_property::ack, "");
  for (const std::string& bag :
       {encode_property_bag(m, false), encode_property_bag(m, true) + "/"}) {
    message back;
    ASSERT_TRUE(decode_property_bag(bag, back)) << bag;
    EXPECT_EQ(back.properties, m.properties) << bag;
    EXPECT_EQ(sorted(back.system_properties), sorted(m.system_properties)) << bag;
  }
}

} // namespace
} // namespace outpost::iothub

namespace outpost::iothub {
namespace {

TEST(IothubPropertyBag, RefusesMoreThanTheMaximumNumberOfPairs) {
  std::string bag;
  for (std::size_t i = 0; i < max_bag_properties; ++i) {
    bag += (i ? "&k" : "k") + std::to_string(i) + "=v";
  }
  routing::message ok_msg;
  ASSERT_TRUE(decode_property_bag(bag, ok_msg));
  EXPECT_EQ(ok_msg.properties.size(), max_bag_properties);
  routing::message too_many;
  auto r = decode_property_bag(bag + "&one=more", too_many);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), errc::too_many_properties);
  routing::message repeats; // repeats count too: each costs a decode
  std::string same;
  for (std::size_t i = 0; i <= max_bag_properties; ++i) {
    same += i ? "&a=1" : "a=1";
  }
  EXPECT_FALSE(decode_property_bag(same, repeats));
}

} // namespace
} // namespace outpost::iothub
