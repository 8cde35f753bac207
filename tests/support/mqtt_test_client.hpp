#pragma once

#include "protocols/mqtt/packets.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace outpost::test {

/// A blocking MQTT client over plain TCP for protocol tests: sends raw bytes or packets and
/// reads packets back with a timeout, using the project's own codec.
class mqtt_test_client {
public:
  /// Connects to "host:port"; throws std::runtime_error if it cannot.
  explicit mqtt_test_client(const std::string& address);
  ~mqtt_test_client();
  mqtt_test_client(const mqtt_test_client&) = delete;
  mqtt_test_client& operator=(const mqtt_test_client&) = delete;

  void send_raw(const std::string& bytes);
  void send(const mqtt::packet& p);
  /// The next packet, or nullopt on timeout or when the server closed the connection.
  std::optional<mqtt::packet> receive(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// True when the server closes the connection within `timeout` (EOF or reset).
  bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(5));

private:
  bool fill(std::chrono::milliseconds timeout);

  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

} // namespace outpost::test
