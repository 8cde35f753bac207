#pragma once

// The security suite's harness: a real outpostd on 127.0.0.1 ephemeral ports in a temp dir,
// driven through its real interfaces (the CLI, MQTT sockets, HTTP, signals).

#include "protocols/mqtt/packets.hpp"
#include "tests/support/mqtt_test_client.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace outpost::test {

/// What a CLI run printed and returned.
struct cli_result {
  int code = -1;
  std::string out;
  std::string err;
};

/// One outpostd per test. `config_extra` is appended to the generated config.toml (whole
/// sections: `[storage]` keys go in `storage_extra`); the manifest, if any, in `manifest`.
class daemon_fixture : public ::testing::Test {
protected:
  void SetUp() override;
  void TearDown() override;

  /// Writes config.toml and starts outpostd, waiting for ports.json. Restarts if running.
  void start();
  /// SIGTERM and expect exit 0 within 10 s.
  void stop();

  /// `outpost --config <cfg> args...`, waiting up to `timeout` for it to finish.
  cli_result cli(std::vector<std::string> args,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// `outpost identity add <type> <id>`; returns the key (also kept in `keys_`).
  std::string add_identity(const std::string& type, const std::string& id);
  /// A SAS token for `client_id` ("dev" or "edge/mod") signed with `keys_[key_of or client_id]`.
  std::string token(const std::string& client_id, std::int64_t expiry_offset_s = 3600,
                    const std::string& key_of = "");
  mqtt::connect hello(const std::string& client_id, std::string password, bool clean = true);
  /// A client connected on the plain MQTT listener, CONNACK 0 checked.
  std::unique_ptr<mqtt_test_client> connected(const std::string& client_id, bool clean = true,
                                              std::int64_t expiry_offset_s = 3600);
  /// The CONNACK code a fresh connection for `client_id` with a current token gets (255: none).
  int connected_code(const std::string& client_id);
  /// GET of the metrics endpoint's /metrics body ("" on failure).
  std::string scrape(const std::string& path = "/metrics");
  /// VmRSS of the daemon in KiB.
  std::int64_t daemon_rss_kib() const;

  std::filesystem::path dir_;
  std::filesystem::path cfg_;
  std::filesystem::path data_; ///< storage.dir
  std::string device_id_ = "edge1";
  std::string storage_extra_; ///< lines in [storage]
  std::string agent_extra_;   ///< lines in [agent]
  std::string config_extra_;  ///< appended sections
  std::string listen_extra_;  ///< lines in [listen]
  std::string manifest_;      ///< written to manifest.json and named in [agent] when not empty
  /// Put before outpostd's argv (e.g. `prlimit --nofile=300:300 --`); the daemon keeps the pid.
  std::vector<std::string> launcher_;
  std::string mqtt_;     ///< plain MQTT "127.0.0.1:port"
  std::string mqtt_tls_; ///< TLS MQTT "127.0.0.1:port"
  std::string metrics_;  ///< "127.0.0.1:port"
  std::string https_;    ///< IoT Hub's HTTPS API "127.0.0.1:port"
  std::string amqp_tls_; ///< AMQP over TLS "127.0.0.1:port"
  std::map<std::string, std::string> keys_;
  std::unique_ptr<process> daemon_;
};

} // namespace outpost::test
