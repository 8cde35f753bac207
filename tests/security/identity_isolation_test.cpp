// Issue 10, "bad input": a device reaches only its own twin, methods and C2D. Twin and method
// topics carry no identity (the session's authenticated one is the only one they can mean);
// a method call's answer counts only from the call's target, so a device that guesses request
// ids cannot answer another device's calls; C2D and other identities' topics are refused with
// SUBACK 0x80.

#include "tests/security/daemon_fixture.hpp"

#include <future>
#include <thread>

namespace outpost::test {
namespace {

using namespace std::chrono_literals;

class IdentityIsolation : public daemon_fixture {
protected:
  void SetUp() override {
    daemon_fixture::SetUp();
    start();
    add_identity("device", "dev1");
    add_identity("device", "dev2");
  }

  /// SUBSCRIBE `filter` at QoS 1; the SUBACK's code.
  static int subscribe(mqtt_test_client& c, std::uint16_t id, const std::string& filter) {
    c.send(mqtt::subscribe{id, {{filter, 1}}});
    for (int i = 0; i < 5; ++i) {
      auto p = c.receive(5s);
      if (!p) {
        return -1;
      }
      if (auto* ack = std::get_if<mqtt::suback>(&*p)) {
        return ack->return_codes.empty() ? -1 : ack->return_codes[0];
      }
    }
    return -1;
  }

  /// The body of the next PUBLISH whose topic starts with `prefix` (skipping others).
  static std::optional<mqtt::publish> next_publish(mqtt_test_client& c, const std::string& prefix,
                                                   std::chrono::milliseconds timeout = 5s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      auto p = c.receive(200ms);
      if (p) {
        if (auto* pub = std::get_if<mqtt::publish>(&*p); pub && pub->topic.rfind(prefix, 0) == 0) {
          return *pub;
        }
      }
    }
    return std::nullopt;
  }
};

TEST_F(IdentityIsolation, ATwinGetReturnsOnlyTheCallersOwnTwin) {
  auto dev1 = connected("dev1");
  ASSERT_EQ(subscribe(*dev1, 1, "$iothub/twin/res/#"), 1);
  dev1->send(mqtt::publish{false, 0, false, "$iothub/twin/PATCH/properties/reported/?$rid=a", 0,
                           R"({"secret":"dev1 only"})"});
  auto patched = next_publish(*dev1, "$iothub/twin/res/204/");
  ASSERT_TRUE(patched) << "the patch is answered 204";

  auto dev2 = connected("dev2");
  ASSERT_EQ(subscribe(*dev2, 1, "$iothub/twin/res/#"), 1);
  dev2->send(mqtt::publish{false, 0, false, "$iothub/twin/GET/?$rid=b", 0, " "});
  auto got = next_publish(*dev2, "$iothub/twin/res/200/");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->payload.find("secret"), std::string::npos) << got->payload;
  EXPECT_NE(got->payload.find(R"("reported":{"$version":1})"), std::string::npos)
      << "dev2's own, untouched twin: " << got->payload;
}

TEST_F(IdentityIsolation, AnotherDeviceCannotAnswerAMethodCall) {
  auto dev1 = connected("dev1");
  ASSERT_EQ(subscribe(*dev1, 1, "$iothub/methods/POST/#"), 1);
  auto dev2 = connected("dev2");
  ASSERT_EQ(subscribe(*dev2, 1, "$iothub/methods/POST/#"), 1);
  std::this_thread::sleep_for(200ms); // the listeners reach the method router

  auto call = std::async(std::launch::async, [this] {
    return cli({"method", "invoke", "dev1", "unlock", "--timeout", "3"}, 20s);
  });
  auto request = next_publish(*dev1, "$iothub/methods/POST/unlock/");
  ASSERT_TRUE(request) << "dev1 gets the call";
  const auto rid = request->topic.substr(request->topic.find("$rid=") + 5);
  // dev2 answers with the real request id and every id around it; dev1 stays silent.
  for (int delta = -3; delta <= 3; ++delta) {
    const auto guess = std::to_string(std::stoll(rid) + delta);
    dev2->send(mqtt::publish{false, 0, false, "$iothub/methods/res/200/?$rid=" + guess, 0,
                             R"({"unlocked":true})"});
  }
  const auto result = call.get();
  EXPECT_NE(result.code, 0);
  EXPECT_NE(result.err.find("504101"), std::string::npos) << result.err << result.out;
  EXPECT_EQ(result.out.find("unlocked"), std::string::npos) << "dev2's answer never counted";
  EXPECT_FALSE(next_publish(*dev2, "$iothub/methods/POST/", 300ms)) << "dev2 never saw the call";
}

TEST_F(IdentityIsolation, AnotherDevicesC2DAndMethodTopicsAreRefused) {
  auto dev2 = connected("dev2");
  EXPECT_EQ(subscribe(*dev2, 1, "devices/dev1/messages/devicebound/#"), 0x80);
  EXPECT_EQ(subscribe(*dev2, 2, "devices/+/messages/devicebound/#"), 0x80);
  EXPECT_EQ(subscribe(*dev2, 3, "devices/dev2/messages/devicebound/#"), 1);
  ASSERT_EQ(cli({"c2d", "send", "dev1", "--body", "for dev1"}).code, 0);
  EXPECT_FALSE(next_publish(*dev2, "devices/", 1s)) << "dev1's C2D never reaches dev2";
}

TEST_F(IdentityIsolation, AFloodOfUnacknowledgedTwinRequestsIsCappedPerSession) {
  auto dev1 = connected("dev1");
  ASSERT_EQ(subscribe(*dev1, 1, "$iothub/twin/res/#"), 1);
  constexpr int requests = 400;
  for (int i = 0; i < requests; ++i) { // QoS 0: nothing acknowledges, nothing slows the client
    dev1->send(
        mqtt::publish{false, 0, false, "$iothub/twin/GET/?$rid=" + std::to_string(i), 0, " "});
  }
  int ok = 0;
  int busy = 0;
  while (ok + busy < requests) {
    auto p = next_publish(*dev1, "$iothub/twin/res/", 10s);
    ASSERT_TRUE(p) << "every request is answered (" << ok << " 200, " << busy << " 429)";
    if (p->topic.rfind("$iothub/twin/res/200/", 0) == 0) {
      ++ok;
    } else if (p->topic.rfind("$iothub/twin/res/429/", 0) == 0) {
      EXPECT_NE(p->payload.find("429001"), std::string::npos) << p->payload;
      ++busy;
    }
  }
  EXPECT_GT(ok, 0);
  RecordProperty("answered_429", busy);
  // Whether the cap was reached depends on how fast the registry answers; it never errs.
  dev1->send(mqtt::publish{false, 0, false, "$iothub/twin/GET/?$rid=after", 0, " "});
  auto after = next_publish(*dev1, "$iothub/twin/res/200/");
  ASSERT_TRUE(after) << "the session still works";
}

} // namespace
} // namespace outpost::test
