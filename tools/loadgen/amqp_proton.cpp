// outpost-amqp-loadgen's Proton engine (--engine proton): Qpid Proton's C++ container, its own
// threads and sockets (a client tool, not the hub). Each publisher connects over TLS, puts its
// SAS token on $cbs, attaches a sender to /devices/{id}/messages/events and keeps --inflight
// unsettled messages in flight; a message counts when the hub settles it accepted (durable).
// Kept next to the raw engine as the reference dialect and for comparison.

#include "tools/loadgen/amqp_engines.hpp"

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

namespace outpost::loadgen {

namespace {

std::atomic<std::uint64_t> accepted{0};
std::atomic<std::uint64_t> refused{0};
std::atomic<int> ready{0};
std::atomic<bool> sending{false};
std::atomic<bool> stopping{false}; ///< errors from here on are the shutdown's own

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
    // The hub ends TCP after its close without a TLS close_notify: Proton calls that a
    // framing error, which is noise once we asked to close.
    if (!stopping.load()) {
      std::cerr << id_ << ": " << e.what() << "\n";
    }
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

amqp_outcome run_amqp_proton(const amqp_settings& s) {
  const auto& o = s.o;
  const int idle = s.idle;
  credential_source creds{o};
  const int n = idle > 0 ? idle : o.publishers;
  std::vector<std::unique_ptr<publisher>> pubs;
  proton::container container;
  amqp_outcome out;
  out.broker_before_connect = sample_process(o.broker_pid);
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
  std::thread runner([&] { container.run(s.threads); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (ready.load() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  out.ready = ready.load();
  if (idle > 0) {
    std::this_thread::sleep_for(std::chrono::duration<double>(o.hold_s));
    out.broker_held = sample_process(o.broker_pid);
  } else {
    // Every publisher sends from the moment its link is up; the window opens once all are,
    // after a second of warm-up.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto a0 = accepted.load();
    out.broker_start = sample_process(o.broker_pid);
    const auto cpu0 = self_cpu_us();
    const auto t0 = now_ns();
    std::this_thread::sleep_for(std::chrono::duration<double>(o.duration_s));
    out.accepted = accepted.load() - a0;
    out.broker_end = sample_process(o.broker_pid);
    out.self_cpu_us = self_cpu_us() - cpu0;
    out.seconds = double(now_ns() - t0) / 1e9;
    out.refused = refused.load();
    sending = false;
  }
  stopping = true;
  for (auto& p : pubs) {
    p->stop();
  }
  container.stop();
  runner.join();
  return out;
}

} // namespace outpost::loadgen
