#include "tools/loadgen/load_test.hpp"

#include "protocols/mqtt/decoder.hpp"
#include "protocols/mqtt/encoder.hpp"
#include "protocols/mqtt/frame_splitter.hpp"
#include "tools/loadgen/net.hpp"
#include "tools/loadgen/support.hpp"

#include <nlohmann/json.hpp>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

namespace outpost::loadgen {

namespace {

/// Payload layout (little-endian, this machine's order: publisher and subscriber share it):
/// magic u32 | run nonce u32 | publisher index u32 | 0 u32 | sequence u64 |
/// send time (CLOCK_MONOTONIC ns) u64 | filler. The nonce tells a message of an earlier run
/// (redelivered from a durable queue) from one of this run.
constexpr std::uint32_t payload_magic = 0x474C504F; // "OPLG"
constexpr std::size_t payload_header = 32;
/// A connection's unsent bytes beyond which its publisher waits (socket backpressure).
constexpr std::size_t max_unsent = 256 * 1024;
constexpr std::size_t max_frame = 16 * 1024 * 1024;
constexpr std::uint64_t timer_tag = ~std::uint64_t{0};

enum : std::uint8_t { acked_flag = 1, delivered_flag = 2 };

enum class phase { connecting, running, draining, done };

struct connection {
  int fd = -1;
  SSL* ssl = nullptr; ///< with --tls
  std::string id;
  bool started = false;   ///< the TCP connect was started (at most --connect-parallel pending)
  bool connecting = true; ///< TCP connect (and the TLS handshake) not yet done
  bool connacked = false;
  bool subacked = false;
  bool want_out = false; ///< EPOLLOUT registered
  bool dirty = false;    ///< in the flush list
  std::string in;        ///< bytes of an incomplete frame
  std::string out;       ///< bytes not yet written
  // Publisher state.
  mqtt::publish next;              ///< reused: topic fixed, payload rewritten per message
  std::uint64_t next_seq = 0;      ///< also the number sent
  std::uint32_t inflight = 0;      ///< QoS 1 publishes without PUBACK
  std::vector<std::uint8_t> flags; ///< per sequence: acked_flag | delivered_flag
  std::int64_t last_out = 0;       ///< when a packet was last queued (keepalive)
};

template <class T>
void put(std::string& s, std::size_t at, T v) {
  std::memcpy(s.data() + at, &v, sizeof v);
}

template <class T>
T get(std::string_view s, std::size_t at) {
  T v;
  std::memcpy(&v, s.data() + at, sizeof v);
  return v;
}

class load_run {
public:
  explicit load_run(const options& o) : o_(o), creds_(o) {}

  ~load_run() {
    for (auto& c : conns_) {
      if (c.ssl != nullptr) {
        SSL_free(c.ssl);
      }
      if (c.fd >= 0) {
        close(c.fd);
      }
    }
    if (ctx_ != nullptr) {
      SSL_CTX_free(ctx_);
    }
  }

  int run() {
    setup();
    loop();
    return report();
  }

private:
  bool has_subscriber() const { return !o_.subscriber.empty(); }
  std::size_t publisher_count() const { return static_cast<std::size_t>(o_.publishers); }
  connection& subscriber() { return conns_.back(); }

  void fail(std::string why) {
    if (error_.empty()) {
      error_ = std::move(why);
    }
    phase_ = phase::done;
  }

  void setup() {
    if (o_.json_payload && has_subscriber()) {
      throw std::runtime_error("--json-payload counts acknowledgements only: no --subscriber");
    }
    const auto n = publisher_count() + (has_subscriber() ? 1 : 0);
    conns_.resize(n);
    std::string filler(o_.payload, 'x');
    for (std::size_t i = 0; i < n; ++i) {
      auto& c = conns_[i];
      const bool sub = has_subscriber() && i == n - 1;
      c.id = sub ? o_.subscriber : client_id(o_, static_cast<int>(i) + 1);
      mqtt::encode(make_connect(c.id, creds_.for_client(c.id), o_.keepalive_s), c.out);
      if (!sub) {
        c.next.qos = static_cast<std::uint8_t>(o_.qos);
        c.next.topic = expand(o_.topic_template, "id", c.id);
        if (o_.json_payload) {
          c.next.payload = R"({"p":")" + std::string(o_.payload - 8, 'x') + R"("})";
        } else {
          c.next.payload = filler;
          put(c.next.payload, 0, payload_magic);
          put(c.next.payload, 4, nonce_);
          put(c.next.payload, 8, static_cast<std::uint32_t>(i));
          put(c.next.payload, 12, std::uint32_t{0});
        }
      }
    }
    if (o_.tls) {
      ctx_ = make_client_tls_context(o_.ca);
    }
    start_connects();
    connect_deadline_ = now_ns() + static_cast<std::int64_t>(o_.connect_timeout_s * 1e9);
    if (o_.rate > 0) {
      timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
      const auto tick =
          std::clamp<std::int64_t>(static_cast<std::int64_t>(1e9 / o_.rate), 50'000, 1'000'000);
      itimerspec spec{};
      spec.it_interval.tv_nsec = tick;
      spec.it_value.tv_nsec = tick;
      timerfd_settime(timer_fd_, 0, &spec, nullptr);
      poll_.add(timer_fd_, EPOLLIN, timer_tag);
    }
    latencies_.reserve(o_.messages > 0 ? o_.messages : 1'000'000);
  }

  void loop() {
    while (phase_ != phase::done) {
      const int n = poll_.wait(o_.rate > 0 ? 100 : 20);
      const auto now = now_ns();
      now_ = now;
      for (int i = 0; i < n && phase_ != phase::done; ++i) {
        const auto& ev = poll_.event(i);
        if (ev.data.u64 == timer_tag) {
          std::uint64_t expirations = 0;
          [[maybe_unused]] auto r = read(timer_fd_, &expirations, sizeof expirations);
          continue;
        }
        auto& c = conns_[ev.data.u64];
        if (ev.events & EPOLLOUT) {
          on_writable(c);
        }
        if (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
          on_readable(c, now);
        }
      }
      step(now);
      flush_dirty();
    }
    if (timer_fd_ >= 0) {
      close(timer_fd_);
    }
    // DISCONNECT after the last PUBACKs (a durable broker counts them before the close).
    for (auto& c : conns_) {
      if (c.started && !c.connecting && c.out.size() < max_unsent) {
        mqtt::encode(mqtt::disconnect{}, c.out);
        if (c.ssl != nullptr) {
          SSL_write(c.ssl, c.out.data(), static_cast<int>(c.out.size()));
        } else {
          [[maybe_unused]] auto n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        }
      }
    }
  }

  /// Starts TCP connects while fewer than --connect-parallel clients wait for their CONNACK
  /// (10,000 TLS handshakes at once would outlast a broker's CONNECT deadline).
  void start_connects() {
    while (next_start_ < conns_.size()
           && next_start_ - connacked_ < static_cast<std::size_t>(o_.connect_parallel)) {
      auto& c = conns_[next_start_];
      std::string why;
      c.fd = start_connect(o_.host, o_.port, o_.nodelay, why);
      if (c.fd < 0) {
        throw std::runtime_error(c.id + ": " + why);
      }
      c.started = true;
      poll_.add(c.fd, EPOLLIN | EPOLLOUT, next_start_);
      c.want_out = true;
      ++next_start_;
    }
  }

  /// Phase changes and new publishes.
  void step(std::int64_t now) {
    if (phase_ == phase::connecting) {
      start_connects();
      bool ready = std::all_of(conns_.begin(), conns_.end(), [&](const connection& c) {
        return c.connacked && (&c != &conns_.back() || !has_subscriber() || c.subacked);
      });
      if (ready) {
        start(now);
      } else if (now > connect_deadline_) {
        fail("connect timeout: not every client got CONNACK (and SUBACK) in time");
        return;
      }
    }
    if (o_.keepalive_s > 0 && phase_ != phase::connecting && now >= next_ping_) {
      // As a device does: PINGREQ only on a connection quiet for half the keepalive (any
      // packet keeps it alive), checked once a second, so 10,000 devices do not all ping in
      // one burst that would show up as latency.
      next_ping_ = now + 1'000'000'000;
      const auto quiet = std::int64_t{o_.keepalive_s} * 500'000'000;
      for (auto& c : conns_) {
        if (now - c.last_out >= quiet) {
          mqtt::encode(mqtt::pingreq{}, c.out);
          mark_dirty(c);
          c.last_out = now;
        }
      }
    }
    if (phase_ == phase::running) {
      const bool stop = (o_.messages > 0 && sent_ >= o_.messages)
                        || (o_.duration_s > 0 && now - t0_ >= o_.duration_s * 1e9);
      if (stop) {
        phase_ = phase::draining;
        t_stop_send_ = now;
        drain_deadline_ = now + static_cast<std::int64_t>(o_.drain_timeout_s * 1e9);
      } else {
        publish_due(now);
      }
    }
    if (phase_ == phase::draining) {
      const bool all_acked = o_.qos == 0 || acked_ == sent_;
      const bool all_delivered = !has_subscriber() || delivered_ >= sent_;
      if ((all_acked && all_delivered) || now > drain_deadline_) {
        drained_ = all_acked && all_delivered;
        finish(now);
      }
    }
  }

  void start(std::int64_t now) {
    phase_ = phase::running;
    t0_ = now;
    next_ping_ = now + 1'000'000'000;
    broker0_ = sample_process(o_.broker_pid);
    system0_ = system_busy_us();
    self0_ = self_cpu_us();
  }

  void finish(std::int64_t now) {
    phase_ = phase::done;
    t_end_ = now;
    broker1_ = sample_process(o_.broker_pid);
    system1_ = system_busy_us();
    self1_ = self_cpu_us();
  }

  bool can_send(const connection& c) const {
    return (o_.qos == 0 || c.inflight < o_.inflight) && c.out.size() < max_unsent
           && (o_.window == 0 || sent_ - delivered_ < o_.window)
           && (o_.messages == 0 || sent_ < o_.messages);
  }

  void publish_due(std::int64_t now) {
    const auto pubs = publisher_count();
    if (pubs == 0) {
      return;
    }
    if (o_.rate > 0) {
      auto due = static_cast<std::uint64_t>(o_.rate * static_cast<double>(now - t0_) / 1e9) + 1;
      if (o_.messages > 0) {
        due = std::min(due, o_.messages);
      }
      while (sent_ < due) {
        std::size_t tried = 0;
        while (tried < pubs && !can_send(conns_[rr_])) {
          rr_ = (rr_ + 1) % pubs;
          ++tried;
        }
        if (tried == pubs) {
          ++stalls_; // every publisher is at its in-flight limit: behind schedule
          break;
        }
        send_publish(conns_[rr_], now);
        rr_ = (rr_ + 1) % pubs;
      }
      return;
    }
    // Closed loop: one message per publisher per round while anyone can send.
    for (bool progress = true; progress;) {
      progress = false;
      for (std::size_t k = 0; k < pubs; ++k) {
        auto& c = conns_[(rr_ + k) % pubs];
        if (can_send(c)) {
          send_publish(c, now);
          progress = true;
        }
      }
    }
    rr_ = (rr_ + 1) % pubs;
  }

  void send_publish(connection& c, std::int64_t now) {
    const auto seq = c.next_seq++;
    c.flags.push_back(0);
    if (!o_.json_payload) {
      put(c.next.payload, 16, seq);
      put(c.next.payload, 24, static_cast<std::uint64_t>(now));
    }
    c.next.packet_id = static_cast<std::uint16_t>(seq % 65535 + 1);
    mqtt::encode(c.next, c.out);
    ++sent_;
    if (o_.qos > 0) {
      ++c.inflight;
    }
    mark_dirty(c);
  }

  void mark_dirty(connection& c) {
    c.last_out = now_;
    if (!c.dirty) {
      c.dirty = true;
      dirty_.push_back(&c);
    }
  }

  void flush_dirty() {
    for (auto* c : dirty_) {
      c->dirty = false;
      flush(*c); // after the end too: the last PUBACKs must reach the broker
    }
    dirty_.clear();
  }

  std::uint64_t tag_of(const connection& c) const {
    return static_cast<std::uint64_t>(&c - conns_.data());
  }

  void flush(connection& c) {
    if (c.connecting || c.out.empty()) {
      return;
    }
    if (c.ssl != nullptr) {
      flush_tls(c);
      return;
    }
    std::size_t pos = 0;
    while (pos < c.out.size()) {
      const auto n = send(c.fd, c.out.data() + pos, c.out.size() - pos, MSG_NOSIGNAL);
      if (n > 0) {
        pos += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        fail(c.id + ": send: " + std::strerror(errno));
        return;
      }
    }
    c.out.erase(0, pos);
    const bool want = !c.out.empty();
    if (want != c.want_out) {
      c.want_out = want;
      poll_.modify(c.fd, want ? EPOLLIN | EPOLLOUT : EPOLLIN, tag_of(c));
    }
  }

  void set_events(connection& c, bool out) {
    if (out != c.want_out) {
      c.want_out = out;
      poll_.modify(c.fd, out ? EPOLLIN | EPOLLOUT : EPOLLIN, tag_of(c));
    }
  }

  /// A TLS step that is not success; true = wait for the socket and try again.
  bool tls_retry(connection& c, tls_step step, const char* what) {
    if (step == tls_step::want_read || step == tls_step::want_write) {
      set_events(c, step == tls_step::want_write || !c.out.empty());
      return true;
    }
    fail(c.id + ": " + what + ": "
         + (step == tls_step::closed ? "closed by the broker" : ssl_error_text()));
    return false;
  }

  void flush_tls(connection& c) {
    if (const auto step = tls_write(c.ssl, c.out); step != tls_step::done) {
      tls_retry(c, step, "TLS write");
      return;
    }
    set_events(c, false);
  }

  /// The TLS handshake; true once it is done (the CONNECT in `out` can go).
  bool handshake(connection& c) {
    if (const auto step = tls_handshake(c.ssl); step != tls_step::done) {
      tls_retry(c, step, "TLS handshake");
      return false;
    }
    c.connecting = false;
    return true;
  }

  void on_writable(connection& c) {
    if (c.connecting && c.ssl == nullptr) {
      if (int err = connect_result(c.fd); err != 0) {
        fail(c.id + ": connect to " + o_.host + ":" + std::to_string(o_.port) + ": "
             + std::strerror(err));
        return;
      }
      if (ctx_ == nullptr) {
        c.connecting = false;
      } else {
        c.ssl = start_client_tls(ctx_, c.fd, o_.hub_hostname, !o_.ca.empty());
      }
    }
    if (c.connecting && !handshake(c)) {
      return;
    }
    flush(c);
  }

  void on_readable(connection& c, std::int64_t now) {
    if (c.ssl == nullptr) {
      char buf[64 * 1024];
      const auto n = recv(c.fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
      }
      if (n <= 0) {
        fail(c.id + ": connection closed by the broker"
             + (n < 0 ? std::string{" ("} + std::strerror(errno) + ")" : std::string{}));
        return;
      }
      on_bytes(c, {buf, static_cast<std::size_t>(n)}, now);
      return;
    }
    if (c.connecting) {
      if (handshake(c)) {
        flush(c);
      }
      return;
    }
    if (phase_ == phase::done) {
      return;
    }
    const auto step = tls_read_all(c.ssl, [&](std::string_view bytes) {
      on_bytes(c, bytes, now);
      return phase_ != phase::done;
    });
    if (step != tls_step::done) {
      tls_retry(c, step, "TLS read");
    }
  }

  void on_bytes(connection& c, std::string_view data, std::int64_t now) {
    if (!c.in.empty()) {
      c.in.append(data);
      data = c.in;
    }
    std::size_t pos = 0;
    while (pos < data.size() && phase_ != phase::done) {
      auto split = mqtt::split_frame(data.substr(pos), max_frame);
      if (!split) {
        fail(c.id + ": bad frame from the broker: " + split.error().message());
        return;
      }
      if (split->frame_size == 0) {
        break;
      }
      auto pkt = mqtt::decode(data.substr(pos, split->frame_size));
      if (!pkt) {
        fail(c.id + ": undecodable packet from the broker: " + pkt.error().message());
        return;
      }
      pos += split->frame_size;
      on_packet(c, *pkt, now);
    }
    if (c.in.empty()) {
      c.in.assign(data.substr(pos));
    } else {
      c.in.erase(0, pos);
    }
  }

  void on_packet(connection& c, mqtt::packet& p, std::int64_t now) {
    if (auto* ack = std::get_if<mqtt::puback>(&p)) {
      on_puback(c, ack->packet_id, now);
    } else if (auto* pub = std::get_if<mqtt::publish>(&p)) {
      on_delivery(pub->payload, now);
      if (pub->qos == 1) {
        mqtt::encode(mqtt::puback{pub->packet_id}, c.out);
        mark_dirty(c);
      }
    } else if (auto* ca = std::get_if<mqtt::connack>(&p)) {
      if (ca->return_code != 0) {
        fail(c.id + ": CONNACK return code " + std::to_string(ca->return_code));
        return;
      }
      c.connacked = true;
      ++connacked_;
      if (has_subscriber() && &c == &subscriber()) {
        mqtt::subscribe s;
        s.packet_id = 1;
        s.filters.emplace_back(o_.subscribe_topic, static_cast<std::uint8_t>(o_.qos));
        mqtt::encode(s, c.out);
        mark_dirty(c);
      }
    } else if (auto* sa = std::get_if<mqtt::suback>(&p)) {
      if (sa->return_codes.empty() || sa->return_codes[0] == mqtt::suback_failure) {
        fail(c.id + ": SUBSCRIBE " + o_.subscribe_topic + " refused");
        return;
      }
      c.subacked = true;
    }
  }

  void on_puback(connection& c, std::uint16_t pid, std::int64_t now) {
    if (c.next_seq == 0) {
      ++unexpected_;
      return;
    }
    // pid = seq % 65535 + 1 and at most `inflight` (< 65535) are open: the newest sequence
    // with that residue is the one.
    const auto last = c.next_seq - 1;
    const std::uint64_t residue = pid - 1u;
    const auto back = (last % 65535 + 65535 - residue) % 65535;
    if (back > last) {
      ++unexpected_;
      return;
    }
    auto& f = c.flags[last - back];
    if (f & acked_flag) {
      ++duplicate_acks_;
      return;
    }
    f |= acked_flag;
    --c.inflight;
    ++acked_;
    last_ack_ = now;
  }

  void on_delivery(std::string_view payload, std::int64_t now) {
    if (payload.size() < payload_header || get<std::uint32_t>(payload, 0) != payload_magic) {
      ++unexpected_;
      return;
    }
    if (get<std::uint32_t>(payload, 4) != nonce_) {
      ++stale_;
      return;
    }
    const auto index = get<std::uint32_t>(payload, 8);
    const auto seq = get<std::uint64_t>(payload, 16);
    const auto sent_at = get<std::uint64_t>(payload, 24);
    if (index >= publisher_count() || seq >= conns_[index].next_seq) {
      ++unexpected_;
      return;
    }
    auto& f = conns_[index].flags[seq];
    if (f & delivered_flag) {
      ++duplicates_;
      return;
    }
    f |= delivered_flag;
    ++delivered_;
    last_delivery_ = now;
    latencies_.push_back(static_cast<std::uint64_t>(now) - sent_at);
  }

  int report() {
    std::uint64_t lost = 0;
    if (has_subscriber()) {
      for (std::size_t i = 0; i < publisher_count(); ++i) {
        for (auto f : conns_[i].flags) {
          const bool counts = o_.qos == 0 || (f & acked_flag);
          lost += counts && !(f & delivered_flag) ? 1 : 0;
        }
      }
    }
    std::sort(latencies_.begin(), latencies_.end());
    auto us = [](std::uint64_t ns) {
      return std::round(static_cast<double>(ns) / 100.0) / 10.0;
    };
    double mean = 0;
    for (auto l : latencies_) {
      mean += static_cast<double>(l);
    }
    mean = latencies_.empty() ? 0 : mean / static_cast<double>(latencies_.size());
    const auto last = has_subscriber() ? last_delivery_ : last_ack_;
    const double elapsed = t0_ > 0 && last > t0_ ? static_cast<double>(last - t0_) / 1e9 : 0;
    const double window = t0_ > 0 && t_end_ > t0_ ? static_cast<double>(t_end_ - t0_) / 1e9 : 0;
    const auto done = has_subscriber() ? delivered_ : acked_;
    nlohmann::json j;
    j["mode"] = "load";
    j["publishers"] = o_.publishers;
    j["qos"] = o_.qos;
    j["payload"] = o_.payload;
    j["rate"] = o_.rate;
    j["inflight"] = o_.inflight;
    j["window"] = o_.window;
    j["sent"] = sent_;
    j["acked"] = acked_;
    j["delivered"] = delivered_;
    j["lost"] = lost;
    j["duplicates"] = duplicates_;
    j["unacked"] = o_.qos > 0 ? sent_ - acked_ : 0;
    j["unexpected"] = unexpected_;
    j["stale"] = stale_;
    j["duplicate_acks"] = duplicate_acks_;
    j["drained"] = drained_;
    j["rate_stalls"] = stalls_;
    j["elapsed_s"] = std::round(elapsed * 1000) / 1000;
    j["send_s"] = t_stop_send_ > t0_ ? std::round((t_stop_send_ - t0_) / 1e6) / 1000 : 0.0;
    j["msgs_per_s"] = elapsed > 0 ? std::round(static_cast<double>(done) / elapsed) : 0.0;
    j["latency_p50_us"] = us(percentile(latencies_, 0.50));
    j["latency_p90_us"] = us(percentile(latencies_, 0.90));
    j["latency_p99_us"] = us(percentile(latencies_, 0.99));
    j["latency_p999_us"] = us(percentile(latencies_, 0.999));
    j["latency_max_us"] = us(latencies_.empty() ? 0 : latencies_.back());
    j["latency_mean_us"] = std::round(mean / 100.0) / 10.0;
    j["measured_s"] = std::round(window * 1000) / 1000;
    j["loadgen_cpu_s"] = static_cast<double>(self1_ - self0_) / 1e6;
    if (window > 0) {
      // /proc/stat is tick-sampled and undercounts bursty work (it can read below the sum of
      // the processes' precise times): informational only.
      j["loadgen_cores"] =
          std::round(static_cast<double>(self1_ - self0_) / 1e6 / window * 100) / 100;
      j["system_busy_cores"] =
          std::round(static_cast<double>(system1_ - system0_) / 1e6 / window * 100) / 100;
      if (o_.broker_pid > 0 && broker0_.ok && broker1_.ok) {
        j["broker_cores"] =
            std::round(static_cast<double>(broker1_.cpu_us - broker0_.cpu_us) / 1e6 / window * 100)
            / 100;
      }
    }
    if (o_.broker_pid > 0 && broker0_.ok && broker1_.ok) {
      const auto cpu = broker1_.cpu_us - broker0_.cpu_us;
      j["broker_cpu_s"] = static_cast<double>(cpu) / 1e6;
      j["broker_cpu_us_per_msg"] =
          done > 0 ? std::round(static_cast<double>(cpu) / static_cast<double>(done) * 100) / 100
                   : 0.0;
      j["broker_rss_kib"] = broker1_.rss_kib;
      j["broker_hwm_kib"] = broker1_.hwm_kib;
    }
    if (!error_.empty()) {
      j["error"] = error_;
    }
    std::cout << j.dump() << std::endl;
    return error_.empty() ? 0 : 1;
  }

  const options& o_;
  credential_source creds_;
  poller poll_;
  std::vector<connection> conns_;
  std::vector<connection*> dirty_;
  int timer_fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  std::size_t next_start_ = 0; ///< connections started so far
  std::size_t connacked_ = 0;
  phase phase_ = phase::connecting;
  std::string error_;
  std::size_t rr_ = 0;
  const std::uint32_t nonce_ = static_cast<std::uint32_t>(now_ns() ^ (now_ns() >> 32) ^ getpid());

  std::uint64_t sent_ = 0;
  std::uint64_t acked_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t duplicate_acks_ = 0;
  std::uint64_t unexpected_ = 0;
  std::uint64_t stale_ = 0; ///< deliveries from an earlier run (another nonce)
  std::uint64_t stalls_ = 0;
  bool drained_ = false;
  std::vector<std::uint64_t> latencies_;

  std::int64_t connect_deadline_ = 0;
  std::int64_t t0_ = 0;
  std::int64_t t_stop_send_ = 0;
  std::int64_t drain_deadline_ = 0;
  std::int64_t t_end_ = 0;
  std::int64_t last_ack_ = 0;
  std::int64_t last_delivery_ = 0;
  std::int64_t next_ping_ = 0;
  std::int64_t now_ = 0; ///< the loop pass's clock

  proc_sample broker0_;
  proc_sample broker1_;
  std::int64_t system0_ = 0;
  std::int64_t system1_ = 0;
  std::int64_t self0_ = 0;
  std::int64_t self1_ = 0;
};

} // namespace

int run_load(const options& o) {
  load_run r(o);
  return r.run();
}

} // namespace outpost::loadgen
