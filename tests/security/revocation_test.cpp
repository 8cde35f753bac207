// Issue 8 §2: revocation must bite. A connected device used to keep publishing (and its
// messages were stored) after `outpost identity disable`, after `remove`, and after its SAS
// token expired. Now disable, remove and key changes end the identity's live sessions within
// 1 s, and a session ends when its token expires (as IoT Hub does).

#include "tests/security/daemon_fixture.hpp"

#include <thread>

namespace outpost::test {
namespace {

using namespace std::chrono_literals;

class Revocation : public daemon_fixture {
protected:
  void SetUp() override {
    daemon_fixture::SetUp();
    start();
    add_identity("device", "dev1");
    add_identity("device", "dev2");
  }

  /// QoS 1 publish answered by a PUBACK: the session is alive and its messages are taken.
  bool publish_acked(mqtt_test_client& c, std::uint16_t id) {
    c.send(mqtt::publish{false, 1, false, "devices/dev1/messages/events/", id, "{}"});
    auto ack = c.receive(3s);
    return ack && std::holds_alternative<mqtt::puback>(*ack);
  }

  /// The server closes `c` within `limit`; how long it took.
  std::chrono::milliseconds closed_within(mqtt_test_client& c, std::chrono::milliseconds limit) {
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(c.closed_by_server(limit)) << "the session must be closed";
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now()
                                                                 - start);
  }
};

TEST_F(Revocation, DisabledDeviceKeepsPublishingIsClosedWithinOneSecond) {
  auto dev = connected("dev1");
  ASSERT_TRUE(publish_acked(*dev, 1));
  auto other = connected("dev2");
  ASSERT_EQ(cli({"identity", "disable", "dev1"}).code, 0);
  EXPECT_LT(closed_within(*dev, 1000ms), 1000ms);
  EXPECT_NE(connected_code("dev1"), 0) << "a disabled identity must not reconnect";
  ASSERT_EQ(cli({"identity", "enable", "dev1"}).code, 0);
  auto again = connected("dev1");
  EXPECT_TRUE(publish_acked(*again, 2));
  other->send(mqtt::pingreq{});
  auto pong = other->receive(2s);
  EXPECT_TRUE(pong && std::holds_alternative<mqtt::pingresp>(*pong)) << "others are untouched";
}

TEST_F(Revocation, RemovedDeviceKeepsPublishingIsClosedWithinOneSecond) {
  auto dev = connected("dev1");
  ASSERT_TRUE(publish_acked(*dev, 1));
  ASSERT_EQ(cli({"identity", "remove", "dev1"}).code, 0);
  EXPECT_LT(closed_within(*dev, 1000ms), 1000ms);
}

TEST_F(Revocation, RemovedDeviceTakesItsModulesSessionsWithIt) {
  add_identity("module", "dev2/sensor");
  auto mod = connected("dev2/sensor");
  ASSERT_EQ(cli({"identity", "remove", "dev2"}).code, 0);
  EXPECT_LT(closed_within(*mod, 1000ms), 1000ms);
}

TEST_F(Revocation, RotatedKeyClosesOnlyTheSessionsThatUsedIt) {
  auto dev = connected("dev1"); // signed with the primary key
  auto r = cli({"identity", "rotate", "dev1", "--secondary"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(dev->closed_by_server(1500ms)) << "the primary key did not change";
  EXPECT_TRUE(publish_acked(*dev, 1));
  r = cli({"identity", "rotate", "dev1", "--primary"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_LT(closed_within(*dev, 1000ms), 1000ms);
  EXPECT_NE(connected_code("dev1"), 0) << "the old key must not connect any more";
  const auto at = r.out.find("SharedAccessKey=");
  ASSERT_NE(at, std::string::npos) << r.out;
  keys_["dev1"] = r.out.substr(at + 16, r.out.find('\n', at) - at - 16);
  auto fresh = connected("dev1");
  EXPECT_TRUE(publish_acked(*fresh, 2));
}

TEST_F(Revocation, RotateBothKeysAndBadRequestsThroughTheCli) {
  auto r = cli({"identity", "rotate", "dev1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("DeviceId=dev1;SharedAccessKey="), std::string::npos) << r.out;
  EXPECT_NE(cli({"identity", "rotate", "ghost"}).code, 0);
  EXPECT_NE(cli({"identity", "rotate", "dev1", "--primary", "--secondary"}).code, 0);
}

TEST_F(Revocation, ExpiredSasTokenEndsTheSession) {
  auto dev = connected("dev1", true, 2); // the token expires in 2 s
  ASSERT_TRUE(publish_acked(*dev, 1));
  const auto took = closed_within(*dev, 4000ms);
  EXPECT_GE(took, 500ms) << "not before the token's expiry";
}

} // namespace
} // namespace outpost::test
