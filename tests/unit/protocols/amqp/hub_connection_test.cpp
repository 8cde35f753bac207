// hub_connection against a real AMQP client: Proton's own client-side connection_driver,
// wired back to back in memory (no sockets). The client plays the Node SDK's part: no SASL,
// CBS put-token, then links of the identity it put a token for.

#include "protocols/amqp/hub_connection.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <proton/binary.hpp>
#include <proton/codec/vector.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/delivery.h>
#include <proton/delivery.hpp>
#include <proton/error_condition.hpp>
#include <proton/io/connection_driver.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/scalar.hpp>
#include <proton/sender.hpp>
#include <proton/source.hpp>
#include <proton/target.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/uuid.hpp>

namespace outpost::amqp {
namespace {

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-aliasing"
/// The C delivery under a tracker, to read the condition of a rejection.
struct tracker_access : proton::tracker {
  static pn_delivery_t* get(const proton::tracker& t) {
    return (t.*(&tracker_access::pn_object))();
  }
};
#pragma GCC diagnostic pop

constexpr std::int64_t t0 = 1'800'000'000'000; // ms since the epoch

/// Tokens for the test: "good" (no expiry) or "good:<expiry s>"; anything else is refused.
auth_verdict test_auth(const iothub::client_identity& who, const std::string& token,
                       std::string_view = {}) {
  if (token.rfind("good", 0) != 0) {
    return {false, "bad token for " + who.id(), 0, false};
  }
  const auto colon = token.find(':');
  const std::int64_t expiry =
      colon == std::string::npos ? 0 : std::atoll(token.c_str() + colon + 1);
  return {true, {}, expiry, who.device_id.empty()};
}

/// The client: put-token for `device` with `token`, then a sender to `address` that sends one
/// message. Records what the hub answered.
struct client : proton::messaging_handler {
  std::string device = "dev1";
  std::string token = "good";
  std::string address = "/devices/dev1/messages/events";
  bool skip_token = false;

  proton::sender cbs_out;
  proton::receiver cbs_in;
  proton::sender out;
  bool token_sent = false;
  bool message_sent = false;
  int cbs_status = 0;
  std::string cbs_description;
  std::string link_error; // condition name of a link the hub closed
  std::string outcome;
  std::vector<proton::message> to_send; ///< sent instead of the one "hello" when not empty
  std::vector<std::string> outcomes;    ///< every settlement, in order, with its condition

  void on_connection_open(proton::connection& c) override {
    if (skip_token) {
      out = c.open_sender(address);
      return;
    }
    cbs_out = c.open_sender("$cbs");
    cbs_in = c.open_receiver("$cbs");
  }
  void on_sendable(proton::sender& s) override {
    if (s == cbs_out && !token_sent) {
      proton::message m;
      m.id(std::string{"put-1"});
      m.reply_to("cbs");
      m.properties().put("operation", proton::scalar{std::string{"put-token"}});
      m.properties().put("type", proton::scalar{std::string{"servicebus.windows.net:sastoken"}});
      m.properties().put("name", proton::scalar{"localhost%2Fdevices%2F" + device});
      m.body(token);
      s.send(m);
      token_sent = true;
    } else if (s == out && !message_sent && !to_send.empty()) {
      for (const auto& m : to_send) {
        s.send(m);
      }
      message_sent = true;
    } else if (s == out && !message_sent) {
      proton::message m;
      const char raw[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
      m.id(proton::uuid::copy(raw));
      m.body(proton::binary(std::string{"hello"}));
      m.inferred(true);
      s.send(m);
      message_sent = true;
    }
  }
  void on_message(proton::delivery&, proton::message& m) override {
    cbs_status = proton::get<std::int32_t>(m.properties().get("status-code"));
    cbs_description = proton::get<std::string>(m.properties().get("status-description"));
    if (cbs_status == 200 && !out) {
      out = m.to().empty() ? cbs_in.connection().open_sender(address)
                           : cbs_in.connection().open_sender(address);
    }
  }
  void on_tracker_accept(proton::tracker&) override {
    outcome = "accepted";
    outcomes.push_back(outcome);
  }
  void on_tracker_reject(proton::tracker& t) override {
    outcome = "rejected";
    pn_disposition_t* remote = pn_delivery_remote(tracker_access::get(t));
    const char* name = pn_condition_get_name(pn_disposition_condition(remote));
    outcomes.push_back(outcome + (name ? std::string{" "} + name : std::string{}));
  }
  void on_sender_close(proton::sender& s) override {
    if (s.error()) {
      link_error = s.error().name();
    }
    proton::messaging_handler::on_sender_close(s);
  }
  void on_error(const proton::error_condition&) override {}
};

/// The two ends, pumped until neither has anything to say. The hub settles telemetry accepted
/// (its owner would once durable); `events` keeps everything it reported.
struct wire {
  explicit wire(client& c, connection_settings settings = {})
      : hub(std::move(settings), test_auth),
        driver("test-client") {
    driver.connect(proton::connection_options().handler(c).sasl_enabled(false));
  }

  void pump(std::int64_t now = t0) {
    for (int round = 0; round < 200; ++round) {
      bool moved = false;
      driver.dispatch();
      std::string up;
      for (auto b = driver.write_buffer(); b.size != 0; b = driver.write_buffer()) {
        up.append(b.data, b.size);
        driver.write_done(b.size);
      }
      events evs;
      if (!up.empty()) {
        sent += up;
        hub.on_bytes(up, now, evs);
        moved = true;
      } else {
        hub.on_tick(now, evs);
      }
      for (auto& e : evs) {
        if (auto* t = std::get_if<telemetry_event>(&e)) {
          hub.settle(t->delivery, outcome::accepted);
        }
        all.push_back(std::move(e));
      }
      const auto down = hub.take_output();
      std::size_t at = 0;
      while (at < down.size()) {
        auto buf = driver.read_buffer();
        if (buf.size == 0) {
          break;
        }
        const auto n = std::min(buf.size, down.size() - at);
        std::memcpy(buf.data, down.data() + at, n);
        driver.read_done(n);
        at += n;
        driver.dispatch();
        moved = true;
      }
      if (!moved) {
        return;
      }
    }
  }

  template <class E>
  std::vector<E> of() const {
    std::vector<E> out;
    for (const auto& e : all) {
      if (auto* x = std::get_if<E>(&e)) {
        out.push_back(*x);
      }
    }
    return out;
  }

  /// OUTPOST_AMQP_SEEDS=dir keeps what the client sent (the fuzz target's seeds).
  void keep_as_seed(const char* name) const {
    if (const char* dir = std::getenv("OUTPOST_AMQP_SEEDS")) {
      std::ofstream{std::string{dir} + "/" + name, std::ios::binary} << sent;
    }
  }

  hub_connection hub;
  proton::io::connection_driver driver;
  events all;
  std::string sent;
};

TEST(AmqpHubConnection, PutTokenThenTelemetryIsSettledByTheOwner) {
  client c;
  wire w{c};
  w.pump();
  EXPECT_EQ(c.cbs_status, 200) << c.cbs_description;
  ASSERT_EQ(w.of<identity_event>().size(), 1u);
  EXPECT_EQ(w.of<identity_event>()[0].who.device_id, "dev1");
  const auto telemetry = w.of<telemetry_event>();
  ASSERT_EQ(telemetry.size(), 1u);
  EXPECT_EQ(telemetry[0].who.id(), "dev1");
  EXPECT_EQ(telemetry[0].msg.body, "hello");
  EXPECT_EQ(telemetry[0].msg.get(routing::system_property::message_id),
            "01020304-0506-0708-090a-0b0c0d0e0f10");
  EXPECT_EQ(c.outcome, "accepted");
  EXPECT_TRUE(w.hub.authenticated({"dev1", ""}, t0 / 1000));
  w.keep_as_seed("put_token_telemetry");
}

TEST(AmqpHubConnection, MessagesItsDecoderLeavesToProtonAreMappedOrRejectedOnTheirOwn) {
  client c;
  proton::message floating; // a floating-point property: Proton formats it
  floating.properties().put("f", proton::scalar{1.5});
  floating.body(proton::binary(std::string{"one"}));
  floating.inferred(true);
  proton::message list; // an amqp-value list body: IoT Hub takes no such message
  list.body(std::vector<std::int32_t>{1, 2});
  proton::message plain;
  plain.body(proton::binary(std::string{"three"}));
  plain.inferred(true);
  c.to_send = {floating, list, plain};
  wire w{c};
  w.pump();
  EXPECT_EQ(c.cbs_status, 200) << c.cbs_description;
  const auto telemetry = w.of<telemetry_event>();
  ASSERT_EQ(telemetry.size(), 2u);
  EXPECT_EQ(telemetry[0].msg.body, "one");
  EXPECT_EQ(telemetry[0].msg.property("f"), "1.5");
  EXPECT_EQ(telemetry[1].msg.body, "three");
  // The put-token's settlement, then the three messages': the refusal is settled at once,
  // the others once their owner says they are stored.
  EXPECT_EQ(c.outcomes, (std::vector<std::string>{"accepted", "rejected amqp:decode-error",
                                                  "accepted", "accepted"}))
      << "the connection stays; only the message that does not decode is refused";
}

TEST(AmqpHubConnection, ABadTokenIsAnswered401AndAuthenticatesNothing) {
  client c;
  c.token = "forged";
  wire w{c};
  w.pump();
  EXPECT_EQ(c.cbs_status, 401);
  EXPECT_EQ(c.cbs_description, "bad token for dev1");
  EXPECT_TRUE(w.of<identity_event>().empty());
  EXPECT_FALSE(w.hub.authenticated({"dev1", ""}, t0 / 1000));
}

TEST(AmqpHubConnection, LinksNeedATokenForTheirIdentity) {
  {
    client c; // no put-token at all
    c.skip_token = true;
    wire w{c};
    w.pump();
    EXPECT_EQ(c.link_error, "amqp:unauthorized-access");
    EXPECT_TRUE(w.of<telemetry_event>().empty());
    w.keep_as_seed("no_token");
  }
  {
    client c; // a token for dev1, a link for dev2
    c.address = "/devices/dev2/messages/events";
    wire w{c};
    w.pump();
    EXPECT_EQ(c.cbs_status, 200);
    EXPECT_EQ(c.link_error, "amqp:unauthorized-access");
    EXPECT_TRUE(w.of<telemetry_event>().empty());
  }
  {
    client c; // an address IoT Hub does not have
    c.address = "/devices/dev1/no/such/node";
    wire w{c};
    w.pump();
    EXPECT_EQ(c.link_error, "amqp:not-found");
  }
}

TEST(AmqpHubConnection, AnExpiredTokenEndsItsLinks) {
  client c;
  c.token = "good:" + std::to_string(t0 / 1000 + 60);
  wire w{c};
  w.pump();
  ASSERT_EQ(c.outcome, "accepted");
  w.pump(t0 + 61'000);
  EXPECT_EQ(c.link_error, "amqp:unauthorized-access");
  EXPECT_FALSE(w.hub.authenticated({"dev1", ""}, t0 / 1000 + 61));
}

TEST(AmqpHubConnection, GarbageEndsTheConnection) {
  connection_settings settings;
  hub_connection hub{settings, test_auth};
  events evs;
  hub.on_bytes(std::string(64, '\x7f'), t0, evs);
  (void)hub.take_output();
  hub.on_tick(t0, evs);
  EXPECT_TRUE(hub.finished() || !evs.empty());
  bool closed = false;
  for (const auto& e : evs) {
    closed = closed || std::holds_alternative<closed_event>(e);
  }
  EXPECT_TRUE(closed);
}

} // namespace
} // namespace outpost::amqp
