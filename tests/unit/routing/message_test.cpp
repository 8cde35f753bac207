#include "routing/model/message.hpp"

#include <gtest/gtest.h>

namespace outpost::routing {
namespace {

message sample() {
  message m;
  m.body = std::string("{\"t\":21.5}\0bin", 14);
  m.properties = {{"alert", "yes"}, {"a/&= b", "%/x"}, {"empty", ""}};
  m.set(system_property::message_id, "mid-1");
  m.set(system_property::connection_device_id, "dev1");
  return m;
}

TEST(RoutingMessage, EncodesToGoldenBytes) {
  message m;
  m.body = "hi";
  m.properties = {{"k", "v"}};
  m.set(system_property::content_type, "text/plain");
  const std::string golden{
      "\x01"                               // format version
      "\x00\x00\x00\x01"                   // one system property
      "\x05\x00\x00\x00\x0atext/plain"     // content_type (5)
      "\x00\x00\x00\x01"                   // one application property
      "\x00\x00\x00\x01k\x00\x00\x00\x01v" // k = v
      "\x00\x00\x00\x02hi",                // body
      1 + 4 + 15 + 4 + 10 + 6};
  EXPECT_EQ(encode(m), golden);
  EXPECT_EQ(decode(golden).value(), m);
}

TEST(RoutingMessage, RoundTripsBinaryBodiesAndOddProperties) {
  const auto m = sample();
  auto back = decode(encode(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, m);
  EXPECT_EQ(back->get(system_property::message_id), "mid-1");
  EXPECT_EQ(back->property("a/&= b"), "%/x");
  EXPECT_FALSE(back->property("missing"));
}

TEST(RoutingMessage, SetReplacesASystemProperty) {
  auto m = sample();
  m.set(system_property::message_id, "mid-2");
  EXPECT_EQ(m.get(system_property::message_id), "mid-2");
  EXPECT_EQ(m.system_properties.size(), 2u);
}

TEST(RoutingMessage, RejectsEveryTruncationAndTrailingBytes) {
  const auto bytes = encode(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode(bytes.substr(0, n))) << "prefix " << n;
  }
  EXPECT_FALSE(decode(bytes + "x"));
  auto bad_version = bytes;
  bad_version[0] = 2;
  EXPECT_FALSE(decode(bad_version));
  auto bad_id = bytes;
  bad_id[5] = static_cast<char>(system_property_count);
  EXPECT_FALSE(decode(bad_id));
}

TEST(RoutingMessage, NamesSystemPropertiesAsIotEdgeDoes) {
  EXPECT_EQ(system_property_name(system_property::connection_device_id), "connectionDeviceId");
  EXPECT_EQ(system_property_name(system_property::edge_message_id), "edgeMessageId");
}

} // namespace
} // namespace outpost::routing
