// Issue 8 §3: an unauthenticated peer must not grow the daemon without bound. Refused CONNECTs
// used to add a metric series labelled with the client id sent (200 refused connects: +6 MB of
// /metrics), the raw id was logged unescaped (forged log lines), and ~260 KiB pre-CONNECT
// frames were buffered per connection for up to 60 s.

#include "protocols/mqtt/encoder.hpp"
#include "tests/security/daemon_fixture.hpp"

#include <fstream>
#include <thread>

namespace outpost::test {
namespace {

using namespace std::chrono_literals;

class UnauthenticatedPeer : public daemon_fixture {
protected:
  void SetUp() override {
    daemon_fixture::SetUp();
    start();
    add_identity("device", "dev1");
  }
};

TEST_F(UnauthenticatedPeer, RefusedConnectsDoNotBecomeMetricSeries) {
  const auto before = scrape().size();
  for (int i = 0; i < 200; ++i) {
    const auto id = "attacker-" + std::to_string(i) + "-padding-padding-padding";
    mqtt_test_client c{mqtt_};
    c.send(hello(id, "SharedAccessSignature sr=x&sig=y&se=1"));
    auto ack = c.receive(5s);
    ASSERT_TRUE(ack && std::holds_alternative<mqtt::connack>(*ack));
    EXPECT_NE(std::get<mqtt::connack>(*ack).return_code, 0);
  }
  const auto metrics = scrape();
  EXPECT_EQ(metrics.find("attacker-"), std::string::npos) << "a peer's client id became a label";
  EXPECT_LT(metrics.size(), before + 2048) << "refused connects must not add series";
  EXPECT_NE(metrics.find("edgehub_client_connect_failed_total{id=\"unknown\""), std::string::npos);
}

TEST_F(UnauthenticatedPeer, ClientIdCannotForgeLogLines) {
  const std::string forged = "x\n2026-12-04T00:00:00.000+00:00 critical [outpostd] forged\x1b[2J";
  mqtt_test_client c{mqtt_};
  c.send(hello(forged, "SharedAccessSignature sr=x&sig=y&se=1"));
  ASSERT_TRUE(c.receive(5s));
  std::this_thread::sleep_for(200ms); // the log line is written after the CONNACK is queued
  const auto log = daemon_->stderr_text();
  EXPECT_EQ(log.find("\n2026-12-04T00:00:00.000+00:00 critical [outpostd] forged"),
            std::string::npos)
      << "a peer wrote its own log line";
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << "terminal escapes reached the log";
  EXPECT_NE(log.find("x\\x0a2026"), std::string::npos) << log;
}

TEST_F(UnauthenticatedPeer, PreConnectFrameOfAFewKiBIsTheMost) {
  // A CONNECT announcing 200 KiB: the hub used to buffer it (and 60 s of waiting).
  mqtt_test_client big{mqtt_};
  std::string header{"\x10", 1};
  std::size_t n = 200 * 1024;
  do { // MQTT remaining length, 7 bits per byte
    auto b = static_cast<char>(n % 128);
    n /= 128;
    header.push_back(static_cast<char>(n ? (b | 0x80) : b));
  } while (n);
  big.send_raw(header + std::string(4096, 'a'));
  EXPECT_TRUE(big.closed_by_server(2s)) << "an oversized pre-CONNECT frame must be refused";
  // A normal CONNECT still works, on its own connection.
  auto ok = connected("dev1");
  ok->send(mqtt::pingreq{});
  auto pong = ok->receive(2s);
  EXPECT_TRUE(pong && std::holds_alternative<mqtt::pingresp>(*pong));
}

TEST_F(UnauthenticatedPeer, SilentConnectionsAreClosedWithinTenSeconds) {
  mqtt_test_client plain{mqtt_};   // TCP, never sends CONNECT
  mqtt_test_client tls{mqtt_tls_}; // TCP to the TLS port, never starts the handshake
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(plain.closed_by_server(8s)) << "closed too early";
  EXPECT_TRUE(plain.closed_by_server(4s)) << "no CONNECT within 10 s must close";
  EXPECT_TRUE(tls.closed_by_server(1s)) << "no TLS handshake within 10 s must close";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 12s);
}

// The default: 256 connections from one address may be waiting to authenticate.
class UnauthenticatedPerSource : public daemon_fixture {
protected:
  void SetUp() override {
    daemon_fixture::SetUp();
    start();
    add_identity("device", "dev1");
  }
};

TEST_F(UnauthenticatedPerSource, OneAddressCannotHoldMoreThanItsShareOfPendingConnections) {
  std::vector<std::unique_ptr<mqtt_test_client>> idle;
  for (int i = 0; i < 300; ++i) {
    idle.push_back(std::make_unique<mqtt_test_client>(mqtt_));
  }
  int closed = 0;
  for (auto& c : idle) {
    closed += c->closed_by_server(20ms) ? 1 : 0;
  }
  EXPECT_EQ(closed, 300 - 256) << "256 pending connections are allowed from one address";
  idle.clear(); // they go: the address may connect again
  std::this_thread::sleep_for(300ms);
  auto ok = connected("dev1");
  ok->send(mqtt::pingreq{});
  auto pong = ok->receive(2s);
  EXPECT_TRUE(pong && std::holds_alternative<mqtt::pingresp>(*pong));
  // Authenticated connections do not count against the limit.
  std::vector<std::unique_ptr<mqtt_test_client>> more;
  for (int i = 0; i < 256; ++i) { // the full share: `ok` must not count
    more.push_back(std::make_unique<mqtt_test_client>(mqtt_));
  }
  int refused = 0;
  for (auto& c : more) {
    refused += c->closed_by_server(5ms) ? 1 : 0;
  }
  EXPECT_EQ(refused, 0);
}

class ConnectionLimit : public daemon_fixture {
protected:
  void SetUp() override {
    daemon_fixture::SetUp();
    // The daemon runs with a hard fd limit of 300: max_connections defaults to 150.
    launcher_ = {"/usr/bin/prlimit", "--nofile=300:300", "--"};
    start();
  }
};

TEST_F(ConnectionLimit, MaxConnectionsDefaultsFromTheFdLimitAndExtraOnesAreRefusedNotFatal) {
  std::vector<std::unique_ptr<mqtt_test_client>> conns;
  for (int i = 0; i < 200; ++i) {
    conns.push_back(std::make_unique<mqtt_test_client>(mqtt_));
  }
  int closed = 0;
  for (auto& c : conns) {
    closed += c->closed_by_server(50ms) ? 1 : 0;
  }
  EXPECT_EQ(closed, 50) << "150 connections fit a 300 fd limit, the rest are closed at accept";
  conns.clear();
  EXPECT_FALSE(daemon_->wait(100ms)) << "the daemon must stay up";
  std::this_thread::sleep_for(300ms);
  add_identity("device", "dev1");
  auto ok = connected("dev1");
  ok->send(mqtt::pingreq{});
  auto pong = ok->receive(2s);
  EXPECT_TRUE(pong && std::holds_alternative<mqtt::pingresp>(*pong));
}

} // namespace
} // namespace outpost::test
