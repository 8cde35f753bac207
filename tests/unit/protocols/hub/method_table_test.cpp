// Direct method calls (protocols/hub/method_table): sent at once to a listening target,
// parked for the connect timeout otherwise, answered 200 {status, payload}, 404 404103 or
// 504 504101 as IoT Hub answers, and only by the call's own target.

#include "protocols/hub/method_table.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using outpost::hub::method_table;
using json = nlohmann::json;

namespace {

method_table::request call(std::string target, std::int64_t connect_ms = 0,
                           std::int64_t response_ms = 1000) {
  return {std::move(target), "echo", R"({"x":1})", connect_ms, response_ms};
}

const method_table::send* sent(const method_table::outputs& out, std::size_t i = 0) {
  return i < out.size() ? std::get_if<method_table::send>(&out[i]) : nullptr;
}

const method_table::finish* finished(const method_table::outputs& out, std::size_t i = 0) {
  return i < out.size() ? std::get_if<method_table::finish>(&out[i]) : nullptr;
}

} // namespace

TEST(MethodTable, AListeningTargetGetsTheCallAndItsAnswerReachesTheCaller) {
  method_table t;
  method_table::outputs out;
  const auto id = t.invoke(call("dev1"), true, 0, out);
  ASSERT_TRUE(sent(out));
  EXPECT_EQ(sent(out)->id, id);
  EXPECT_EQ(sent(out)->target, "dev1");
  EXPECT_EQ(sent(out)->method, "echo");
  EXPECT_EQ(sent(out)->payload, R"({"x":1})");
  out.clear();
  t.answered("dev1", id, 201, R"({"echoed":{"x":1}})", out);
  ASSERT_TRUE(finished(out));
  EXPECT_EQ(finished(out)->http_status, 200);
  EXPECT_EQ(json::parse(finished(out)->body),
            json::parse(R"({"status":201,"payload":{"echoed":{"x":1}}})"));
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(MethodTable, OnlyTheTargetMayAnswerAndOnlyOnce) {
  method_table t;
  method_table::outputs out;
  const auto id = t.invoke(call("dev1"), true, 0, out);
  out.clear();
  t.answered("dev2", id, 200, "{}", out);
  t.answered("dev1", id + 1, 200, "{}", out);
  EXPECT_TRUE(out.empty()) << "another identity's or an unknown answer is ignored";
  t.answered("dev1", id, 200, "{}", out);
  ASSERT_EQ(out.size(), 1u);
  out.clear();
  t.answered("dev1", id, 200, "{}", out);
  EXPECT_TRUE(out.empty()) << "a second answer is ignored";
}

TEST(MethodTable, NotOnlineWithoutAConnectTimeoutIs404AtOnce) {
  method_table t;
  method_table::outputs out;
  t.invoke(call("dev1"), false, 0, out);
  ASSERT_TRUE(finished(out));
  EXPECT_EQ(finished(out)->http_status, 404);
  EXPECT_EQ(json::parse(finished(out)->body)["errorCode"], 404103);
  EXPECT_EQ(t.in_flight(), 0u);
}

TEST(MethodTable, AParkedCallIsSentWhenItsTargetListensAndTimesOutFromThen) {
  method_table t;
  method_table::outputs out;
  const auto id = t.invoke(call("dev1", 5000, 1000), false, 0, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(t.next_deadline(), 5000);
  t.listening("dev2", 100, out);
  EXPECT_TRUE(out.empty()) << "another target's listener";
  t.listening("dev1", 2000, out);
  ASSERT_TRUE(sent(out));
  EXPECT_EQ(sent(out)->id, id);
  EXPECT_EQ(t.next_deadline(), 3000) << "the response timeout counts from the send";
  out.clear();
  t.on_tick(2999, out);
  EXPECT_TRUE(out.empty());
  t.on_tick(3000, out);
  ASSERT_TRUE(finished(out));
  EXPECT_EQ(finished(out)->http_status, 504);
  EXPECT_EQ(json::parse(finished(out)->body)["errorCode"], 504101);
}

TEST(MethodTable, AParkedCallWhoseTargetNeverListensIs404AfterTheConnectTimeout) {
  method_table t;
  method_table::outputs out;
  t.invoke(call("dev1", 5000), false, 0, out);
  t.on_tick(4999, out);
  EXPECT_TRUE(out.empty());
  t.on_tick(5000, out);
  ASSERT_TRUE(finished(out));
  EXPECT_EQ(finished(out)->http_status, 404);
  EXPECT_EQ(t.next_deadline(), std::numeric_limits<std::int64_t>::max());
}

TEST(MethodTable, AnAnswerThatIsNotJsonReachesTheCallerAsAJsonString) {
  method_table t;
  method_table::outputs out;
  auto id = t.invoke(call("dev1"), true, 0, out);
  out.clear();
  t.answered("dev1", id, 200, "plain \"text\"\xff", out);
  ASSERT_TRUE(finished(out));
  const auto body = json::parse(finished(out)->body);
  EXPECT_TRUE(body["payload"].is_string());
  id = t.invoke(call("dev1"), true, 0, out);
  out.clear();
  t.answered("dev1", id, 200, "", out);
  EXPECT_TRUE(json::parse(finished(out)->body)["payload"].is_null());
}

TEST(MethodTable, CallsInFlightAreCapped) {
  method_table t{2};
  method_table::outputs out;
  t.invoke(call("dev1"), true, 0, out);
  t.invoke(call("dev1"), true, 0, out);
  out.clear();
  t.invoke(call("dev1"), true, 0, out);
  ASSERT_TRUE(finished(out));
  EXPECT_EQ(finished(out)->http_status, 429);
  EXPECT_EQ(t.in_flight(), 2u);
}
