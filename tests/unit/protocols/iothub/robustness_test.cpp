#include "protocols/iothub/encoding.hpp"
#include "protocols/iothub/identity.hpp"
#include "protocols/iothub/property_bag.hpp"
#include "protocols/iothub/sas.hpp"
#include "protocols/iothub/topics.hpp"
#include "tests/unit/protocols/iothub/openssl_hmac.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace outpost::iothub {
namespace {

using routing::message;
using routing::system_property;

/// Random strings biased towards the dialect's separators and keywords, so the parsers get
/// past their first checks. Seeded: every run feeds the same inputs.
class input_generator {
public:
  explicit input_generator(std::uint32_t seed) : rng_(seed) {}

  std::string next() {
    std::string s;
    if (pick(0, 2) == 0) {
      s = heads_[pick(0, static_cast<int>(heads_.size()) - 1)];
    }
    const int pieces = pick(0, 12);
    for (int i = 0; i < pieces; ++i) {
      if (pick(0, 2) == 0) {
        s += fragments_[pick(0, static_cast<int>(fragments_.size()) - 1)];
      } else {
        s += alphabet_[pick(0, static_cast<int>(alphabet_.size()) - 1)];
      }
    }
    return s;
  }

private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>{lo, hi}(rng_); }

  std::mt19937 rng_;
  const std::vector<std::string> heads_{"devices/dev1/messages/events/",
                                        "devices/dev1/modules/modA/messages/events/",
                                        "$iothub/twin/GET/?$rid=",
                                        "$iothub/methods/res/200/?$rid=",
                                        "SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig=",
                                        "localhost/dev1/?api-version=",
                                        "dev1/"};
  const std::vector<std::string> fragments_{"devices/",
                                            "dev1",
                                            "/modules/",
                                            "modA",
                                            "/messages/events/",
                                            "/messages/events",
                                            "$iothub/twin/",
                                            "GET/",
                                            "PATCH/properties/reported/",
                                            "$iothub/methods/res/",
                                            "200",
                                            "/?$rid=",
                                            "?api-version=",
                                            "api-version=",
                                            "DeviceClientType=",
                                            "%24.mid=",
                                            "$.on=",
                                            "%24.cdid=",
                                            "ack=",
                                            "SharedAccessSignature ",
                                            "sr=",
                                            "&sig=",
                                            "&se=",
                                            "1795701487",
                                            "localhost%2Fdevices%2Fdev1",
                                            "%2F",
                                            "%C3%A9",
                                            "%FF",
                                            "%",
                                            "\xC3\xA9",
                                            "/#",
                                            "messages/devicebound/#"};
  const std::string alphabet_ = std::string(
                                    "/&=%?$.+# \n\t\x80\xFF\xC3"
                                    "0123456789aAfFzZ-_~")
                                + std::string(1, '\0');
};

std::vector<std::pair<system_property, std::string>> sorted(
    std::vector<std::pair<system_property, std::string>> v) {
  std::sort(v.begin(), v.end());
  return v;
}

/// RFC 3629 well-formedness, written independently of encoding.cpp. MQTT topic names are
/// UTF-8 (MQTT 3.1.1 §1.5.3): the codec refuses others before they reach this library.
bool is_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t len = b < 0x80                 ? 1
                            : b >= 0xC2 && b <= 0xDF ? 2
                            : b >= 0xE0 && b <= 0xEF ? 3
                            : b >= 0xF0 && b <= 0xF4 ? 4
                                                     : 0;
    if (len == 0 || s.size() - i < len) {
      return false;
    }
    unsigned long cp = len == 1 ? b : b & (0x7F >> len);
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) {
        return false;
      }
      cp = cp << 6 | (c & 0x3F);
    }
    const unsigned long min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

/// A decoded bag re-encodes to one that decodes to the same properties (inbound-only system
/// properties excepted: they are never forwarded).
void check_bag_round_trip(const message& first) {
  message expected = first;
  expected.system_properties.erase(
      std::remove_if(expected.system_properties.begin(), expected.system_properties.end(),
                     [](const auto& p) {
                       return p.first == system_property::output_name
                              || p.first == system_property::interface_id;
                     }),
      expected.system_properties.end());
  const std::string bag = encode_property_bag(first, false);
  ASSERT_EQ(bag.find('/'), std::string::npos) << bag;
  message second;
  ASSERT_TRUE(decode_property_bag(bag, second)) << bag;
  EXPECT_EQ(second.properties, expected.properties) << bag;
  EXPECT_EQ(sorted(second.system_properties), sorted(expected.system_properties)) << bag;
}

TEST(IothubRobustness, RandomInputsNeverCrashAnyParser) {
  input_generator gen{20240901};
  const client_identity device{"dev1", ""};
  const client_identity module{"dev1", "modA"};
  const hmac_sha256_fn hmac = test_support::openssl_hmac_sha256;
  int accepted = 0;
  int round_trips = 0;
  int telemetry = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string in = gen.next();
    accepted += parse_client_id(in).has_value();
    accepted += parse_username(in).has_value();
    if (auto token = parse_sas_token(in)) {
      ++accepted;
      EXPECT_GE(token->expiry, 0) << in;
      EXPECT_FALSE(token->resource.empty()) << in;
      const sas_check check{
          "localhost", "edge", device, 0, {"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}};
      (void)verify_sas_token(*token, check, hmac);
    }
    message bag_message;
    if (decode_property_bag(in, bag_message)) {
      ++accepted;
      if (is_utf8(in)) {
        ++round_trips;
        check_bag_round_trip(bag_message);
      }
    }
    for (const auto* who : {&device, &module}) {
      message m;
      if (auto t = parse_publish_topic(in, *who, m); t && t->kind == inbound_kind::telemetry) {
        ++telemetry;
        EXPECT_EQ(m.get(system_property::connection_device_id), who->device_id) << in;
      }
    }
    (void)classify_subscription(in);
    EXPECT_GE(percent_decode(percent_encode(in)).size(), in.size()) << in;
  }
  // The generator does reach the accepting paths.
  EXPECT_GT(accepted, 100);
  EXPECT_GT(round_trips, 100);
  EXPECT_GT(telemetry, 10);
  std::printf("accepted %d, bag round trips %d, telemetry topics %d\n", accepted, round_trips,
              telemetry);
}

TEST(IothubRobustness, EveryPrefixOfCapturedInputsIsHandled) {
  const std::string inputs[] = {
      "devices/dev1/messages/events/"
      "%24.mid=mid-1&%24.cid=cid-1&%24.to=%2Fsome%2Fto&prop1=value%201",
      "devices/dev1/modules/modA/messages/events/%24.on=out1&%24.mid=mod-mid-1&k=v/",
      "$iothub/twin/PATCH/properties/reported/?$rid=5b24b59d-d225-4a3e-82fa-e60e996142b3",
      "$iothub/methods/res/200/?$rid=1",
      "SharedAccessSignature "
      "sr=localhost%2Fdevices%2Fdev1&sig=rhvnF2oKe1V%2BeDUgNhCg1q3H3rctCvwGs0Wu"
      "EO6iz3k%3D&se=1795701487",
      "localhost/dev1/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4"};
  const client_identity module{"dev1", "modA"};
  for (const auto& full : inputs) {
    for (std::size_t n = 0; n <= full.size(); ++n) {
      const std::string in = full.substr(0, n);
      message m;
      (void)parse_publish_topic(in, module, m);
      (void)parse_sas_token(in);
      (void)parse_username(in);
      (void)parse_client_id(in);
      (void)classify_subscription(in);
      message bag;
      (void)decode_property_bag(in, bag);
    }
  }
}

} // namespace
} // namespace outpost::iothub
