// The upstream link's client connection against the hub's own server connection, back to back
// in memory: the child edge puts tokens (on behalf of its clients, with the auth-chain), sends
// telemetry on each identity's link, and hears every settlement once.

#include "protocols/amqp/upstream_connection.hpp"

#include "protocols/amqp/hub_connection.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

namespace outpost::amqp {
namespace {

constexpr std::int64_t t0 = 1'800'000'000'000;

struct pair_fixture : ::testing::Test {
  pair_fixture()
      : hub({},
            [this](const iothub::client_identity& who, const std::string& token,
                   std::string_view chain) {
              chains[who.id()] = std::string{chain};
              if (token != "good" || revoked.count(who.id()) != 0) {
                return auth_verdict{false, "refused " + who.id(), 0, false};
              }
              return auth_verdict{true, {}, 0, false};
            }),
        child(upstream_settings{"edgeA", "hub.example"}) {
    child.start(t0);
    pump();
  }

  void pump() {
    for (int i = 0; i < 1000; ++i) {
      auto up = child.take_output();
      auto down = hub.take_output();
      if (up.empty() && down.empty()) {
        break;
      }
      if (!up.empty()) {
        hub.on_bytes(up, t0, hub_events);
      }
      if (!down.empty()) {
        child.on_bytes(down, t0, child_events);
      }
    }
    hub.take_events(hub_events);
    child.take_events(child_events);
  }

  template <class T>
  std::vector<T> child_got() {
    std::vector<T> out;
    for (auto& e : child_events) {
      if (auto* x = std::get_if<T>(&e)) {
        out.push_back(*x);
      }
    }
    return out;
  }
  std::vector<telemetry_event> telemetry() {
    std::vector<telemetry_event> out;
    for (auto& e : hub_events) {
      if (auto* x = std::get_if<telemetry_event>(&e)) {
        out.push_back(*x);
      }
    }
    return out;
  }

  static routing::message msg(std::string body) {
    routing::message m;
    m.body = std::move(body);
    return m;
  }

  std::map<std::string, std::string> chains;
  std::set<std::string> revoked;
  hub_connection hub;
  upstream_connection child;
  events hub_events;
  up::events child_events;
};

using UpstreamConnection = pair_fixture;

TEST_F(UpstreamConnection, OpensAndCarriesTelemetryOfManyIdentitiesEachOnItsOwnLink) {
  ASSERT_EQ(child_got<up::opened>().size(), 1u);
  const iothub::client_identity leaf{"leaf1", ""};
  const iothub::client_identity mod{"edgeA", "filter"};
  ASSERT_TRUE(child.put_token(leaf, "hub.example/devices/leaf1", "good", "leaf1;edgeA"));
  ASSERT_TRUE(child.put_token(mod, "hub.example/devices/edgeA/modules/filter", "good", ""));
  auto out = msg("from the module");
  out.set(routing::system_property::output_name, "out1");
  out.set(routing::system_property::message_id, "m-1");
  out.properties.emplace_back("k", "v");
  child.send(leaf, msg("one"), 11);
  child.send(mod, out, 12);
  child.send(leaf, msg("two"), 13);
  pump();
  auto answers = child_got<up::token_answered>();
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[0].status, 200);
  EXPECT_EQ(chains["leaf1"], "leaf1;edgeA");
  EXPECT_EQ(chains["edgeA/filter"], "");
  auto got = telemetry();
  ASSERT_EQ(got.size(), 3u);
  std::vector<std::string> leaf_bodies;
  for (auto& t : got) {
    if (t.who.id() == "leaf1") {
      leaf_bodies.push_back(t.msg.body);
    } else {
      EXPECT_EQ(t.who.id(), "edgeA/filter");
      EXPECT_EQ(t.msg.body, "from the module");
      EXPECT_EQ(t.msg.get(routing::system_property::output_name).value_or(""), "out1");
      EXPECT_EQ(t.msg.get(routing::system_property::message_id).value_or(""), "m-1");
      EXPECT_EQ(t.msg.property("k").value_or(""), "v");
    }
  }
  EXPECT_EQ(leaf_bodies, (std::vector<std::string>{"one", "two"})); // in order per identity
  EXPECT_EQ(child.in_flight(), 3u);
  EXPECT_TRUE(child_got<up::settled>().empty()); // nothing settled before the hub says so
  for (auto& t : got) {
    hub.settle(t.delivery, t.msg.body == "two" ? outcome::rejected : outcome::accepted);
  }
  pump();
  std::map<std::uint64_t, up::settled::how> settled;
  for (auto& s : child_got<up::settled>()) {
    EXPECT_TRUE(settled.emplace(s.token, s.outcome).second) << "settled twice: " << s.token;
  }
  EXPECT_EQ(settled[11], up::settled::how::accepted);
  EXPECT_EQ(settled[12], up::settled::how::accepted);
  EXPECT_EQ(settled[13], up::settled::how::rejected);
  EXPECT_EQ(child.in_flight(), 0u);
}

TEST_F(UpstreamConnection, ARefusedTokenSendsNothingAndSaysWhy) {
  const iothub::client_identity leaf{"leaf2", ""};
  child.put_token(leaf, "hub.example/devices/leaf2", "bad", "leaf2;edgeA");
  child.send(leaf, msg("held"), 1);
  pump();
  auto answers = child_got<up::token_answered>();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].status, 401);
  EXPECT_EQ(answers[0].description, "refused leaf2");
  EXPECT_FALSE(child.authorized(leaf));
  EXPECT_TRUE(telemetry().empty());
  EXPECT_EQ(child.in_flight(), 1u); // waits for a token that works
  // A good token later lets it go.
  child.put_token(leaf, "hub.example/devices/leaf2", "good", "leaf2;edgeA");
  pump();
  ASSERT_EQ(telemetry().size(), 1u);
}

TEST_F(UpstreamConnection, LosingTheSocketReleasesEverythingUnsettledOnce) {
  const iothub::client_identity leaf{"leaf3", ""};
  child.put_token(leaf, "hub.example/devices/leaf3", "good", "leaf3;edgeA");
  pump();
  for (std::uint64_t i = 1; i <= 5; ++i) {
    child.send(leaf, msg("m" + std::to_string(i)), i);
  }
  pump();
  ASSERT_EQ(telemetry().size(), 5u);
  hub.settle(telemetry()[0].delivery, outcome::accepted);
  pump();
  child_events.clear();
  child.on_disconnected(child_events);
  auto settled = child_got<up::settled>();
  ASSERT_EQ(settled.size(), 4u);
  for (auto& s : settled) {
    EXPECT_EQ(s.outcome, up::settled::how::released);
    EXPECT_NE(s.token, 1u);
  }
  EXPECT_EQ(child_got<up::closed>().size(), 1u);
  EXPECT_TRUE(child.finished());
  // Sends after the end come back at once.
  child_events.clear();
  child.send(leaf, msg("late"), 9);
  child.take_events(child_events);
  ASSERT_EQ(child_got<up::settled>().size(), 1u);
}

TEST_F(UpstreamConnection, ALinkTheParentClosesReleasesItsMessages) {
  const iothub::client_identity leaf{"leaf4", ""};
  child.put_token(leaf, "hub.example/devices/leaf4", "good", "leaf4;edgeA");
  pump();
  child.send(leaf, msg("a"), 1);
  child.send(leaf, msg("b"), 2);
  pump();
  ASSERT_EQ(telemetry().size(), 2u);
  child_events.clear();
  // The parent's registry changes (the device left the edge's scope): the link is closed.
  revoked.insert("leaf4");
  hub.reauthenticate(hub_events);
  pump();
  auto closed = child_got<up::link_closed>();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].id, "leaf4");
  EXPECT_NE(closed[0].why.find("no longer authorized"), std::string::npos) << closed[0].why;
  auto settled = child_got<up::settled>();
  ASSERT_EQ(settled.size(), 2u);
  EXPECT_EQ(settled[0].outcome, up::settled::how::released);
  EXPECT_FALSE(child.authorized(leaf));
  EXPECT_EQ(child.in_flight(), 0u);
}

TEST_F(UpstreamConnection, AChildEdgeCarriesMoreIdentitiesThanADeviceConnectionMayOpenSessions) {
  // One session per identity: past the 64 sessions of an ordinary connection once the
  // connection is a child edge's (its tokens carry an auth-chain).
  for (int i = 0; i < 150; ++i) {
    const iothub::client_identity leaf{"leaf" + std::to_string(i), ""};
    ASSERT_TRUE(child.put_token(leaf, "hub.example/devices/" + leaf.device_id, "good",
                                leaf.device_id + ";edgeA"));
    child.send(leaf, msg("m" + std::to_string(i)), static_cast<std::uint64_t>(i + 1));
  }
  pump();
  EXPECT_EQ(telemetry().size(), 150u);
  EXPECT_TRUE(child_got<up::closed>().empty());
}

TEST_F(UpstreamConnection, WithoutAnAuthChainAConnectionKeepsTheDeviceLimits) {
  for (int i = 0; i < 70; ++i) {
    const iothub::client_identity dev{"dev" + std::to_string(i), ""};
    child.put_token(dev, "hub.example/devices/" + dev.device_id, "good", "");
    child.send(dev, msg("m"), static_cast<std::uint64_t>(i + 1));
  }
  pump();
  // A session each, next to the one of the $cbs links: the 64th identity and later are refused.
  EXPECT_EQ(telemetry().size(), 63u);
  std::size_t refused = 0;
  for (auto& c : child_got<up::link_closed>()) {
    refused += c.why.find("too many sessions") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(refused, 7u);
}

TEST_F(UpstreamConnection, CarriesTheParentsMethodCallsAndC2DMessagesDownToAListeningIdentity) {
  const iothub::client_identity leaf{"leaf5", ""};
  child.put_token(leaf, "hub.example/devices/leaf5", "good", "leaf5;edgeA");
  child.listen(leaf);
  pump();
  ASSERT_TRUE(hub.listening(leaf, outbound::methods));
  ASSERT_TRUE(hub.listening(leaf, outbound::c2d));

  hub.method_request(leaf, "rid-1", "reboot", "{\"delay\":1}");
  routing::message c2d;
  c2d.body = "to the leaf";
  c2d.set(routing::system_property::message_id, "c2d-1");
  hub.deliver(leaf, outbound::c2d, c2d, 7, 1);
  pump();
  auto calls = child_got<up::method_request>();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].id, "leaf5");
  EXPECT_EQ(calls[0].request_id, "rid-1");
  EXPECT_EQ(calls[0].method, "reboot");
  EXPECT_EQ(calls[0].payload, "{\"delay\":1}");
  auto messages = child_got<up::c2d_message>();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].msg.body, "to the leaf");
  EXPECT_EQ(messages[0].msg.get(routing::system_property::message_id).value_or(""), "c2d-1");

  child.method_response(leaf, "rid-1", 201, "{\"done\":true}");
  child.settle_c2d(messages[0].delivery, up::settled::how::accepted);
  pump();
  bool answered = false;
  bool delivered = false;
  for (auto& e : hub_events) {
    if (auto* r = std::get_if<method_response_event>(&e)) {
      answered = r->who.id() == "leaf5" && r->request_id == "rid-1" && r->status == 201
                 && r->body == "{\"done\":true}";
    } else if (auto* d = std::get_if<delivered_event>(&e)) {
      delivered = d->who.id() == "leaf5" && d->token == 7 && d->how == outcome::accepted;
    }
  }
  EXPECT_TRUE(answered);
  EXPECT_TRUE(delivered);
  // An answer to a call that never came is dropped.
  child.method_response(leaf, "rid-unknown", 200, "{}");
  hub_events.clear();
  pump();
  for (auto& e : hub_events) {
    EXPECT_FALSE(std::holds_alternative<method_response_event>(e));
  }
}

TEST_F(UpstreamConnection, UnlistenClosesTheLinksAndTheParentKeepsAnUnsettledC2DMessage) {
  // The leaf left the child: its C2D and method links close; a C2D message delivered but not
  // settled yet goes back to the parent (released), which keeps it for the next listen.
  const iothub::client_identity leaf{"leaf6", ""};
  child.put_token(leaf, "hub.example/devices/leaf6", "good", "leaf6;edgeA");
  child.listen(leaf);
  pump();
  routing::message c2d;
  c2d.body = "while leaving";
  hub.deliver(leaf, outbound::c2d, c2d, 9, 1);
  pump();
  ASSERT_EQ(child_got<up::c2d_message>().size(), 1u);
  child.unlisten(leaf);
  child.unlisten(leaf); // idempotent
  pump();
  EXPECT_FALSE(hub.listening(leaf, outbound::methods));
  EXPECT_FALSE(hub.listening(leaf, outbound::c2d));
  bool released = false;
  for (auto& e : hub_events) {
    if (auto* d = std::get_if<delivered_event>(&e)) {
      released = d->token == 9 && d->how == outcome::released;
    }
  }
  EXPECT_TRUE(released);
  child.listen(leaf); // back: the links open again
  pump();
  EXPECT_TRUE(hub.listening(leaf, outbound::methods));
  EXPECT_TRUE(hub.listening(leaf, outbound::c2d));
}

} // namespace
} // namespace outpost::amqp
