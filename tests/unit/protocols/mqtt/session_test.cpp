#include "protocols/mqtt/session.hpp"

#include "protocols/mqtt/errc.hpp"

#include <gtest/gtest.h>

namespace outpost::mqtt {
namespace {

constexpr std::int64_t t0 = 1'000'000;

connect hello(std::uint16_t keepalive = 60, bool clean = false) {
  connect c;
  c.client_id = "dev1";
  c.clean_session = clean;
  c.keepalive = keepalive;
  c.username = "hub/dev1/?api-version=2021-04-12";
  c.password = "SharedAccessSignature sr=x&sig=y&se=1";
  return c;
}

template <class T>
const T* find(const actions& out) {
  for (const auto& a : out) {
    if (auto* x = std::get_if<T>(&a)) {
      return x;
    }
  }
  return nullptr;
}

template <class P>
std::vector<P> sent(const actions& out) {
  std::vector<P> v;
  for (const auto& a : out) {
    if (auto* s = std::get_if<send_action>(&a)) {
      if (auto* p = std::get_if<P>(&s->p)) {
        v.push_back(*p);
      }
    }
  }
  return v;
}

/// A session that went through CONNECT and was accepted.
session connected(std::uint16_t keepalive = 60, session_limits limits = {}) {
  session s{limits, t0};
  actions out;
  s.on_packet(hello(keepalive), t0, out);
  s.accept(true, out);
  return s;
}

TEST(MqttSession, AuthenticatesConnectThenAnswersConnack) {
  session s{{}, t0};
  actions out;
  s.on_packet(hello(), t0, out);
  ASSERT_NE(find<authenticate_action>(out), nullptr);
  EXPECT_EQ(find<authenticate_action>(out)->c.client_id, "dev1");
  EXPECT_TRUE(sent<connack>(out).empty()); // nothing before authentication answers
  EXPECT_EQ(s.current(), session::state::authenticating);
  s.accept(true, out);
  ASSERT_EQ(sent<connack>(out).size(), 1u);
  EXPECT_EQ(sent<connack>(out)[0], (connack{true, 0})); // persistent session present
  EXPECT_EQ(s.current(), session::state::connected);
}

TEST(MqttSession, CleanSessionNeverReportsASessionPresent) {
  session s{{}, t0};
  actions out;
  s.on_packet(hello(60, true), t0, out);
  s.accept(true, out);
  EXPECT_EQ(sent<connack>(out)[0], (connack{false, 0})); // [MQTT-3.2.2-1]
}

TEST(MqttSession, RefusalSendsTheReturnCodeAndCloses) {
  session s{{}, t0};
  actions out;
  s.on_packet(hello(), t0, out);
  s.refuse(5, out);
  EXPECT_EQ(sent<connack>(out)[0], (connack{false, 5}));
  ASSERT_NE(find<close_action>(out), nullptr);
  EXPECT_EQ(find<close_action>(out)->why, close_reason::not_authorized);
  EXPECT_FALSE(find<close_action>(out)->publish_will);
}

TEST(MqttSession, FirstPacketMustBeConnect) { // [MQTT-3.1.0-1]
  session s{{}, t0};
  actions out;
  s.on_packet(pingreq{}, t0, out);
  ASSERT_NE(find<close_action>(out), nullptr);
  EXPECT_TRUE(sent<pingresp>(out).empty());
}

TEST(MqttSession, SecondConnectIsAProtocolError) { // [MQTT-3.1.0-2]
  auto s = connected();
  actions out;
  s.on_packet(hello(), t0, out);
  ASSERT_NE(find<close_action>(out), nullptr);
  EXPECT_EQ(find<close_action>(out)->why, close_reason::protocol_error);
}

TEST(MqttSession, UnknownProtocolLevelGetsConnackOneBeforeClosing) { // [MQTT-3.1.2-2]
  session s{{}, t0};
  actions out;
  s.on_decode_error(errc::unsupported_protocol, out);
  EXPECT_EQ(sent<connack>(out)[0], (connack{false, 1}));
  EXPECT_NE(find<close_action>(out), nullptr);
}

TEST(MqttSession, EmptyClientIdWithPersistentSessionIsRefused) { // [MQTT-3.1.3-8]
  session s{{}, t0};
  actions out;
  auto c = hello();
  c.client_id.clear();
  s.on_packet(std::move(c), t0, out);
  EXPECT_EQ(sent<connack>(out)[0], (connack{false, 2}));
  EXPECT_NE(find<close_action>(out), nullptr);
}

TEST(MqttSession, Qos1PubacksFollowArrivalOrderWhateverOrderTheyPersistIn) {
  auto s = connected();
  actions out;
  for (std::uint16_t id : {7, 8, 9}) {
    s.on_packet(publish{false, 1, false, "devices/dev1/messages/events/", id, "x"}, t0, out);
  }
  EXPECT_EQ(s.pending_in(), 3u);
  out.clear();
  s.persisted(9, out);
  s.persisted(8, out);
  EXPECT_TRUE(sent<puback>(out).empty()); // 7 is not durable yet
  s.persisted(7, out);
  auto acks = sent<puback>(out);
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(acks[0].packet_id, 7);
  EXPECT_EQ(acks[1].packet_id, 8);
  EXPECT_EQ(acks[2].packet_id, 9);
  EXPECT_EQ(s.pending_in(), 0u);
}

TEST(MqttSession, Qos0PublishIsRoutedWithoutAnAck) {
  auto s = connected();
  actions out;
  s.on_packet(publish{false, 0, false, "t", 0, "x"}, t0, out);
  EXPECT_NE(find<publish_action>(out), nullptr);
  EXPECT_EQ(s.pending_in(), 0u);
}

TEST(MqttSession, DuplicateOfAPendingPublishIsNotRoutedTwice) {
  auto s = connected();
  actions out;
  s.on_packet(publish{false, 1, false, "t", 5, "x"}, t0, out);
  out.clear();
  s.on_packet(publish{true, 1, false, "t", 5, "x"}, t0, out);
  EXPECT_EQ(find<publish_action>(out), nullptr);
  s.persisted(5, out);
  EXPECT_EQ(sent<puback>(out).size(), 1u);
}

TEST(MqttSession, Qos2PublishClosesTheConnection) {
  auto s = connected();
  actions out;
  s.on_packet(publish{false, 2, false, "t", 1, "x"}, t0, out);
  EXPECT_EQ(find<publish_action>(out), nullptr);
  ASSERT_NE(find<close_action>(out), nullptr);
  EXPECT_EQ(find<close_action>(out)->why, close_reason::qos2_not_supported);
}

TEST(MqttSession, SubscribeGrantsAtMostQos1) {
  auto s = connected();
  actions out;
  s.on_packet(subscribe{3, {{"devices/dev1/modules/m/#", 2}, {"$iothub/twin/res/#", 0}}}, t0, out);
  ASSERT_NE(find<subscribe_action>(out), nullptr);
  auto acks = sent<suback>(out);
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0], (suback{3, {1, 0}}));
}

TEST(MqttSession, OutboundWindowLimitsUnackedPublishesAndPubackFreesIt) {
  session_limits limits;
  limits.max_inflight_out = 2;
  auto s = connected(60, limits);
  actions out;
  EXPECT_TRUE(s.publish_out("a", "1", 101, out));
  EXPECT_TRUE(s.publish_out("a", "2", 102, out));
  EXPECT_FALSE(s.publish_out("a", "3", 103, out));
  auto pubs = sent<publish>(out);
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_EQ(pubs[0].qos, 1);
  EXPECT_NE(pubs[0].packet_id, pubs[1].packet_id);
  out.clear();
  s.on_packet(puback{pubs[1].packet_id}, t0, out);
  ASSERT_NE(find<acked_action>(out), nullptr);
  EXPECT_EQ(find<acked_action>(out)->token, 102u);
  EXPECT_TRUE(s.publish_out("a", "3", 103, out));
}

TEST(MqttSession, PacketIdsSkipZeroAndIdsInFlight) {
  auto s = connected();
  actions out;
  std::uint16_t first = 0;
  for (int i = 0; i < 70000; ++i) {
    ASSERT_TRUE(s.publish_out("a", "x", static_cast<std::uint64_t>(i), out));
    auto id = std::get<publish>(std::get<send_action>(out.back()).p).packet_id;
    ASSERT_NE(id, 0);
    if (i == 0) {
      first = id;
      continue; // keep the first one in flight for the whole run
    }
    actions acks;
    s.on_packet(puback{id}, t0, acks);
    ASSERT_EQ(acks.size(), 1u);
    ASSERT_NE(id, first) << "reused an id still in flight";
  }
}

TEST(MqttSession, KeepaliveClosesAfterOneAndAHalfPeriods) { // [MQTT-3.1.2-24]
  auto s = connected(10);
  actions out;
  EXPECT_EQ(s.next_deadline(), t0 + 15000);
  s.on_tick(t0 + 14999, out);
  EXPECT_EQ(find<close_action>(out), nullptr);
  s.on_packet(pingreq{}, t0 + 14000, out); // any packet resets the timer
  EXPECT_EQ(sent<pingresp>(out).size(), 1u);
  s.on_tick(t0 + 28999, out);
  EXPECT_EQ(find<close_action>(out), nullptr);
  s.on_tick(t0 + 29000, out);
  ASSERT_NE(find<close_action>(out), nullptr);
  EXPECT_EQ(find<close_action>(out)->why, close_reason::keepalive_timeout);
  EXPECT_TRUE(find<close_action>(out)->publish_will);
}

TEST(MqttSession, ConnectMustArriveInTime) {
  session s{{64, 64, 1000}, t0};
  actions out;
  s.on_tick(t0 + 999, out);
  EXPECT_EQ(find<close_action>(out), nullptr);
  s.on_tick(t0 + 1000, out);
  ASSERT_NE(find<close_action>(out), nullptr);
  EXPECT_EQ(find<close_action>(out)->why, close_reason::connect_timeout);
}

TEST(MqttSession, DisconnectClosesWithoutWillAndNothingAfterwards) {
  auto s = connected();
  actions out;
  s.on_packet(disconnect{}, t0, out);
  ASSERT_NE(find<close_action>(out), nullptr);
  EXPECT_FALSE(find<close_action>(out)->publish_will);
  out.clear();
  s.on_packet(pingreq{}, t0, out);
  EXPECT_TRUE(out.empty());
}

TEST(MqttSession, TakeOverClosesTheOldConnection) {
  auto s = connected();
  actions out;
  s.take_over(out);
  ASSERT_NE(find<close_action>(out), nullptr);
  EXPECT_EQ(find<close_action>(out)->why, close_reason::taken_over);
}

} // namespace
} // namespace outpost::mqtt

namespace outpost::mqtt {
namespace {

TEST(MqttSession, KeepaliveZeroOrAboveTheMaximumIsServedAsTenMinutes) { // IoT Edge: 600 s
  for (const std::uint16_t asked : {std::uint16_t{0}, std::uint16_t{601}, std::uint16_t{65535}}) {
    auto s = connected(asked);
    EXPECT_EQ(s.next_deadline(), t0 + 900000) << asked;
    actions out;
    s.on_tick(t0 + 900000, out);
    ASSERT_NE(find<close_action>(out), nullptr) << asked;
    EXPECT_EQ(find<close_action>(out)->why, close_reason::keepalive_timeout);
  }
  EXPECT_EQ(connected(600).next_deadline(), t0 + 900000);
}

TEST(MqttSession, RefusedFiltersGetSubackFailureAndNoAction) {
  session s{{}, t0};
  s.set_filter_policy([](std::string_view f) { return f != "#"; });
  actions out;
  s.on_packet(hello(), t0, out);
  s.accept(false, out);
  out.clear();
  s.on_packet(subscribe{5, {{"#", 1}, {"$iothub/twin/res/#", 0}}}, t0, out);
  EXPECT_EQ(sent<suback>(out)[0], (suback{5, {0x80, 0}}));
  ASSERT_NE(find<subscribe_action>(out), nullptr);
  ASSERT_EQ(find<subscribe_action>(out)->filters.size(), 1u);
  EXPECT_EQ(find<subscribe_action>(out)->filters[0].first, "$iothub/twin/res/#");
  EXPECT_EQ(s.subscriptions(), std::vector<std::string>{"$iothub/twin/res/#"});
}

TEST(MqttSession, SubscriptionsAreCappedAndRepeatsChangeNothing) {
  session_limits limits;
  limits.max_subscriptions = 2;
  auto s = connected(60, limits);
  actions out;
  s.on_packet(subscribe{1, {{"a", 1}, {"b", 1}, {"c", 1}}}, t0, out);
  EXPECT_EQ(sent<suback>(out)[0], (suback{1, {1, 1, 0x80}}));
  out.clear();
  s.on_packet(subscribe{2, {{"a", 0}}}, t0, out);
  EXPECT_EQ(sent<suback>(out)[0], (suback{2, {0}}));
  EXPECT_EQ(find<subscribe_action>(out), nullptr) << "a repeat is not a change";
  out.clear();
  s.on_packet(unsubscribe{3, {"a", "zzz"}}, t0, out);
  ASSERT_NE(find<unsubscribe_action>(out), nullptr);
  EXPECT_EQ(find<unsubscribe_action>(out)->filters, std::vector<std::string>{"a"});
  out.clear();
  s.on_packet(subscribe{4, {{"c", 1}}}, t0, out);
  EXPECT_EQ(sent<suback>(out)[0], (suback{4, {1}}));
}

TEST(MqttSession, RestoredSubscriptionsAreFilteredByThePolicyAndTheCap) {
  session_limits limits;
  limits.max_subscriptions = 2;
  session s{limits, t0};
  s.set_filter_policy([](std::string_view f) { return f != "#"; });
  const auto kept = s.restore_subscriptions({"#", "a", "a", "b", "c"});
  EXPECT_EQ(kept, (std::vector<std::string>{"a", "b"}));
}

TEST(MqttSession, EndClosesWithTheGivenReason) {
  auto s = connected();
  actions out;
  s.end(close_reason::revoked, out);
  ASSERT_NE(find<close_action>(out), nullptr);
  EXPECT_EQ(find<close_action>(out)->why, close_reason::revoked);
  EXPECT_FALSE(find<close_action>(out)->publish_will);
}

} // namespace
} // namespace outpost::mqtt
