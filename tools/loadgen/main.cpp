// outpost-loadgen: an MQTT 3.1.1 load generator for Outpost and other brokers (mosquitto).
// See tools/loadgen/README.md.

#include "tools/loadgen/idle_test.hpp"
#include "tools/loadgen/load_test.hpp"
#include "tools/loadgen/options.hpp"
#include "tools/loadgen/support.hpp"

#include <CLI/CLI.hpp>

#include <csignal>
#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  using outpost::loadgen::options;
  options o;
  CLI::App app{
      "outpost-loadgen: MQTT 3.1.1 fan-in load (publishers -> one subscriber) and idle "
      "connections; one JSON line on stdout"};
  app.add_option("--host", o.host, "broker address")->capture_default_str();
  app.add_option("--port", o.port, "broker port")->capture_default_str();
  app.add_option("--id-template", o.id_template, "client ids; {n} = 1..N")->capture_default_str();
  app.add_option("--topic-template", o.topic_template, "publish topic; {id} = client id")
      ->capture_default_str();
  app.add_option("--username-template", o.username_template, "CONNECT username; {id} = client id");
  app.add_option("--password", o.password, "CONNECT password (with --username-template)");
  app.add_option("--iothub-keys", o.iothub_keys,
                 "file of `client_id base64key` lines: IoT Hub usernames and SAS tokens");
  app.add_option("--hub-hostname", o.hub_hostname,
                 "host name in IoT Hub usernames, SAS audiences and TLS SNI")
      ->capture_default_str();
  app.add_option("--sas-ttl", o.sas_ttl_s, "SAS token lifetime, seconds")->capture_default_str();
  app.add_option("--keepalive", o.keepalive_s, "CONNECT keepalive, seconds")->capture_default_str();

  app.add_option("--publishers", o.publishers, "publisher connections")
      ->capture_default_str()
      ->check(CLI::Range(0, 1'000'000));
  app.add_option("--subscriber", o.subscriber, "client id of the subscriber (\"\" = none)");
  app.add_option("--subscribe-topic", o.subscribe_topic, "the subscriber's topic filter")
      ->capture_default_str();
  app.add_option("--qos", o.qos, "QoS of publishes and the subscription")
      ->capture_default_str()
      ->check(CLI::Range(0, 1));
  app.add_option("--payload", o.payload,
                 "payload bytes (>= 32: run nonce, index, sequence, timestamp)")
      ->capture_default_str()
      ->check(CLI::Range(32, 256 * 1024));
  app.add_flag("--json-payload", o.json_payload,
               "payloads are a JSON object {\"p\":\"xx..\"} (twin reported patches); "
               "acknowledgements only, no --subscriber");
  app.add_option("--rate", o.rate, "total msgs/s; 0 = closed loop, as fast as possible")
      ->capture_default_str();
  app.add_option("--inflight", o.inflight, "unacknowledged QoS 1 publishes per publisher")
      ->capture_default_str()
      ->check(CLI::Range(1, 65000));
  app.add_option("--window", o.window,
                 "messages sent but not yet delivered, all publishers together (0 = no limit)")
      ->capture_default_str();
  auto* messages = app.add_option("--messages", o.messages, "messages to send in total");
  auto* duration = app.add_option("--duration", o.duration_s, "seconds of sending");
  messages->excludes(duration);
  app.add_option("--drain-timeout", o.drain_timeout_s,
                 "after sending, wait at most this long for acks and deliveries")
      ->capture_default_str();
  app.add_option("--connect-timeout", o.connect_timeout_s, "seconds")->capture_default_str();
  app.add_flag("!--no-nodelay", o.nodelay, "leave Nagle on for the load connections");

  app.add_option("--idle-connections", o.idle_connections,
                 "idle mode: open and hold N connections (client ids from --id-template)");
  app.add_flag("--tls", o.tls, "TLS (OpenSSL, TLS >= 1.2, SNI = --hub-hostname)");
  app.add_option("--ca", o.ca, "CA file to verify the broker against");
  app.add_option("--connect-parallel", o.connect_parallel,
                 "connections connecting (TCP, TLS, CONNECT) at once")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  app.add_option("--connect-threads", o.connect_threads,
                 "idle mode: threads that connect and hold, each with its share of the "
                 "connections and of --connect-parallel (so the generator's TLS is not the limit)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--hold", o.hold_s, "idle mode: seconds to hold the connections")
      ->capture_default_str();
  app.add_option("--broker-pid", o.broker_pid,
                 "sample this process's CPU and RSS (/proc) over the measured interval");
  CLI11_PARSE(app, argc, argv);

  if (o.idle_connections == 0 && o.messages == 0 && o.duration_s <= 0) {
    o.messages = 100'000;
  }
  std::signal(SIGPIPE, SIG_IGN);
  outpost::loadgen::raise_fd_limit();
  try {
    return o.idle_connections > 0 ? outpost::loadgen::run_idle(o) : outpost::loadgen::run_load(o);
  } catch (const std::exception& e) {
    std::cerr << "outpost-loadgen: " << e.what() << "\n";
    return 2;
  }
}
