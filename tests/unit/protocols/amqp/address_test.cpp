#include "protocols/amqp/address.hpp"

#include <gtest/gtest.h>

namespace outpost::amqp {
namespace {

TEST(AmqpAddress, IotHubLinkAddresses) {
  struct case_t {
    const char* address;
    link_kind kind;
    const char* device;
    const char* module;
  };
  const case_t cases[] = {
      {"$cbs", link_kind::cbs, "", ""},
      {"/$cbs", link_kind::cbs, "", ""},
      {"/devices/dev1/messages/events", link_kind::events, "dev1", ""},
      {"devices/dev1/messages/events", link_kind::events, "dev1", ""},
      {"/devices/edge1/modules/modA/messages/events", link_kind::events, "edge1", "modA"},
      {"/devices/dev1/messages/devicebound", link_kind::devicebound, "dev1", ""},
      {"/devices/dev1/messages/deviceBound", link_kind::devicebound, "dev1", ""},
      {"/devices/dev1/twin", link_kind::twin, "dev1", ""},
      {"/devices/edge1/modules/m/twin", link_kind::twin, "edge1", "m"},
      {"/devices/dev1/methods/devicebound", link_kind::methods, "dev1", ""},
      {"/devices/edge1/modules/m/methods/deviceBound", link_kind::methods, "edge1", "m"},
      {"/messages/devicebound", link_kind::service_devicebound, "", ""},
      {"amqps://hub.example/devices/dev1/messages/events", link_kind::events, "dev1", ""},
      {"/devices/a%3Ab/messages/events", link_kind::events, "a:b", ""},
  };
  for (const auto& c : cases) {
    auto a = parse_link_address(c.address);
    ASSERT_TRUE(a) << c.address;
    EXPECT_EQ(a->kind, c.kind) << c.address;
    EXPECT_EQ(a->who.device_id, c.device) << c.address;
    EXPECT_EQ(a->who.module_id, c.module) << c.address;
  }
}

TEST(AmqpAddress, AnythingElseIsRefused) {
  for (const char* bad :
       {"", "/", "/devices", "/devices/dev1", "/devices/dev1/messages",
        "/devices/dev1/messages/other", "/devices/dev1/modules/m/messages/devicebound",
        "/devices//messages/events", "/devices/dev1/twin/extra", "/queues/x",
        "/devices/d%00/twin"}) {
    EXPECT_FALSE(parse_link_address(bad)) << bad;
  }
}

TEST(AmqpAddress, CbsAudiences) {
  auto device = parse_audience("localhost%2Fdevices%2Fdev1");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->host, "localhost");
  EXPECT_EQ(device->who.device_id, "dev1");
  EXPECT_FALSE(device->service());

  auto module = parse_audience("amqps://hub.example/devices/edge1/modules/modB");
  ASSERT_TRUE(module);
  EXPECT_EQ(module->host, "hub.example");
  EXPECT_EQ(module->who.module_id, "modB");

  auto service = parse_audience("localhost");
  ASSERT_TRUE(service);
  EXPECT_TRUE(service->service());

  // The SDKs encode the id inside the already encoded resource: decoded twice.
  auto odd = parse_audience("localhost%2Fdevices%2Fa%253Ab");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->who.device_id, "a:b");

  for (const char* bad : {"", "/devices/dev1", "localhost/devices", "localhost/queues/x",
                          "localhost/devices/dev1/extra"}) {
    EXPECT_FALSE(parse_audience(bad)) << bad;
  }
}

} // namespace
} // namespace outpost::amqp
