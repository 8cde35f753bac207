// A route endpoint's broker connection against a small broker made of Proton's own server
// engine, back to back in memory: SASL ANONYMOUS, the sender to the configured node, every
// settlement heard once, released on a lost socket, and a refused node ends the connection
// with the broker's reason. (RabbitMQ itself: tests/acceptance/bus_endpoint.test.js.)

#include "protocols/amqp/broker_connection.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/io/connection_driver.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/session.hpp>
#include <proton/target.hpp>

namespace outpost::amqp {
namespace {

constexpr std::int64_t t0 = 1'800'000'000'000;

/// The broker: takes the node "/queue/q", refuses any other; rejects bodies "bad", holds
/// bodies "hold" unsettled, accepts the rest.
class tiny_broker final : public proton::messaging_handler {
public:
  tiny_broker() : driver_("broker") {
    driver_.accept(
        proton::connection_options().handler(*this).sasl_enabled(true).sasl_allowed_mechs(
            "ANONYMOUS"));
  }

  void on_connection_open(proton::connection& c) override {
    vhost = c.virtual_host();
    c.open();
  }
  void on_session_open(proton::session& s) override { s.open(); }
  void on_receiver_open(proton::receiver& r) override {
    node = r.target().address();
    durable_target = r.target().durability_mode() == proton::terminus::CONFIGURATION;
    if (node != "/queue/q") {
      r.close(proton::error_condition("amqp:not-found", "no queue " + node));
      return;
    }
    r.open(proton::receiver_options().credit_window(0).auto_accept(false));
    r.add_credit(credit);
  }
  void on_message(proton::delivery& d, proton::message& m) override {
    const auto body = proton::get<proton::binary>(m.body());
    const std::string text(body.begin(), body.end());
    got.push_back(text);
    const proton::annotation_key key{proton::symbol{"iothub-connection-device-id"}};
    if (m.message_annotations().exists(key)) {
      device = proton::get<std::string>(m.message_annotations().get(key));
    }
    if (text == "bad") {
      d.reject();
    } else if (text != "hold") {
      d.accept();
    }
  }

  std::string take_output() {
    std::string out;
    driver_.dispatch();
    for (;;) {
      auto b = driver_.write_buffer();
      if (b.size == 0) {
        return out;
      }
      out.append(b.data, b.size);
      driver_.write_done(b.size);
      driver_.dispatch();
    }
  }
  void feed(std::string_view bytes) {
    while (!bytes.empty()) {
      auto b = driver_.read_buffer();
      if (b.size == 0) {
        driver_.dispatch();
        return;
      }
      const auto n = std::min(b.size, bytes.size());
      std::memcpy(b.data, bytes.data(), n);
      driver_.read_done(n);
      bytes.remove_prefix(n);
      driver_.dispatch();
    }
  }

  int credit = 100;
  std::string vhost;
  std::string node;
  bool durable_target = false;
  std::string device;
  std::vector<std::string> got;

private:
  proton::io::connection_driver driver_;
};

struct BrokerConnection : ::testing::Test {
  void start(std::string address) {
    client.emplace(broker_settings{"edge1", "bus.example", "", "", std::move(address)});
    client->start(t0);
    pump();
  }

  void pump() {
    for (int i = 0; i < 1000; ++i) {
      auto up = client->take_output();
      auto down = broker.take_output();
      if (up.empty() && down.empty()) {
        break;
      }
      broker.feed(up);
      if (!down.empty()) {
        client->on_bytes(down, t0, events);
      }
    }
    client->take_events(events);
  }

  template <class T>
  std::vector<T> got() {
    std::vector<T> out;
    for (auto& e : events) {
      if (auto* x = std::get_if<T>(&e)) {
        out.push_back(*x);
      }
    }
    return out;
  }

  static routing::message msg(std::string body) {
    routing::message m;
    m.body = std::move(body);
    m.set(routing::system_property::connection_device_id, "leaf1");
    return m;
  }

  tiny_broker broker;
  std::optional<broker_connection> client;
  bus::events events;
};

TEST_F(BrokerConnection, SendsToTheNodeAndHearsEverySettlementOnce) {
  start("/queue/q");
  ASSERT_EQ(got<bus::opened>().size(), 1u);
  EXPECT_EQ(broker.vhost, "bus.example");
  EXPECT_TRUE(broker.durable_target); // RabbitMQ then declares a durable queue
  client->send(msg("one"), 1);
  client->send(msg("bad"), 2);
  client->send(msg("three"), 3);
  EXPECT_EQ(client->in_flight(), 3u);
  pump();
  EXPECT_EQ(broker.got, (std::vector<std::string>{"one", "bad", "three"}));
  EXPECT_EQ(broker.device, "leaf1"); // IoT Hub's event annotations travel with it
  auto s = got<bus::settled>();      // in the order the broker's dispositions came
  ASSERT_EQ(s.size(), 3u);
  std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.token < b.token; });
  EXPECT_EQ(s[0].token, 1u);
  EXPECT_EQ(s[0].outcome, bus::settled::how::accepted);
  EXPECT_EQ(s[1].outcome, bus::settled::how::rejected);
  EXPECT_EQ(s[2].outcome, bus::settled::how::accepted);
  EXPECT_EQ(client->in_flight(), 0u);
}

TEST_F(BrokerConnection, SendsNoMoreThanTheBrokerGrantsAndReleasesWhatWasLeftOnALostSocket) {
  broker.credit = 2;
  start("/queue/q");
  for (std::uint64_t t = 1; t <= 5; ++t) {
    client->send(msg("hold"), t);
  }
  pump();
  EXPECT_EQ(broker.got.size(), 2u); // the rest waits for credit
  EXPECT_TRUE(got<bus::settled>().empty());
  client->on_disconnected(events);
  auto s = got<bus::settled>();
  ASSERT_EQ(s.size(), 5u);
  for (const auto& x : s) {
    EXPECT_EQ(x.outcome, bus::settled::how::released);
  }
  EXPECT_EQ(got<bus::closed>().size(), 1u);
  EXPECT_TRUE(client->finished());
  client->send(msg("late"), 6); // after the end: released at once, never lost
  client->take_events(events);
  EXPECT_EQ(got<bus::settled>().back().token, 6u);
}

TEST_F(BrokerConnection, ARefusedNodeEndsTheConnectionWithTheBrokersReason) {
  start("/queue/missing");
  client->send(msg("one"), 1);
  pump();
  EXPECT_TRUE(got<bus::opened>().empty());
  auto c = got<bus::closed>();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_NE(c[0].why.find("no queue /queue/missing"), std::string::npos) << c[0].why;
  auto s = got<bus::settled>();
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].outcome, bus::settled::how::released);
}

} // namespace
} // namespace outpost::amqp
