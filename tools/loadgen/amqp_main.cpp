// outpost-amqp-loadgen: AMQP 1.0 fan-in load in IoT Hub's dialect, the AMQP counterpart of
// outpost-loadgen. Each publisher connects over TLS, puts its SAS token on $cbs, attaches a
// sender to /devices/{id}/messages/events and keeps --inflight unsettled messages in flight;
// a message counts when the hub settles it accepted (durable). --idle N instead holds N
// authenticated connections with their link open and reports the hub's RSS per connection.
// Two engines (amqp_engines.hpp): `raw` (default; one epoll thread, our codec) and `proton`
// (Qpid Proton's container). One JSON line on stdout.

#include "tools/loadgen/amqp_engines.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <exception>
#include <iostream>
#include <string>

namespace {

using namespace outpost::loadgen;

nlohmann::json idle_report(const amqp_settings& s, const amqp_outcome& r) {
  nlohmann::json out;
  out["idle_connections"] = s.idle;
  out["broker_rss_before_kib"] = r.broker_before_connect.rss_kib;
  out["broker_rss_kib"] = r.broker_held.rss_kib;
  out["rss_per_connection_kib"] =
      r.ready > 0 ? double(r.broker_held.rss_kib - r.broker_before_connect.rss_kib) / r.ready : 0.0;
  return out;
}

nlohmann::json load_report(const amqp_settings& s, const amqp_outcome& r) {
  nlohmann::json out;
  const auto msgs = r.accepted;
  out["publishers"] = s.o.publishers;
  out["payload"] = s.o.payload;
  out["inflight"] = s.o.inflight;
  out["batch"] = s.batch;
  out["accepted"] = msgs;
  out["refused"] = r.refused;
  out["msgs_per_s"] = r.seconds > 0 ? double(msgs) / r.seconds : 0.0;
  if (msgs > 0) {
    out["loadgen_cpu_us_per_msg"] = double(r.self_cpu_us) / double(msgs);
  }
  if (r.broker_start.ok && r.broker_end.ok && msgs > 0) {
    out["broker_cpu_us_per_msg"] =
        double(r.broker_end.cpu_us - r.broker_start.cpu_us) / double(msgs);
    out["broker_rss_kib"] = r.broker_end.rss_kib;
    out["broker_hwm_kib"] = r.broker_end.hwm_kib;
  }
  return out;
}

} // namespace

int main(int argc, char** argv) {
  amqp_settings s;
  auto& o = s.o;
  o.port = 5671;
  std::string engine = "raw";
  CLI::App app{"outpost-amqp-loadgen: AMQP 1.0 fan-in in IoT Hub's dialect; one JSON line"};
  app.add_option("--engine", engine, "raw (one epoll thread, our codec) or proton")
      ->check(CLI::IsMember({"raw", "proton"}))
      ->capture_default_str();
  app.add_option("--host", o.host)->capture_default_str();
  app.add_option("--port", o.port)->capture_default_str();
  app.add_option("--ca", o.ca, "CA bundle for the hub's certificate")->required();
  app.add_option("--iothub-keys", o.iothub_keys, "file of `device_id base64key` lines")->required();
  app.add_option("--hub-hostname", o.hub_hostname)->capture_default_str();
  app.add_option("--id-template", o.id_template)->capture_default_str();
  app.add_option("--publishers", o.publishers)->capture_default_str();
  app.add_option("--payload", o.payload)->capture_default_str();
  app.add_option("--inflight", o.inflight)->capture_default_str();
  app.add_option("--batch", s.batch,
                 "raw engine: messages per delivery in IoT Hub's batched format (1 = plain)")
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "seconds of sending")->capture_default_str();
  app.add_option("--idle", s.idle, "hold this many authenticated connections instead");
  app.add_option("--hold", o.hold_s, "seconds to hold idle connections")->capture_default_str();
  app.add_option("--threads", s.threads, "container threads (proton)")->capture_default_str();
  app.add_option("--connect-parallel", o.connect_parallel, "connections being set up at once (raw)")
      ->capture_default_str();
  app.add_option("--broker-pid", o.broker_pid, "sample this process's CPU and RSS");
  CLI11_PARSE(app, argc, argv);
  if (o.duration_s <= 0) {
    o.duration_s = 10;
  }
  if (o.connect_parallel < 1) {
    o.connect_parallel = 1;
  }
  o.tls = true;
  if (s.batch > 1 && engine != "raw") {
    std::cerr << "outpost-amqp-loadgen: --batch needs --engine raw (Proton 0.37 cannot set a "
                 "message format)\n";
    return 64;
  }

  amqp_outcome r;
  try {
    r = engine == "raw" ? run_amqp_raw(s) : run_amqp_proton(s);
  } catch (const std::exception& e) {
    std::cerr << "outpost-amqp-loadgen: " << e.what() << "\n";
    return 1;
  }
  nlohmann::json out;
  out["protocol"] = "amqp";
  out["engine"] = engine;
  out["connections_ready"] = r.ready;
  out.update(s.idle > 0 ? idle_report(s, r) : load_report(s, r));
  std::cout << out.dump() << std::endl;
  return 0;
}
