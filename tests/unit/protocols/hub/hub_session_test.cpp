#include "protocols/hub/hub_session.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace outpost::hub {
namespace {

using routing::route_spec;

/// A route table bound to queues numbered in opening order (no shell: handles stay empty).
std::shared_ptr<const bound_routes> bind(std::vector<std::pair<std::string, route_spec>> specs) {
  auto compiled = routing::route_table::compile(specs, -1);
  auto table = std::make_shared<routing::route_table>(std::get<routing::route_table>(compiled));
  storage::queue_handle next = 1;
  auto bound = bound_routes::bind(table, "edge",
                                  [&](const std::string&, std::uint32_t, const routing::endpoint&) {
                                    return result<binding>{binding{{}, {}, 0, next++, {}}};
                                  });
  return std::make_shared<const bound_routes>(std::move(*bound));
}

route_spec spec(std::string text, std::uint32_t priority = routing::default_priority,
                std::int64_t ttl = 0) {
  return {std::move(text), priority, ttl};
}

template <class T>
std::vector<T> all_of(const actions& acts) {
  std::vector<T> out;
  for (const auto& a : acts) {
    if (const auto* t = std::get_if<T>(&a)) {
      out.push_back(*t);
    }
  }
  return out;
}

std::vector<std::uint64_t> acks(const actions& acts) {
  std::vector<std::uint64_t> out;
  for (const auto& a : all_of<ack_action>(acts)) {
    out.push_back(a.tag);
  }
  return out;
}

storage::append_outcome ok() {
  return {};
}

storage::append_outcome refused(storage::append_request r) {
  return {std::make_error_code(std::errc::no_space_on_device), {}, std::move(r)};
}

std::vector<storage::append_outcome> all_ok(const append_action& a) {
  return std::vector<storage::append_outcome>(a.requests.size());
}

/// Counts what the core reports, as the shell's metrics would.
struct counting_observer : session_observer {
  std::vector<drop_reason> drops;
  int received_count = 0;
  int refusals = 0;
  int delivered_count = 0;
  void received(const routing::message&, std::size_t) override { ++received_count; }
  void dropped(drop_reason why, const routing::message&) override { drops.push_back(why); }
  void delivered(const routing::message&, const binding&, std::int64_t) override {
    ++delivered_count;
  }
  void store_refused(std::error_code) override { ++refusals; }
};

storage::stored_entry entry(storage::sequence seq, std::string body = "x") {
  routing::message m;
  m.body = std::move(body);
  m.set(routing::system_property::connection_device_id, "edge");
  m.set(routing::system_property::connection_module_id, "sender");
  return {seq, seq, 1000, 0, routing::encode(m)};
}

class HubSession : public ::testing::Test {
protected:
  HubSession() {
    settings_.edge_device_id = "edge";
    settings_.max_pending_in = 4;
  }

  hub_session& open(const std::string& device, const std::string& module = {},
                    std::int64_t expires_s = 0) {
    core_ = std::make_unique<hub_session>(settings_, &observer_);
    core_->open({device, module}, expires_s);
    return *core_;
  }

  /// A device's telemetry topic (no properties).
  static std::string telemetry(const std::string& device) {
    return "devices/" + device + "/messages/events/";
  }

  session_settings settings_;
  counting_observer observer_;
  std::unique_ptr<hub_session> core_;
};

TEST_F(HubSession, AcknowledgesOnlyOnceTheStoreHasTheMessageDurably) {
  auto routes = bind({{"r", spec("FROM /messages/* INTO $upstream")}});
  auto& s = open("d1");
  actions out;
  s.on_publish(telemetry("d1"), "hello", 7, *routes, out);
  s.flush(out);
  ASSERT_EQ(all_of<append_action>(out).size(), 1u);
  EXPECT_TRUE(acks(out).empty()) << "no ack before the store answers";
  const auto append = all_of<append_action>(out).front();
  ASSERT_EQ(append.requests.size(), 1u);
  ASSERT_EQ(append.requests[0].targets.size(), 1u);
  EXPECT_EQ(append.requests[0].targets[0].queue, routes->bindings()[0].queue);
  auto stored = routing::decode(append.requests[0].body);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->body, "hello");
  EXPECT_EQ(stored->get(routing::system_property::connection_device_id), "d1");

  actions after;
  s.on_stored(append.batch, all_ok(append), 0, after);
  EXPECT_EQ(acks(after), (std::vector<std::uint64_t>{7}));
}

TEST_F(HubSession, AcknowledgesInArrivalOrderWhateverOrderTheStoreAnswersIn) {
  auto routes = bind({{"r", spec("FROM /messages/* INTO $upstream")}});
  auto& s = open("d1");
  actions first;
  s.on_publish(telemetry("d1"), "a", 1, *routes, first);
  s.on_publish(telemetry("d1"), "b", 2, *routes, first);
  s.flush(first);
  actions second;
  s.on_publish(telemetry("d1"), "c", 3, *routes, second);
  s.flush(second);
  const auto a1 = all_of<append_action>(first).at(0);
  const auto a2 = all_of<append_action>(second).at(0);
  EXPECT_EQ(a1.requests.size(), 2u) << "one store request per pass";

  actions out;
  s.on_stored(a2.batch, all_ok(a2), 0, out);
  EXPECT_TRUE(acks(out).empty()) << "a later message is not acknowledged before earlier ones";
  s.on_stored(a1.batch, all_ok(a1), 0, out);
  EXPECT_EQ(acks(out), (std::vector<std::uint64_t>{1, 2, 3}));
}

TEST_F(HubSession, DroppedMessagesAreAcknowledgedInTheirPlaceAndCounted) {
  auto routes = bind({{"r", spec("FROM /messages/* WHERE color = 'red' INTO $upstream")}});
  auto& s = open("d1");
  actions out;
  s.on_publish(telemetry("d1") + "color=red", "a", 1, *routes, out);    // routed
  s.on_publish("devices/other/messages/events/", "b", 2, *routes, out); // another's topic
  s.on_publish(telemetry("d1") + "color=blue", "c", 3, *routes, out);   // no route
  s.on_publish("$iothub/twin/PUT/?$rid=1", "", 4, *routes, out);        // no such operation
  s.flush(out);
  EXPECT_TRUE(acks(out).empty()) << "drops wait behind the routed message before them";
  EXPECT_EQ(observer_.drops,
            (std::vector<drop_reason>{drop_reason::unknown_topic, drop_reason::no_route,
                                      drop_reason::unknown_topic}));
  EXPECT_EQ(observer_.received_count, 4);
  const auto append = all_of<append_action>(out).at(0);
  ASSERT_EQ(append.requests.size(), 1u);
  actions after;
  s.on_stored(append.batch, all_ok(append), 0, after);
  EXPECT_EQ(acks(after), (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST_F(HubSession, TwinRequestsBecomeTwinActionsAcknowledgedInTheirPlace) {
  auto routes = bind({{"r", spec("FROM /messages/* INTO $upstream")}});
  auto& s = open("d1");
  actions out;
  s.on_publish("$iothub/twin/GET/?$rid=g1", " ", 1, *routes, out);
  s.on_publish(telemetry("d1"), "t", 2, *routes, out);
  s.on_publish("$iothub/twin/PATCH/properties/reported/?$rid=p1", R"({"a":1})", 3, *routes, out);
  s.on_publish("$iothub/twin/GET/?$rid=g2", " ", 0, *routes, out); // QoS 0: answered, never acked
  s.flush(out);
  const auto twins = all_of<twin_action>(out);
  ASSERT_EQ(twins.size(), 3u);
  EXPECT_EQ(twins[0].op, twin_op::get);
  EXPECT_EQ(twins[0].request_id, "g1");
  EXPECT_EQ(twins[1].op, twin_op::patch_reported);
  EXPECT_EQ(twins[1].request_id, "p1");
  EXPECT_EQ(twins[1].body, R"({"a":1})");
  EXPECT_EQ(observer_.received_count, 1) << "twin requests are not telemetry";
  EXPECT_TRUE(acks(out).empty());

  actions done;
  s.on_twin_done(twins[1].index, done);
  EXPECT_TRUE(acks(done).empty()) << "the patch waits behind the GET and the telemetry";
  s.on_twin_done(twins[0].index, done);
  EXPECT_EQ(acks(done), (std::vector<std::uint64_t>{1}));
  s.on_twin_done(twins[2].index, done); // nothing to acknowledge
  const auto append = all_of<append_action>(out).at(0);
  actions stored;
  s.on_stored(append.batch, all_ok(append), 0, stored);
  EXPECT_EQ(acks(stored), (std::vector<std::uint64_t>{2, 3}));
}

TEST_F(HubSession, AReportedPatchIsRoutedAsATwinChangeNotification) {
  auto routes = bind({{"changes", spec("FROM /twinChangeNotifications INTO $upstream")},
                      {"telemetry", spec("FROM /messages/* INTO BrokeredEndpoint("
                                         "\"/modules/m/inputs/i\")")}});
  auto& s = open("d1", "mod");
  actions out;
  s.on_reported(R"({"a":1})", *routes, out);
  s.flush(out);
  const auto append = all_of<append_action>(out).at(0);
  ASSERT_EQ(append.requests.size(), 1u);
  ASSERT_EQ(append.requests[0].targets.size(), 1u) << "only the twin change route";
  auto stored = routing::decode(append.requests[0].body);
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->body, R"({"a":1})");
  EXPECT_EQ(stored->get(routing::system_property::message_schema), "twinChangeNotification");
  EXPECT_EQ(stored->get(routing::system_property::content_type), "application/json");
  EXPECT_EQ(stored->get(routing::system_property::connection_device_id), "d1");
  EXPECT_EQ(stored->get(routing::system_property::connection_module_id), "mod");
  actions after;
  s.on_stored(append.batch, all_ok(append), 0, after);
  EXPECT_TRUE(acks(after).empty()) << "nobody waits for a notification's acknowledgement";
}

/// Device d1's C2D queue (mailbox 77), as the C2D actor hands it out.
std::shared_ptr<binding> c2d_queue() {
  auto queue = std::make_shared<binding>();
  queue->endpoint_id = "$c2d/d1";
  queue->queue = 77;
  queue->device_bound = true;
  return queue;
}

TEST_F(HubSession, ADeviceAttachesItsC2DQueueOnceAndGetsItsMessages) {
  const auto queue = c2d_queue();
  auto& s = open("d1");
  actions out;
  s.want_c2d(queue, out);
  s.want_c2d(queue, out);
  const auto attached = all_of<attach_action>(out);
  ASSERT_EQ(attached.size(), 1u) << "attached once";
  EXPECT_EQ(attached[0].mailbox, queue.get());
  actions delivered;
  s.on_entries(77, {entry(1, "c2d body")}, delivered);
  const auto d = all_of<deliver_action>(delivered);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_TRUE(d[0].from->device_bound);
  EXPECT_EQ(d[0].msg.body, "c2d body");
  actions released;
  s.on_delivered(d[0].token, released);
  s.flush(released);
  const auto r = all_of<release_action>(released);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].mailbox, queue.get());

  auto& m = open("d1", "mod");
  actions none;
  m.want_c2d(queue, none);
  EXPECT_TRUE(all_of<attach_action>(none).empty()) << "modules have no C2D";
}

TEST_F(HubSession, AnAbandonedC2DMessageComesAgainUntilItsDeliveryCountRunsOut) {
  const auto queue = c2d_queue();
  auto& s = open("d1");
  actions out;
  s.want_c2d(queue, out);
  actions first;
  s.on_entries(77, {entry(1, "c2d body")}, first);
  auto d = all_of<deliver_action>(first);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].delivery_count, 0u);
  // Abandoned nine times: each time it comes again, counted, and the mailbox keeps it.
  for (std::uint32_t n = 1; n < 10; ++n) {
    actions again;
    s.on_abandoned(d[0].token, again);
    s.flush(again);
    EXPECT_TRUE(all_of<release_action>(again).empty()) << n;
    d = all_of<deliver_action>(again);
    ASSERT_EQ(d.size(), 1u) << n;
    EXPECT_EQ(d[0].delivery_count, n);
    EXPECT_EQ(d[0].msg.body, "c2d body");
  }
  EXPECT_EQ(observer_.delivered_count, 1) << "a message is counted as sent once";
  // The tenth abandon: dropped (IoT Hub dead-letters it) and released from the mailbox.
  actions last;
  s.on_abandoned(d[0].token, last);
  s.flush(last);
  EXPECT_TRUE(all_of<deliver_action>(last).empty());
  const auto r = all_of<release_action>(last);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seqs, std::vector<storage::sequence>{1});
  ASSERT_EQ(observer_.drops.size(), 1u);
  EXPECT_EQ(observer_.drops[0], drop_reason::max_delivery_count);
}

TEST_F(HubSession, AMethodResponseGoesToTheCallerAndIsAcknowledgedInItsPlace) {
  auto routes = bind({{"r", spec("FROM /messages/* INTO $upstream")}});
  auto& s = open("d1");
  actions out;
  s.on_publish(telemetry("d1"), "t", 1, *routes, out);
  s.on_publish("$iothub/methods/res/201/?$rid=42", R"({"ok":true})", 2, *routes, out);
  s.flush(out);
  const auto answers = all_of<method_response_action>(out);
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].request_id, "42");
  EXPECT_EQ(answers[0].status, 201);
  EXPECT_EQ(answers[0].body, R"({"ok":true})");
  EXPECT_TRUE(acks(out).empty()) << "behind the telemetry";
  const auto append = all_of<append_action>(out).at(0);
  ASSERT_EQ(append.requests.size(), 1u) << "a method response is not stored";
  actions after;
  s.on_stored(append.batch, all_ok(append), 0, after);
  EXPECT_EQ(acks(after), (std::vector<std::uint64_t>{1, 2}));
}

TEST_F(HubSession, AtMostOnceMessagesAreStoredButNeverAcknowledged) {
  auto routes = bind({{"r", spec("FROM /messages/* INTO $upstream")}});
  auto& s = open("d1");
  actions out;
  s.on_publish(telemetry("d1"), "a", 0, *routes, out);
  s.on_publish(telemetry("d1"), "b", 5, *routes, out);
  s.flush(out);
  const auto append = all_of<append_action>(out).at(0);
  EXPECT_EQ(append.requests.size(), 2u);
  EXPECT_EQ(s.pending_in(), 1u);
  actions after;
  s.on_stored(append.batch, all_ok(append), 0, after);
  EXPECT_EQ(acks(after), (std::vector<std::uint64_t>{5}));
}

TEST_F(HubSession, OneCopyPerEndpointAtTheHighestPriorityWithItsTtl) {
  auto routes =
      bind({{"low", spec("FROM /messages/* INTO $upstream", 5, 60)},
            {"high", spec("FROM /messages/* INTO $upstream", 1, 10)},
            {"m", spec(R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/in"))")}});
  ASSERT_EQ(routes->bindings().size(), 3u);
  auto& s = open("d1");
  actions out;
  s.on_publish(telemetry("d1"), "a", 1, *routes, out);
  s.flush(out);
  const auto req = all_of<append_action>(out).at(0).requests.at(0);
  ASSERT_EQ(req.targets.size(), 2u);
  const auto* up = routes->find("iothub", 1);
  const auto* module = routes->find("edge/m/in", routing::default_priority);
  ASSERT_TRUE(up && module);
  EXPECT_EQ(req.targets[0].queue, up->queue);
  EXPECT_EQ(req.targets[0].ttl_ms, 10000);
  EXPECT_EQ(req.targets[1].queue, module->queue);
  EXPECT_EQ(req.targets[1].ttl_ms, -1);
}

TEST_F(HubSession, AFullStoreStopsReadingAndRetriesUntilTheMessageFitsNeverLosingIt) {
  settings_.store_retry_ms = 200;
  auto routes = bind({{"r", spec("FROM /messages/* INTO $upstream")}});
  auto& s = open("d1");
  actions out;
  s.on_publish(telemetry("d1"), "a", 1, *routes, out);
  s.on_publish(telemetry("d1"), "b", 2, *routes, out);
  s.flush(out);
  auto append = all_of<append_action>(out).at(0);
  EXPECT_TRUE(s.reading());

  actions refused_out;
  std::vector<storage::append_outcome> outs;
  outs.push_back(ok());
  outs.push_back(refused(append.requests[1]));
  s.on_stored(append.batch, std::move(outs), 1000, refused_out);
  EXPECT_EQ(acks(refused_out), (std::vector<std::uint64_t>{1}));
  EXPECT_FALSE(s.reading()) << "input is not read while the store refuses";
  EXPECT_EQ(observer_.refusals, 1);
  EXPECT_EQ(s.next_deadline(), 1200);

  actions early;
  s.on_tick(1199, early);
  EXPECT_TRUE(early.empty());
  for (int attempt = 0; attempt < 3; ++attempt) {
    actions retry;
    s.on_tick(s.next_deadline(), retry);
    auto again = all_of<append_action>(retry);
    ASSERT_EQ(again.size(), 1u);
    ASSERT_EQ(again[0].requests.size(), 1u);
    EXPECT_EQ(routing::decode(again[0].requests[0].body)->body, "b");
    actions still;
    std::vector<storage::append_outcome> r;
    r.push_back(refused(again[0].requests[0]));
    s.on_stored(again[0].batch, std::move(r), 2000 + attempt * 200, still);
    EXPECT_TRUE(acks(still).empty());
    EXPECT_FALSE(s.reading());
  }
  EXPECT_EQ(observer_.refusals, 1) << "reported once per stall, not per retry";

  actions retry;
  s.on_tick(s.next_deadline(), retry);
  auto last = all_of<append_action>(retry).at(0);
  actions done;
  s.on_stored(last.batch, all_ok(last), 3000, done);
  EXPECT_EQ(acks(done), (std::vector<std::uint64_t>{2}));
  EXPECT_TRUE(s.reading());
  EXPECT_EQ(s.next_deadline(), std::numeric_limits<std::int64_t>::max());
}

TEST_F(HubSession, TooManyUnacknowledgedMessagesStopReadingUntilHalfAreDone) {
  auto routes = bind({{"r", spec("FROM /messages/* INTO $upstream")}});
  auto& s = open("d1");
  std::vector<append_action> appends;
  for (std::uint64_t tag = 1; tag <= 4; ++tag) {
    actions out;
    s.on_publish(telemetry("d1"), "m", tag, *routes, out);
    s.flush(out);
    appends.push_back(all_of<append_action>(out).at(0));
    EXPECT_EQ(s.reading(), tag < 4) << tag;
  }
  actions out;
  s.on_stored(appends[0].batch, all_ok(appends[0]), 0, out);
  EXPECT_FALSE(s.reading()) << "3 pending: above half of 4";
  s.on_stored(appends[1].batch, all_ok(appends[1]), 0, out);
  EXPECT_TRUE(s.reading()) << "2 pending: reading resumes";
}

TEST_F(HubSession, AModuleAttachesItsInputsHighestPriorityFirstAndTheNextWhenDrained) {
  const auto to_in = R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/in"))";
  const auto to_other = R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/other"))";
  auto routes = bind(
      {{"low", spec(to_in, 7)},
       {"high",
        spec(R"(FROM /messages/modules/x/* INTO BrokeredEndpoint("/modules/m/inputs/in"))", 2)},
       {"o", spec(to_other)},
       {"else", spec(R"(FROM /messages/* INTO BrokeredEndpoint("/modules/n/inputs/in"))")}});
  auto& s = open("edge", "m");
  actions out;
  s.want_inputs(routes, out);
  auto attached = all_of<attach_action>(out);
  ASSERT_EQ(attached.size(), 2u) << "one queue per input starts: in@2 and other";
  EXPECT_EQ(attached[0].mailbox, routes->find("edge/m/in", 2));
  EXPECT_EQ(attached[1].mailbox, routes->find("edge/m/other", routing::default_priority));

  actions drained;
  s.on_drained(routes->find("edge/m/in", 2)->queue, drained);
  attached = all_of<attach_action>(drained);
  ASSERT_EQ(attached.size(), 1u);
  EXPECT_EQ(attached[0].mailbox, routes->find("edge/m/in", 7));

  actions nothing;
  s.on_drained(routes->find("edge/m/in", 7)->queue, nothing);
  s.on_drained(routes->find("edge/m/other", routing::default_priority)->queue, nothing);
  EXPECT_TRUE(nothing.empty());
}

TEST_F(HubSession, ARouteChangeAttachesNewQueuesOfAFlowingInputAtOnce) {
  const auto to_in = R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/in"))";
  auto first = bind({{"a", spec(to_in, 3)}});
  auto& s = open("edge", "m");
  actions out;
  s.want_inputs(first, out);
  ASSERT_EQ(all_of<attach_action>(out).size(), 1u);

  // The shell reuses the mailbox of a queue it already had: same queue handle.
  auto compiled = routing::route_table::compile({{"a", spec(to_in, 3)}, {"b", spec(to_in, 1)}}, -1);
  auto table = std::make_shared<routing::route_table>(std::get<routing::route_table>(compiled));
  auto second = std::make_shared<const bound_routes>(*bound_routes::bind(
      table, "edge", [&](const std::string&, std::uint32_t priority, const routing::endpoint&) {
        return result<binding>{
            binding{{}, {}, 0, priority == 3 ? first->bindings()[0].queue : 99, {}}};
      }));
  actions changed;
  s.on_routes(second, changed);
  auto attached = all_of<attach_action>(changed);
  ASSERT_EQ(attached.size(), 1u) << "only the new queue";
  EXPECT_EQ(attached[0].mailbox->queue, 99u);
  actions same;
  s.on_routes(second, same);
  EXPECT_TRUE(same.empty());
}

TEST_F(HubSession, AQueueWaitingForItsTurnThatARouteChangeAttachedIsNotAttachedTwice) {
  const auto to_in = R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/in"))";
  auto compiled =
      routing::route_table::compile({{"hi", spec(to_in, 0)}, {"lo", spec(to_in, 3)}}, -1);
  auto t1 = std::make_shared<routing::route_table>(std::get<routing::route_table>(compiled));
  auto open_queue = [](const std::string&, std::uint32_t priority, const routing::endpoint&) {
    return result<binding>{binding{{}, {}, 0, priority + 10, {}}};
  };
  auto first = std::make_shared<const bound_routes>(*bound_routes::bind(t1, "edge", open_queue));
  auto& s = open("edge", "m");
  actions out;
  s.want_inputs(first, out);
  ASSERT_EQ(all_of<attach_action>(out).size(), 1u); // in@0; in@3 waits for it to drain
  // A new deployment keeps only the low priority route: the input is flowing, so in@3 starts.
  auto t2 = std::make_shared<routing::route_table>(
      std::get<routing::route_table>(routing::route_table::compile({{"lo", spec(to_in, 3)}}, -1)));
  auto second = std::make_shared<const bound_routes>(*bound_routes::bind(t2, "edge", open_queue));
  actions changed;
  s.on_routes(second, changed);
  ASSERT_EQ(all_of<attach_action>(changed).size(), 1u);
  actions drained;
  s.on_drained(10, drained);
  EXPECT_TRUE(drained.empty()) << "in@3 is attached already";
}

TEST_F(HubSession, DevicesAndModulesThatDidNotAskForInputsAttachNothing) {
  auto routes =
      bind({{"r", spec(R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/in"))")}});
  auto& device = open("m");
  actions out;
  device.want_inputs(routes, out);
  EXPECT_TRUE(out.empty());
  auto& module = open("edge", "m");
  module.on_routes(routes, out);
  EXPECT_TRUE(out.empty()) << "not subscribed to its inputs";
}

class HubSessionDelivery : public HubSession {
protected:
  void SetUp() override {
    settings_.max_inflight_out = 2;
    routes_ =
        bind({{"r", spec(R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/in"))")}});
    queue_ = routes_->bindings()[0].queue;
    actions out;
    open("edge", "m").want_inputs(routes_, out);
  }

  std::shared_ptr<const bound_routes> routes_;
  storage::queue_handle queue_ = 0;
};

TEST_F(HubSessionDelivery, DeliversWithinItsWindowAndReleasesAcknowledgedEntriesPerBurst) {
  auto& s = *core_;
  actions out;
  std::vector<storage::stored_entry> es;
  es.push_back(entry(1, "one"));
  es.push_back(entry(2, "two"));
  es.push_back(entry(3, "three"));
  s.on_entries(queue_, std::move(es), out);
  auto sent = all_of<deliver_action>(out);
  ASSERT_EQ(sent.size(), 2u) << "window of 2";
  EXPECT_EQ(sent[0].msg.body, "one");
  EXPECT_EQ(sent[0].from->target.input, "in");
  EXPECT_EQ(s.inflight_out(), 2u);

  actions acked;
  s.on_delivered(sent[1].token, acked);
  auto third = all_of<deliver_action>(acked);
  ASSERT_EQ(third.size(), 1u) << "room in the window: the waiting entry goes";
  EXPECT_EQ(third[0].msg.body, "three");
  s.on_delivered(sent[0].token, acked);
  s.on_delivered(sent[0].token, acked); // a duplicate ack changes nothing
  EXPECT_TRUE(all_of<release_action>(acked).empty()) << "released once per pass, at flush";
  s.flush(acked);
  auto released = all_of<release_action>(acked);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].mailbox->queue, queue_);
  EXPECT_EQ(released[0].seqs, (std::vector<storage::sequence>{2, 1}));
  EXPECT_EQ(observer_.delivered_count, 3);
}

TEST_F(HubSessionDelivery, EntriesWaitingForTheWindowGoOutOldestFirst) {
  actions out;
  core_->on_entries(
      queue_, {entry(1, "1"), entry(2, "2"), entry(3, "3"), entry(4, "4"), entry(5, "5")}, out);
  std::vector<std::string> order;
  for (auto& d : all_of<deliver_action>(out)) {
    order.push_back(d.msg.body);
  }
  for (int round = 0; round < 3; ++round) {
    auto sent = all_of<deliver_action>(out);
    out.clear();
    for (const auto& d : sent) {
      core_->on_delivered(d.token, out);
    }
    for (auto& d : all_of<deliver_action>(out)) {
      order.push_back(d.msg.body);
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"1", "2", "3", "4", "5"}));
}

TEST_F(HubSessionDelivery, WhatWasNotAcknowledgedIsDeliveredAgainToTheNextSession) {
  actions out;
  std::vector<storage::stored_entry> es{entry(1, "one"), entry(2, "two")};
  core_->on_entries(queue_, es, out);
  auto sent = all_of<deliver_action>(out);
  ASSERT_EQ(sent.size(), 2u);
  actions acked;
  core_->on_delivered(sent[0].token, acked);
  core_->flush(acked);
  core_->close(); // the connection dropped before the second ack

  // The mailbox rewinds to its oldest unacknowledged entry for the next consumer.
  actions again;
  open("edge", "m").want_inputs(routes_, again);
  ASSERT_EQ(all_of<attach_action>(again).size(), 1u);
  core_->on_entries(queue_, {entry(2, "two")}, again);
  auto redelivered = all_of<deliver_action>(again);
  ASSERT_EQ(redelivered.size(), 1u);
  EXPECT_EQ(redelivered[0].msg.body, "two");
  actions done;
  core_->on_delivered(redelivered[0].token, done);
  core_->flush(done);
  EXPECT_EQ(all_of<release_action>(done).at(0).seqs, (std::vector<storage::sequence>{2}));
}

TEST_F(HubSessionDelivery, AnUndecodableStoredEntryIsReleasedAndCountedNotDelivered) {
  actions out;
  core_->on_entries(queue_, {{1, 1, 0, 0, "not a message"}, entry(2)}, out);
  EXPECT_EQ(all_of<deliver_action>(out).size(), 1u);
  core_->flush(out);
  EXPECT_EQ(all_of<release_action>(out).at(0).seqs, (std::vector<storage::sequence>{1}));
  EXPECT_EQ(observer_.drops, (std::vector<drop_reason>{drop_reason::undecodable}));
}

TEST_F(HubSessionDelivery, EntriesOfAQueueNotAttachedAreIgnored) {
  actions out;
  core_->on_entries(queue_ + 100, {entry(1)}, out);
  EXPECT_TRUE(out.empty());
}

TEST_F(HubSession, ATakenOverSessionAcknowledgesAndDeliversNothingMore) {
  auto routes = bind({{"r", spec("FROM /messages/* INTO $upstream")}});
  auto& s = open("d1");
  actions out;
  s.on_publish(telemetry("d1"), "a", 1, *routes, out);
  s.flush(out);
  const auto append = all_of<append_action>(out).at(0);
  s.close(); // another connection took the client id over
  actions after;
  s.on_stored(append.batch, all_ok(append), 0, after);
  s.on_publish(telemetry("d1"), "b", 2, *routes, after);
  s.flush(after);
  s.on_tick(1'000'000, after);
  EXPECT_TRUE(after.empty()) << "the new connection's client resends what was not acknowledged";
}

TEST_F(HubSession, AClientThatDoesNotReadIsNotReadAndEndedWhenItStaysFull) {
  settings_.max_output_bytes = 1000;
  settings_.output_stall_ms = 30000;
  auto& s = open("d1");
  actions out;
  s.on_output(999, 0, out);
  EXPECT_TRUE(s.reading());
  s.on_output(1500, 100, out);
  EXPECT_FALSE(s.reading());
  EXPECT_EQ(s.next_deadline(), 200);
  s.on_output(1400, 20000, out); // draining, if slowly: the stall clock restarts
  s.on_output(1400, 49000, out);
  EXPECT_TRUE(all_of<end_action>(out).empty());
  s.on_output(1400, 50000, out);
  EXPECT_EQ(all_of<end_action>(out).size(), 1u);

  auto& t = open("d2");
  actions fine;
  t.on_output(1500, 0, fine);
  t.on_output(500, 100, fine);
  EXPECT_TRUE(t.reading()) << "drained to half";
  EXPECT_TRUE(fine.empty());
}

TEST_F(HubSession, ExpiredCredentialsAreCheckedAgainAfterTheirLastSecond) {
  auto& s = open("d1", {}, 100);
  EXPECT_EQ(s.next_deadline(), 101000);
  actions out;
  s.on_tick(100999, out);
  EXPECT_TRUE(out.empty());
  s.on_tick(101000, out);
  EXPECT_EQ(all_of<reauthenticate_action>(out).size(), 1u);
  EXPECT_EQ(s.next_deadline(), std::numeric_limits<std::int64_t>::max());
}

TEST_F(HubSession, TelemetryMappedByAnotherProtocolIsStampedWithTheConnectionsIdentity) {
  auto routes = bind({{"r", spec("FROM /messages/modules/m/* INTO $upstream")}});
  auto& s = open("edge", "m");
  routing::message m;
  m.body = "x";
  m.set(routing::system_property::connection_device_id, "forged");
  actions out;
  s.on_telemetry(std::move(m), 1, *routes, out);
  s.flush(out);
  auto stored = routing::decode(all_of<append_action>(out).at(0).requests.at(0).body);
  EXPECT_EQ(stored->get(routing::system_property::connection_device_id), "edge");
  EXPECT_EQ(stored->get(routing::system_property::connection_module_id), "m");
}

TEST(BoundRoutes, EveryRouteIsBoundOncePerEndpointAndPriorityInIdOrder) {
  auto routes =
      bind({{"a", spec("FROM /messages/* INTO $upstream", 3)},
            {"b", spec("FROM /messages/modules/x/* INTO $upstream", 3)},
            {"c", spec(R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/in"))")},
            {"d", spec("FROM /messages/* INTO $upstream", 1)}});
  const auto& b = routes->bindings();
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].endpoint_id, "edge/m/in");
  EXPECT_EQ(b[1].endpoint_id, "iothub");
  EXPECT_EQ(b[1].priority, 1u);
  EXPECT_EQ(b[2].priority, 3u);
  EXPECT_EQ(routes->inputs_of("edge/m").size(), 1u);
  EXPECT_TRUE(routes->inputs_of("edge").empty());
  EXPECT_TRUE(routes->inputs_of("edge/m/in").empty());
}

TEST(BoundRoutes, ABindingErrorFailsTheWholeBinding) {
  auto compiled =
      routing::route_table::compile({{"a", spec("FROM /messages/* INTO $upstream")}}, -1);
  auto table = std::make_shared<routing::route_table>(std::get<routing::route_table>(compiled));
  auto bound = bound_routes::bind(
      table, "edge",
      [](const std::string&, std::uint32_t, const routing::endpoint&) -> result<binding> {
        return std::make_error_code(std::errc::io_error);
      });
  ASSERT_FALSE(bound);
  EXPECT_EQ(bound.error(), std::errc::io_error);
}

TEST_F(HubSessionDelivery, AnAbandonedModuleInputIsDone) {
  actions got;
  core_->on_entries(queue_, {entry(5)}, got);
  const auto d = all_of<deliver_action>(got);
  ASSERT_EQ(d.size(), 1u);
  actions done;
  core_->on_abandoned(d[0].token, done);
  core_->flush(done);
  EXPECT_TRUE(all_of<deliver_action>(done).empty()) << "IoT Edge drops an input not completed";
  const auto r = all_of<release_action>(done);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].seqs, std::vector<storage::sequence>{5});
}

} // namespace
} // namespace outpost::hub
