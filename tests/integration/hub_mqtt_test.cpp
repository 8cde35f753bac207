// The hub's MQTT surface with raw byte-level clients: malformed input, refused credentials,
// take-over, routing and delivery. Each bad connection must close only itself.

#include "protocols/iothub/sas.hpp"
#include "protocols/mqtt/encoder.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/http_client.hpp"
#include "tests/support/mqtt_test_client.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <regex>
#include <thread>

namespace outpost::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* manifest = R"json({"modulesContent": {"$edgeHub": {"properties.desired": {
  "schemaVersion": "1.1",
  "routes": {"toB": "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO BrokeredEndpoint(\"/modules/modB/inputs/in1\")"},
  "storeAndForwardConfiguration": {"timeToLiveSecs": 7200}}}}})json";

class HubMqtt : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = make_temp_dir("hub");
    write_file(dir_ / "manifest.json", manifest);
    cfg_ = dir_ / "config.toml";
    start("");
    for (const auto* id : {"dev1", "dev2"}) {
      keys_[id] = add_identity("device", id);
    }
    keys_["edge1/modB"] = add_identity("module", "modB");
  }

  /// (Re)starts outpostd; `storage_extra` goes into its [storage] section.
  void start(const std::string& storage_extra) {
    if (daemon_) {
      daemon_->signal(SIGTERM);
      ASSERT_EQ(daemon_->wait(5s).value_or(-1), 0);
    }
    write_file(cfg_, "hostname = \"localhost\"\ndevice_id = \"edge1\"\n[storage]\ndir = \"" +
                         (dir_ / "data").string() + "\"\n" + storage_extra +
                         "\n[listen]\nmetrics = \"127.0.0.1:0\"\nmqtt_tls = \"\"\nhttps = \"\"\namqp_tls = \"\"\n"
                         "mqtt = \"127.0.0.1:0\"\n[agent]\nmanifest = \"" +
                         (dir_ / "manifest.json").string() + "\"\n");
    std::filesystem::remove(dir_ / "data" / "run" / "ports.json");
    daemon_ = std::make_unique<process>(
        std::vector<std::string>{bin_path("outpostd"), "--config", cfg_.string()},
        dir_ / "outpostd.stderr");
    auto ports = wait_for_file(dir_ / "data" / "run" / "ports.json", 10s);
    ASSERT_TRUE(ports);
    mqtt_ = json_string(*ports, "mqtt").value_or("");
    metrics_ = json_string(*ports, "metrics").value_or("");
  }

  void TearDown() override {
    daemon_->signal(SIGTERM);
    EXPECT_EQ(daemon_->wait(5s).value_or(-1), 0) << daemon_->stderr_text();
    remove_temp_dir(dir_, HasFailure());
  }

  std::string add_identity(const std::string& type, const std::string& id) {
    process cli{{bin_path("outpost"), "--config", cfg_.string(), "identity", "add", type, id},
                dir_ / "cli.stderr"};
    auto line = cli.read_line(5s).value_or("");
    EXPECT_EQ(cli.wait(5s).value_or(-1), 0) << cli.stderr_text();
    return line.substr(line.find("SharedAccessKey=") + 16);
  }

  std::string token(const std::string& client_id, std::int64_t expiry_offset = 3600,
                    const std::string& key_of = "") {
    const auto slash = client_id.find('/');
    const auto resource = slash == std::string::npos
                              ? "localhost/devices/" + client_id
                              : "localhost/devices/" + client_id.substr(0, slash) + "/modules/"
                                    + client_id.substr(slash + 1);
    const auto expiry = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count()
                        + expiry_offset;
    return iothub::make_sas_token(
        resource, keys_[key_of.empty() ? client_id : key_of], expiry,
        [](std::string_view k, std::string_view d) { return transport::hmac_sha256(k, d); });
  }

  mqtt::connect hello(const std::string& client_id, std::string password, bool clean = true) {
    mqtt::connect c;
    c.client_id = client_id;
    c.clean_session = clean;
    c.keepalive = 60;
    c.username = "localhost/" + client_id + "/?api-version=2021-04-12";
    c.password = std::move(password);
    return c;
  }

  /// A connected client, CONNACK 0 checked.
  std::unique_ptr<mqtt_test_client> connected(const std::string& client_id, bool clean = true) {
    auto c = std::make_unique<mqtt_test_client>(mqtt_);
    c->send(hello(client_id, token(client_id), clean));
    auto ack = c->receive();
    EXPECT_TRUE(ack && std::holds_alternative<mqtt::connack>(*ack)) << client_id;
    if (ack) {
      EXPECT_EQ(std::get<mqtt::connack>(*ack).return_code, 0) << client_id;
    }
    return c;
  }

  std::uint8_t connack_code(const mqtt::connect& c) {
    mqtt_test_client client{mqtt_};
    client.send(c);
    auto ack = client.receive();
    EXPECT_TRUE(ack && std::holds_alternative<mqtt::connack>(*ack));
    EXPECT_TRUE(client.closed_by_server()) << "a refused connection must be closed";
    return ack ? std::get<mqtt::connack>(*ack).return_code : 255;
  }

  /// Publishes QoS 1 and waits for the PUBACK.
  void publish_acked(mqtt_test_client& c, const std::string& topic, std::uint16_t id) {
    c.send(mqtt::publish{false, 1, false, topic, id, "{\"n\":1}"});
    auto ack = c.receive();
    ASSERT_TRUE(ack && std::holds_alternative<mqtt::puback>(*ack)) << daemon_->stderr_text();
    EXPECT_EQ(std::get<mqtt::puback>(*ack).packet_id, id);
  }

  fs::path dir_;
  fs::path cfg_;
  std::string mqtt_;
  std::string metrics_;
  std::map<std::string, std::string> keys_;
  std::unique_ptr<process> daemon_;
};

TEST_F(HubMqtt, MalformedInputClosesOnlyItsOwnConnection) {
  auto good = connected("dev1");
  const std::string fifth_length_byte{"\x30\xff\xff\xff\xff\x01", 6};
  mqtt::connect bad_utf8 = hello("dev2", token("dev2"));
  bad_utf8.client_id = std::string{"d\xc3\x28", 3};
  std::string bad_utf8_bytes;
  mqtt::encode(bad_utf8, bad_utf8_bytes);
  for (const auto& bytes : {std::string{"\xff\xff\xff\xff", 4}, fifth_length_byte, bad_utf8_bytes,
                            std::string{"\xc0\x00", 2} /* PINGREQ before CONNECT */}) {
    mqtt_test_client bad{mqtt_};
    bad.send_raw(bytes);
    EXPECT_TRUE(bad.closed_by_server());
  }
  {
    auto oversize = connected("dev2");
    oversize->send(mqtt::publish{false, 1, false, "devices/dev2/messages/events/", 1,
                                 std::string(300 * 1024, 'x')});
    EXPECT_TRUE(oversize->closed_by_server()) << "a 300 KiB packet must be refused";
  }
  {
    auto qos2 = connected("dev2");
    qos2->send(mqtt::publish{false, 2, false, "devices/dev2/messages/events/", 1, "x"});
    EXPECT_TRUE(qos2->closed_by_server());
  }
  publish_acked(*good, "devices/dev1/messages/events/", 7); // untouched by all of the above
}

TEST_F(HubMqtt, BadCredentialsGetConnackFive) {
  auto good = connected("dev1");
  EXPECT_EQ(connack_code(hello("dev2", token("dev1"))), 5) << "another device's token";
  auto mismatch = hello("dev2", token("dev2"));
  mismatch.username = "localhost/dev1/?api-version=2021-04-12";
  EXPECT_EQ(connack_code(mismatch), 5) << "username names another identity";
  EXPECT_EQ(connack_code(hello("dev2", token("dev2", -60))), 5) << "expired token";
  auto forged = token("dev2");
  forged[forged.find("sig=") + 5] ^= 1;
  EXPECT_EQ(connack_code(hello("dev2", forged)), 5) << "forged signature";
  keys_["ghost"] = keys_["dev2"];
  EXPECT_EQ(connack_code(hello("ghost", token("ghost"))), 5) << "unknown identity";
  EXPECT_NE(connack_code(hello("dev2", "")), 0) << "no password and no certificate";
  publish_acked(*good, "devices/dev1/messages/events/", 1);
}

TEST_F(HubMqtt, SecondConnectionWithTheSameClientIdTakesOver) {
  auto first = connected("dev1");
  auto second = connected("dev1");
  EXPECT_TRUE(first->closed_by_server());
  publish_acked(*second, "devices/dev1/messages/events/", 1);
}

TEST_F(HubMqtt, RoutesTelemetryToTheModuleInputWithTheSenderStamped) {
  auto dev = connected("dev1");
  for (std::uint16_t i = 1; i <= 3; ++i) {
    publish_acked(*dev, "devices/dev1/messages/events/%24.mid=m" + std::to_string(i) + "&k=v", i);
  }
  auto mod = connected("edge1/modB", false);
  mod->send(mqtt::subscribe{1, {{"devices/edge1/modules/modB/#", 1}}});
  for (int i = 1; i <= 3; ++i) {
    std::optional<mqtt::packet> p;
    do {
      p = mod->receive();
    } while (p && std::holds_alternative<mqtt::suback>(*p));
    ASSERT_TRUE(p && std::holds_alternative<mqtt::publish>(*p)) << daemon_->stderr_text();
    const auto& pub = std::get<mqtt::publish>(*p);
    EXPECT_EQ(pub.qos, 1);
    EXPECT_EQ(pub.topic.rfind("devices/edge1/modules/modB/inputs/in1/", 0), 0u) << pub.topic;
    EXPECT_NE(pub.topic.find("%24.mid=m" + std::to_string(i)), std::string::npos) << pub.topic;
    EXPECT_NE(pub.topic.find("%24.cdid=dev1"), std::string::npos) << pub.topic;
    EXPECT_EQ(pub.payload, "{\"n\":1}");
    mod->send(mqtt::puback{pub.packet_id});
  }
  const auto reply = transport::http_get(metrics_, "/metrics");
  ASSERT_TRUE(reply) << reply.error().message();
  const auto& body = reply->body;
  EXPECT_NE(body.find("edgehub_messages_sent_total{from=\"dev1\",from_route_output=\"\","
                      "priority=\"2000000000\",to=\"edge1/modB\",to_route_input=\"in1\"} 3"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("edgehub_message_process_duration_seconds_count{from=\"dev1\""),
            std::string::npos);
}

TEST_F(HubMqtt, MessagesAcknowledgedJustBeforeAStopAreNotDeliveredAgainAfterTheRestart) {
  // A checkpoint interval far longer than the test: the acknowledgements are still waiting
  // for their checkpoint when the stop comes, which must write it.
  start("checkpoint_interval_ms = 1000");
  auto dev = connected("dev1");
  auto mod = connected("edge1/modB", false);
  mod->send(mqtt::subscribe{1, {{"devices/edge1/modules/modB/#", 1}}});
  ASSERT_TRUE(mod->receive()); // SUBACK
  for (std::uint16_t i = 1; i <= 3; ++i) {
    publish_acked(*dev, "devices/dev1/messages/events/%24.mid=m" + std::to_string(i), i);
    auto p = mod->receive();
    ASSERT_TRUE(p && std::holds_alternative<mqtt::publish>(*p)) << daemon_->stderr_text();
    mod->send(mqtt::puback{std::get<mqtt::publish>(*p).packet_id});
  }
  // The session has taken the PUBACKs once it answers a later packet.
  mod->send(mqtt::pingreq{});
  auto pong = mod->receive();
  ASSERT_TRUE(pong && std::holds_alternative<mqtt::pingresp>(*pong));
  dev.reset();
  mod.reset();

  start("checkpoint_interval_ms = 1000"); // SIGTERM, then the same store again
  auto mod2 = connected("edge1/modB", false);
  mod2->send(mqtt::subscribe{2, {{"devices/edge1/modules/modB/#", 1}}});
  auto dev2 = connected("dev1");
  publish_acked(*dev2, "devices/dev1/messages/events/%24.mid=m4", 4);
  std::vector<std::string> topics;
  while (auto p = mod2->receive(std::chrono::milliseconds(1500))) {
    if (const auto* pub = std::get_if<mqtt::publish>(&*p)) {
      topics.push_back(pub->topic);
      mod2->send(mqtt::puback{pub->packet_id});
    }
  }
  ASSERT_EQ(topics.size(), 1u) << "acknowledged messages came again: " << topics.front();
  EXPECT_NE(topics[0].find("%24.mid=m4"), std::string::npos) << topics[0];
}

TEST_F(HubMqtt, FullStoreWithholdsPubacksAndLosesNothing) {
  start("max_size_bytes = 12000");
  auto dev = connected("dev1");
  const std::string body(1000, 'p');
  for (std::uint16_t id = 1; id <= 20; ++id) { // ~20 KB of messages for a 12 KB store
    dev->send(mqtt::publish{false, 1, false, "devices/dev1/messages/events/", id, body});
  }
  std::vector<std::uint16_t> acked;
  while (auto p = dev->receive(1500ms)) {
    acked.push_back(std::get<mqtt::puback>(*p).packet_id);
  }
  ASSERT_GT(acked.size(), 5u);
  ASSERT_LT(acked.size(), 20u) << "the quota must stop acknowledgements";
  for (std::size_t i = 0; i < acked.size(); ++i) {
    EXPECT_EQ(acked[i], i + 1) << "PUBACKs in order";
  }
  // The module drains its input; the freed space lets the rest in, all in order.
  auto mod = connected("edge1/modB", false);
  mod->send(mqtt::subscribe{1, {{"devices/edge1/modules/modB/#", 1}}});
  int delivered = 0;
  while (delivered < 20) {
    auto p = mod->receive(10s);
    ASSERT_TRUE(p) << "delivered " << delivered << "\n" << daemon_->stderr_text();
    if (auto* pub = std::get_if<mqtt::publish>(&*p)) {
      ++delivered;
      mod->send(mqtt::puback{pub->packet_id});
    }
  }
  while (acked.size() < 20) {
    auto p = dev->receive(10s);
    ASSERT_TRUE(p) << "PUBACKs stopped at " << acked.size();
    acked.push_back(std::get<mqtt::puback>(*p).packet_id);
    EXPECT_EQ(acked.back(), acked.size());
  }
}

TEST_F(HubMqtt, CountsWithIotEdgeMetricNames) {
  auto dev = connected("dev1");
  publish_acked(*dev, "devices/dev1/messages/events/", 1);
  publish_acked(*dev, "unknown/topic", 2);
  std::string body;
  for (int i = 0; i < 50 && body.find("edgehub_queue_length{") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms); // queue gauges are published by the store's timer
    auto reply = transport::http_get(metrics_, "/metrics");
    ASSERT_TRUE(reply) << reply.error().message();
    body = reply->body;
  }
  for (const char* series :
       {"edgehub_messages_received_total{id=\"dev1\"", "edgehub_connected_clients 1",
        "edgehub_client_connect_success_total{id=\"dev1\"} 1",
        "edgehub_message_size_bytes_count{id=\"dev1\"} 2",
        "edgehub_messages_dropped_total{from=\"dev1\",reason=\"unknown_topic\"} 1",
        "edgehub_queue_length{endpoint=\"edge1/modB/in1\""}) {
    EXPECT_NE(body.find(series), std::string::npos) << series << "\n" << body;
  }
}

} // namespace
} // namespace outpost::test
