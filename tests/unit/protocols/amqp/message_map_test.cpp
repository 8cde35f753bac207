#include "protocols/amqp/message_map.hpp"

#include <gtest/gtest.h>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/scalar.hpp>
#include <proton/symbol.hpp>
#include <proton/timestamp.hpp>
#include <proton/uuid.hpp>

namespace outpost::amqp {
namespace {

using routing::system_property;

proton::uuid uuid_of(const char bytes[16]) {
  return proton::uuid::copy(bytes);
}

/// A message as the Node SDK sends telemetry (wire §3.4), through Proton's own codec.
proton::message sdk_telemetry() {
  proton::message m;
  m.id(std::string{"mid-1"});
  const char raw[16] = {0x2c,
                        0x7c,
                        static_cast<char>(0xbb),
                        0x3a,
                        0x5b,
                        0x0f,
                        0x4a,
                        0x65,
                        static_cast<char>(0x9d),
                        0x3c,
                        0x0f,
                        0x7b,
                        0x0b,
                        static_cast<char>(0x8c),
                        0x1d,
                        0x11};
  m.correlation_id(uuid_of(raw));
  m.content_type("application/json");
  m.content_encoding("utf-8");
  m.to("/devices/dev1/messages/events");
  m.properties().put("iothub-ack", proton::scalar{std::string{"full"}});
  m.properties().put("prop1", proton::scalar{std::string{"value 1"}});
  m.properties().put("count", proton::scalar{std::int32_t{7}});
  m.properties().put("iothub-outputname", proton::scalar{std::string{"out1"}});
  m.message_annotations().put(proton::symbol{"dt-subject"}, std::string{"comp1"});
  m.body(proton::binary(std::string{R"({"temp":21.5})"}));
  m.inferred(true);
  // Through the wire format, as the hub gets it.
  proton::message decoded;
  decoded.decode(m.encode());
  return decoded;
}

TEST(AmqpMessageMap, SdkTelemetryMapsToTheHubsModel) {
  auto msg = from_amqp(sdk_telemetry());
  ASSERT_TRUE(msg);
  EXPECT_EQ(msg->body, R"({"temp":21.5})");
  EXPECT_EQ(msg->get(system_property::message_id), "mid-1");
  EXPECT_EQ(msg->get(system_property::correlation_id), "2c7cbb3a-5b0f-4a65-9d3c-0f7b0b8c1d11");
  EXPECT_EQ(msg->get(system_property::amqp_id_types), "su");
  EXPECT_EQ(msg->get(system_property::content_type), "application/json");
  EXPECT_EQ(msg->get(system_property::content_encoding), "utf-8");
  EXPECT_EQ(msg->get(system_property::to), "/devices/dev1/messages/events");
  EXPECT_EQ(msg->get(system_property::ack), "full");
  EXPECT_EQ(msg->get(system_property::output_name), "out1");
  EXPECT_EQ(msg->get(system_property::component_name), "comp1");
  EXPECT_EQ(msg->property("prop1"), "value 1");
  EXPECT_EQ(msg->property("count"), "7");
  EXPECT_FALSE(msg->property("iothub-outputname"));
}

TEST(AmqpMessageMap, IdsGoBackOutInTheTypesTheyCameIn) {
  proton::message in;
  in.id(proton::message_id{std::uint64_t{42}});
  in.correlation_id(proton::binary(std::string{"\x00\x01\xff", 3}));
  in.body(std::string{"amqp-value string body"});
  proton::message wire;
  wire.decode(in.encode());
  auto msg = from_amqp(wire);
  ASSERT_TRUE(msg);
  EXPECT_EQ(msg->body, "amqp-value string body");
  EXPECT_EQ(msg->get(system_property::message_id), "42");
  EXPECT_EQ(msg->get(system_property::correlation_id), "0001ff"); // not text: hex
  EXPECT_EQ(msg->get(system_property::amqp_id_types), "lx");

  auto out = to_amqp(*msg, {});
  EXPECT_EQ(out.id().type(), proton::ULONG);
  EXPECT_EQ(proton::get<std::uint64_t>(out.id()), 42u);
  ASSERT_EQ(out.correlation_id().type(), proton::BINARY);
  EXPECT_EQ(proton::get<proton::binary>(out.correlation_id()),
            proton::binary(std::string{"\x00\x01\xff", 3}));
  EXPECT_TRUE(out.inferred()); // a Data section
}

TEST(AmqpMessageMap, MqttMessagesGoOutAsIotHubSendsThem) {
  routing::message m;
  m.body = "payload";
  m.set(system_property::message_id, "2c7cbb3a-5b0f-4a65-9d3c-0f7b0b8c1d11"); // a string from MQTT
  m.set(system_property::input_name, "in1");
  m.set(system_property::connection_device_id, "edge1");
  m.set(system_property::connection_module_id, "modA");
  m.set(system_property::absolute_expiry_time, "2026-12-04T20:30:00.123Z");
  m.set(system_property::message_schema, "twinChangeNotification");
  m.properties.emplace_back("k", "v");
  auto out = to_amqp(m, {5, 1, ""});
  proton::message wire;
  wire.decode(out.encode());
  EXPECT_EQ(wire.id().type(), proton::STRING) << "a string stays a string";
  EXPECT_EQ(wire.expiry_time().milliseconds(), 1796416200123);
  const auto& ann = wire.message_annotations();
  EXPECT_EQ(proton::get<std::string>(ann.get(proton::symbol{"x-opt-input-name"})), "in1");
  EXPECT_EQ(proton::get<std::string>(ann.get(proton::symbol{"iothub-connection-device-id"})),
            "edge1");
  EXPECT_EQ(proton::get<std::string>(ann.get(proton::symbol{"iothub-connection-module-id"})),
            "modA");
  EXPECT_EQ(proton::get<std::int64_t>(ann.get(proton::symbol{"x-opt-sequence-number"})), 5);
  EXPECT_EQ(proton::get<std::string>(wire.properties().get("k")), "v");
  EXPECT_EQ(proton::get<std::string>(wire.properties().get("iothub-message-schema")),
            "twinChangeNotification");
  EXPECT_EQ(proton::get<proton::binary>(wire.body()), proton::binary(std::string{"payload"}));

  auto back = from_amqp(wire);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->get(system_property::absolute_expiry_time), "2026-12-04T20:30:00.123Z");
  EXPECT_EQ(back->property("k"), "v");
}

TEST(AmqpMessageMap, BodiesOtherThanDataOrTextAreRefused) {
  proton::message m;
  m.body(std::int32_t{5});
  EXPECT_EQ(from_amqp(m).error(), std::errc::bad_message);
}

/// A Data section (described 0x75, vbin32) holding `bytes`.
std::string data_section(const std::string& bytes) {
  std::string out{"\x00\x53\x75\xb0", 4};
  const auto n = static_cast<std::uint32_t>(bytes.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  return out + bytes;
}

std::string encoded(const proton::message& m) {
  std::vector<char> buf;
  proton::message copy = m;
  copy.encode(buf);
  return {buf.begin(), buf.end()};
}

TEST(AmqpMessageMap, ABatchIsEachDataSectionAsAMessage) {
  proton::message a = sdk_telemetry();
  proton::message b;
  b.id(std::string{"second"});
  b.body(proton::binary(std::string{"two"}));
  // The outer message's own properties section (0x73, an empty list) is ignored.
  const std::string outer_props{"\x00\x53\x73\x45", 4};
  auto batch = from_amqp_batch(outer_props + data_section(encoded(a)) + data_section(encoded(b)));
  ASSERT_TRUE(batch) << batch.error().message();
  ASSERT_EQ(batch->size(), 2u);
  const auto one = from_amqp(a);
  ASSERT_TRUE(one);
  EXPECT_EQ((*batch)[0].body, one->body);
  EXPECT_EQ((*batch)[0].get(system_property::message_id), one->get(system_property::message_id));
  EXPECT_EQ((*batch)[0].properties, one->properties);
  EXPECT_EQ((*batch)[1].body, "two");
  EXPECT_EQ((*batch)[1].get(system_property::message_id), "second");
}

TEST(AmqpMessageMap, ABatchThatDoesNotDecodeIsRefusedWhole) {
  proton::message b;
  b.body(proton::binary(std::string{"x"}));
  const auto good = data_section(encoded(b));
  EXPECT_FALSE(from_amqp_batch("")) << "no Data section";
  EXPECT_FALSE(from_amqp_batch(std::string{"\x00\x53\x73\x45", 4})) << "no Data section";
  EXPECT_FALSE(from_amqp_batch(good + data_section("not a message")));
  EXPECT_FALSE(from_amqp_batch(good.substr(0, good.size() - 1))) << "truncated";
  EXPECT_FALSE(from_amqp_batch(good + "\x40")) << "not a section";
  std::string three;
  for (int i = 0; i < 3; ++i) {
    three += good;
  }
  EXPECT_TRUE(from_amqp_batch(three, 3));
  EXPECT_FALSE(from_amqp_batch(three, 2)) << "over the bound";
}

TEST(AmqpMessageMap, Iso8601) {
  EXPECT_EQ(*parse_iso8601_ms("1970-01-01T00:00:01Z"), 1000);
  EXPECT_EQ(*parse_iso8601_ms("2026-12-04T20:30:00.5Z"), 1796416200500);
  for (const char* bad : {"", "2026-12-04", "2026-13-04T20:30:00Z", "2026-12-04T20:30:00",
                          "2026-12-04T20:30:00Zjunk"}) {
    EXPECT_FALSE(parse_iso8601_ms(bad)) << bad;
  }
}

} // namespace
} // namespace outpost::amqp
