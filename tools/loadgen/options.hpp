#pragma once

#include <cstdint>
#include <string>

namespace outpost::loadgen {

/// Everything the command line sets. Defaults match tools/loadgen/README.md.
struct options {
  // Where.
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;

  // Who. Client ids come from `id_template` with {n} = 1..publishers (or 1..idle_connections).
  std::string id_template = "d{n}";
  std::string topic_template = "devices/{id}/messages/events/";
  std::string username_template; ///< {id} = client id; "" = no username (unless iothub_keys)
  std::string password;          ///< with username_template
  std::string iothub_keys;       ///< file of `client_id key` lines: IoT Hub usernames + SAS
  std::string hub_hostname = "localhost"; ///< <host> of IoT Hub usernames and SAS audiences
  std::int64_t sas_ttl_s = 3600;
  std::uint16_t keepalive_s = 60;

  // Fan-in load.
  int publishers = 100;
  std::string subscriber; ///< client id of the subscriber; "" = none
  std::string subscribe_topic = "#";
  int qos = 1;
  std::size_t payload = 256;
  double rate = 0;             ///< total msgs/s; 0 = closed loop, as fast as possible
  std::uint32_t inflight = 16; ///< unacknowledged QoS 1 publishes per publisher
  std::uint64_t window = 0;    ///< sent but not yet delivered, all publishers; 0 = unbounded
  std::uint64_t messages = 0;  ///< total to send; 0 = use duration
  double duration_s = 0;       ///< seconds of sending; 0 = use messages
  double drain_timeout_s = 30; ///< after the last send, wait this long for acks and deliveries
  double connect_timeout_s = 15;
  bool nodelay = true;
  /// Payloads are a JSON object `{"p":"xx.."}` of `payload` bytes instead of the binary
  /// header (twin reported patches: `--topic-template '$iothub/twin/PATCH/properties/reported/'`);
  /// acknowledgements only, no subscriber.
  bool json_payload = false;

  // Idle connections.
  int idle_connections = 0;
  bool tls = false;
  std::string ca;
  int connect_parallel = 64; ///< handshakes in progress at once
  int connect_threads = 1;   ///< idle mode: threads opening (and holding) the connections
  double hold_s = 3;

  // Measurement.
  int broker_pid = 0; ///< sample this process's CPU and RSS over the measured interval
};

} // namespace outpost::loadgen
