#include "protocols/iothub/identity.hpp"

#include <gtest/gtest.h>

#include <string>

namespace outpost::iothub {
namespace {

// azure-sdk-wire.md §2.1 (captured CONNECT usernames of azure-iot-device-mqtt 1.16.4).
constexpr const char* captured_device_username =
    "localhost/dev1/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4%20(node%"
    "20v20.20.2%3B%20Debian%2012%3B%20x64)";
constexpr const char* captured_module_username =
    "testhub.azure-devices.net/edge1/modA/?api-version=2021-04-12&DeviceClientType=azure-iot-"
    "device%2F1.18.4%20(node%20v20.20.2%3B%20Debian%2012%3B%20x64)";
constexpr const char* captured_user_agent =
    "azure-iot-device/1.18.4 (node v20.20.2; Debian 12; x64)";

TEST(IothubClientId, ParsesADevice) {
  auto who = parse_client_id("dev1");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->device_id, "dev1");
  EXPECT_EQ(who->module_id, "");
  EXPECT_FALSE(who->is_module());
  EXPECT_EQ(who->id(), "dev1");
}

TEST(IothubClientId, ParsesAModule) {
  auto who = parse_client_id("edge1/modA");
  ASSERT_TRUE(who);
  EXPECT_EQ(who->device_id, "edge1");
  EXPECT_EQ(who->module_id, "modA");
  EXPECT_TRUE(who->is_module());
  EXPECT_EQ(who->id(), "edge1/modA");
}

TEST(IothubClientId, AcceptsEveryIotHubIdCharacter) {
  EXPECT_TRUE(parse_client_id("edge1/$edgeHub"));
  EXPECT_TRUE(parse_client_id("a-b.c%d_e*f?g!h(i)j,k:l=m@n$o'p"));
  EXPECT_TRUE(parse_client_id("dev1/mod+1#x")); // module ids also allow '+' and '#'
  EXPECT_TRUE(parse_client_id(std::string(128, 'd') + "/" + std::string(128, 'm')));
}

TEST(IothubClientId, RefusesMalformedIds) {
  const std::string bad[] = {"",
                             "/",
                             "dev1/",
                             "/modA",
                             "a/b/c",
                             "dev 1",
                             "dev1\n",
                             "d\xC3\xA9v",
                             "dev#1",
                             "dev+1/m",
                             std::string(129, 'd'),
                             "dev1/" + std::string(129, 'm'),
                             std::string("dev\0", 4)};
  for (const auto& id : bad) {
    auto who = parse_client_id(id);
    ASSERT_FALSE(who) << id;
    EXPECT_EQ(who.error(), errc::bad_client_id) << id;
  }
}

TEST(IothubUsername, ParsesCapturedDeviceUsername) {
  auto info = parse_username(captured_device_username);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->host, "localhost");
  EXPECT_EQ(info->who, (client_identity{"dev1", ""}));
  EXPECT_EQ(info->api_version, "2021-04-12");
  EXPECT_EQ(info->client_type, captured_user_agent);
  EXPECT_EQ(info->model_id, "");
  EXPECT_EQ(info->who, parse_client_id("dev1").value());
}

TEST(IothubUsername, ParsesCapturedModuleUsername) {
  auto info = parse_username(captured_module_username);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->host, "testhub.azure-devices.net");
  EXPECT_EQ(info->who, (client_identity{"edge1", "modA"}));
  EXPECT_EQ(info->api_version, "2021-04-12");
  EXPECT_EQ(info->client_type, captured_user_agent);
  EXPECT_EQ(info->who, parse_client_id("edge1/modA").value());
  EXPECT_NE(info->who, parse_client_id("edge1/modB").value());
  EXPECT_NE(info->who, parse_client_id("edge1").value());
}

TEST(IothubUsername, ParsesModelIdAfterApiVersion) {
  auto info = parse_username(
      "localhost/dev1/?api-version=2021-04-12&model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1&"
      "DeviceClientType=x");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->model_id, "dtmi:com:example:Thermostat;1");
  EXPECT_EQ(info->client_type, "x");
}

TEST(IothubUsername, ParsesFactsExamples) {
  auto device = parse_username("myhub.azure-devices.net/dev1/?api-version=2018-06-30");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->who, (client_identity{"dev1", ""}));
  EXPECT_EQ(device->client_type, "");
  auto module = parse_username(
      "myhub.azure-devices.net/edge1/mod1/?api-version=2018-06-30&DeviceClientType=c");
  ASSERT_TRUE(module);
  EXPECT_EQ(module->who, (client_identity{"edge1", "mod1"}));
}

TEST(IothubUsername, AcceptsLastSegmentWithoutQuestionMarkWhenItHasApiVersion) {
  auto device = parse_username("iotHub1/device1/api-version=2010-01-01&DeviceClientType=c1");
  ASSERT_TRUE(device);
  EXPECT_EQ(device->who, (client_identity{"device1", ""}));
  EXPECT_EQ(device->client_type, "c1");
  // edgeHub's own example: '?' inside the last segment is not a separator.
  auto module = parse_username(
      "iotHub1/device1/module1/"
      "foo?bar=b1&api-version=2010-01-01&DeviceClientType=customDeviceClient1");
  ASSERT_TRUE(module);
  EXPECT_EQ(module->who, (client_identity{"device1", "module1"}));
  EXPECT_EQ(module->api_version, "2010-01-01");
  EXPECT_EQ(module->client_type, "customDeviceClient1");
}

TEST(IothubUsername, AcceptsLegacyAzureMlForm) {
  auto info = parse_username(
      "hub/dev1/mod1/api-version=2017-06-30/DeviceClientType=Microsoft.Azure.Devices.Client/"
      "1.5.1-preview-003");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->who, (client_identity{"dev1", "mod1"}));
  EXPECT_EQ(info->api_version, "2017-06-30");
  EXPECT_EQ(info->client_type, "Microsoft.Azure.Devices.Client/1.5.1-preview-003");
}

TEST(IothubUsername, FirstOccurrenceOfAKeyWins) {
  auto info = parse_username("h/dev1/?api-version=1&api-version=2&flag&DeviceClientType=a%26b");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->api_version, "1");
  EXPECT_EQ(info->client_type, "a&b");
}

TEST(IothubUsername, TrimsIdsAndTreatsAnEmptyModuleAsADevice) {
  auto trimmed = parse_username("h/ dev1 / modA /? api-version=1");
  ASSERT_TRUE(trimmed);
  EXPECT_EQ(trimmed->who, (client_identity{"dev1", "modA"}));
  auto empty_module = parse_username("h/dev1//?api-version=1");
  ASSERT_TRUE(empty_module);
  EXPECT_EQ(empty_module->who, (client_identity{"dev1", ""}));
}

TEST(IothubUsername, RefusesMalformedUsernames) {
  const char* bad[] = {
      "",
      "   ",
      "h/dev1",                           // no props segment
      "h/dev1/?",                         // no api-version
      "h/dev1/?api-version=",             // empty api-version
      "h/dev1/?api-version=%20",          // blank api-version
      "h/dev1/?API-VERSION=1",            // keys are case-sensitive
      "h/dev1/x=1",                       // no '?' and no api-version
      "h/a/b/c/?api-version=1",           // too many segments
      "h/?api-version=1",                 // too few segments
      "h//?api-version=1",                // empty device id
      "h/ /?api-version=1",               // blank device id
      "h/dev 1/?api-version=1",           // not an IoT Hub id
      "h/dev1/mod 1/?api-version=1",      // not an IoT Hub id
      "h/d/m/x/y/api-version=2017-06-30", // six segments but not the legacy form
      "/dev1/modA/api-version=2017-06-30/DeviceClientType=Microsoft.Azure.Devices.Client",
  };
  for (const char* u : bad) {
    auto info = parse_username(u);
    ASSERT_FALSE(info) << u;
    EXPECT_EQ(info.error(), errc::bad_username) << u;
  }
}

} // namespace
} // namespace outpost::iothub
