// outpost-amqp-loadgen: AMQP 1.0 fan-in load in IoT Hub's dialect, the AMQP counterpart of
// outpost-loadgen. Qpid Proton's C++ container (its own threads and sockets: this is a client
// tool, not the hub). Each publisher connects over TLS, puts its SAS token on $cbs, attaches a
// sender to /devices/{id}/messages/events and keeps --inflight unsettled messages in flight;
// a message counts when the hub settles it accepted (durable). --idle N instead holds N
// authenticated connections with their link open and reports the hub's RSS per connection.
// One JSON line on stdout.

#include "tools/loadgen/options.hpp"
#include "tools/loadgen/support.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <proton/binary.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/container.hpp>
#include <proton/delivery.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/scalar.hpp>
#include <proton/sender.hpp>
#include <proton/ssl.hpp>
#include <proton/tracker.hpp>
#include <proton/work_queue.hpp>

namespace {

using namespace outpost::loadgen;

std::atomic<std::uint64_t> accepted{0};
std::atomic<std::uint64_t> refused{0};
std::atomic<int> ready{0};
std::atomic<bool> sending{false};

/// One publisher connection.
class publisher : public proton::messaging_handler {
public:
  publisher(std::string id, std::string token, std::string audience_host, std::size_t payload,
            std::uint32_t inflight, bool idle)
      : id_(std::move(id)),
        token_(std::move(token)),
        host_(std::move(audience_host)),
        body_(payload, 'x'),
        inflight_(inflight),
        idle_(idle) {}

  void on_connection_open(proton::connection& c) override {
    cbs_out_ = c.open_sender("$cbs");
    cbs_in_ = c.open_receiver("$cbs");
  }

  void on_sendable(proton::sender& s) override {
    if (s == cbs_out_ && !token_sent_) {
      proton::message m;
      m.id(std::string{"put-" + id_});
      m.reply_to("cbs");
      m.properties().put("operation", proton::scalar{std::string{"put-token"}});
      m.properties().put("type", proton::scalar{std::string{"servicebus.windows.net:sastoken"}});
      m.properties().put("name", proton::scalar{host_ + "%2Fdevices%2F" + id_});
      m.body(token_);
      s.send(m);
      token_sent_ = true;
      return;
    }
    if (s == events_) {
      if (!counted_ready_) {
        counted_ready_ = true;
        ++ready;
      }
      fill();
    }
  }

  void on_message(proton::delivery&, proton::message& m) override {
    const auto status = proton::get<std::int32_t>(m.properties().get("status-code"));
    if (status != 200) {
      std::cerr << "put-token for " << id_ << ": " << status << "\n";
      cbs_in_.connection().close();
      return;
    }
    events_ = cbs_in_.connection().open_sender("/devices/" + id_ + "/messages/events");
  }

  void on_tracker_accept(proton::tracker& t) override {
    if (t.sender() != events_) {
      return; // the put-token
    }
    --outstanding_;
    accepted.fetch_add(1, std::memory_order_relaxed);
    fill();
  }
  void on_tracker_reject(proton::tracker& t) override {
    if (t.sender() != events_) {
      return;
    }
    --outstanding_;
    refused.fetch_add(1, std::memory_order_relaxed);
    fill();
  }

  /// Runs on the connection's thread.
  void fill() {
    if (idle_ || !events_ || !sending.load(std::memory_order_relaxed)) {
      return;
    }
    while (outstanding_ < inflight_ && events_.credit() > 0) {
      proton::message m;
      m.body(proton::binary(body_));
      m.inferred(true);
      events_.send(m);
      ++outstanding_;
    }
  }

  void stop() {
    if (cbs_in_) {
      cbs_in_.connection().work_queue().add([this] { cbs_in_.connection().close(); });
    }
  }

  void on_error(const proton::error_condition& e) override {
    std::cerr << id_ << ": " << e.what() << "\n";
  }

private:
  std::string id_;
  std::string token_;
  std::string host_;
  std::string body_;
  std::uint32_t inflight_;
  bool idle_;
  proton::sender cbs_out_;
  proton::receiver cbs_in_;
  proton::sender events_;
  bool token_sent_ = false;
  bool counted_ready_ = false;
  std::uint32_t outstanding_ = 0;
};

} // namespace

int main(int argc, char** argv) {
  options o;
  o.port = 5671;
  int idle = 0;
  unsigned threads = 2;
  CLI::App app{"outpost-amqp-loadgen: AMQP 1.0 fan-in in IoT Hub's dialect; one JSON line"};
  app.add_option("--host", o.host)->capture_default_str();
  app.add_option("--port", o.port)->capture_default_str();
  app.add_option("--ca", o.ca, "CA bundle for the hub's certificate")->required();
  app.add_option("--iothub-keys", o.iothub_keys, "file of `device_id base64key` lines")->required();
  app.add_option("--hub-hostname", o.hub_hostname)->capture_default_str();
  app.add_option("--id-template", o.id_template)->capture_default_str();
  app.add_option("--publishers", o.publishers)->capture_default_str();
  app.add_option("--payload", o.payload)->capture_default_str();
  app.add_option("--inflight", o.inflight)->capture_default_str();
  app.add_option("--duration", o.duration_s, "seconds of sending")->capture_default_str();
  app.add_option("--idle", idle, "hold this many authenticated connections instead");
  app.add_option("--hold", o.hold_s, "seconds to hold idle connections")->capture_default_str();
  app.add_option("--threads", threads, "container threads")->capture_default_str();
  app.add_option("--broker-pid", o.broker_pid, "sample this process's CPU and RSS");
  CLI11_PARSE(app, argc, argv);
  if (o.duration_s <= 0) {
    o.duration_s = 10;
  }
  o.tls = true;

  credential_source creds{o};
  const int n = idle > 0 ? idle : o.publishers;
  std::vector<std::unique_ptr<publisher>> pubs;
  proton::container container;
  const auto before_connect = sample_process(o.broker_pid);
  auto ssl = proton::ssl_client_options(o.ca, proton::ssl::VERIFY_PEER);
  for (int i = 1; i <= n; ++i) {
    const auto id = client_id(o, i);
    const auto token = *creds.for_client(id).password;
    pubs.push_back(
        std::make_unique<publisher>(id, token, o.hub_hostname, o.payload, o.inflight, idle > 0));
    container.connect("amqps://" + o.host + ":" + std::to_string(o.port),
                      proton::connection_options()
                          .handler(*pubs.back())
                          .ssl_client_options(ssl)
                          .sasl_enabled(false)
                          .virtual_host(o.hub_hostname));
  }
  sending = idle == 0;
  std::thread runner([&] { container.run(threads); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ready.load() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  nlohmann::json out;
  out["protocol"] = "amqp";
  out["connections_ready"] = ready.load();
  if (idle > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.hold_s));
    const auto held = sample_process(o.broker_pid);
    out["idle_connections"] = idle;
    out["broker_rss_before_kib"] = before_connect.rss_kib;
    out["broker_rss_kib"] = held.rss_kib;
    out["rss_per_connection_kib"] =
        ready.load() > 0 ? double(held.rss_kib - before_connect.rss_kib) / ready.load() : 0.0;
  } else {
    // Every publisher sends from the moment its link is up; the window opens once all are,
    // after a second of warm-up.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto a0 = accepted.load();
    const auto s0 = sample_process(o.broker_pid);
    const auto t0 = now_ns();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
    const auto a1 = accepted.load();
    const auto s1 = sample_process(o.broker_pid);
    const double secs = double(now_ns() - t0) / 1e9;
    const auto msgs = a1 - a0;
    out["publishers"] = o.publishers;
    out["payload"] = o.payload;
    out["inflight"] = o.inflight;
    out["accepted"] = msgs;
    out["refused"] = refused.load();
    out["msgs_per_s"] = double(msgs) / secs;
    if (s0.ok && s1.ok && msgs > 0) {
      out["broker_cpu_us_per_msg"] = double(s1.cpu_us - s0.cpu_us) / double(msgs);
      out["broker_rss_kib"] = s1.rss_kib;
      out["broker_hwm_kib"] = s1.hwm_kib;
    }
    sending = false;
  }
  for (auto& p : pubs) {
    p->stop();
  }
  container.stop();
  runner.join();
  std::cout << out.dump() << std::endl;
  return 0;
}
