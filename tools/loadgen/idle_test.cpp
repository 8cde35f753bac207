#include "tools/loadgen/idle_test.hpp"

#include "protocols/mqtt/decoder.hpp"
#include "protocols/mqtt/encoder.hpp"
#include "protocols/mqtt/frame_splitter.hpp"
#include "tools/loadgen/net.hpp"
#include "tools/loadgen/support.hpp"

#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <unistd.h>

namespace outpost::loadgen {

namespace {

enum class state { idle, tcp, tls, send_connect, wait_connack, held, failed };

struct idle_conn {
  int fd = -1;
  SSL* ssl = nullptr;
  state st = state::idle;
  std::uint32_t events = 0; ///< current epoll mask
  std::string out;
  std::size_t out_pos = 0;
  std::string in;
  std::int64_t started = 0;
};

/// One thread's share of the connections: its own epoll set and TLS context, so threads share
/// nothing while they handshake (OpenSSL 3 takes locks per context).
struct idle_stats {
  std::size_t connected = 0;
  std::size_t failed = 0;
  std::size_t dropped = 0;
  std::string first_error;
  std::vector<std::uint64_t> connect_ns;
  std::int64_t last_connack = 0;
};

class idle_shard {
public:
  idle_shard(const options& o, std::size_t first, std::size_t count, int parallel)
      : o_(o),
        first_(first),
        parallel_(std::max(1, parallel)) {
    if (o_.tls) {
      ctx_ = make_client_tls_context(o_.ca);
    }
    conns_.resize(count);
  }
  idle_shard(const idle_shard&) = delete;
  idle_shard& operator=(const idle_shard&) = delete;

  ~idle_shard() {
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

  /// The CONNECT packet of connection `i` (0-based within the shard).
  std::string& connect_packet(std::size_t i) { return conns_[i].out; }
  std::size_t first() const { return first_; }
  std::size_t size() const { return conns_.size(); }

  /// Keeps servicing the sockets (pings, drops) until `until` (now_ns()).
  void hold(std::int64_t until) {
    while (now_ns() < until) {
      pump(100);
      ping_if_due();
    }
  }

  std::size_t held() const {
    return static_cast<std::size_t>(std::count_if(
        conns_.begin(), conns_.end(), [](const idle_conn& c) { return c.st == state::held; }));
  }

  const idle_stats& stats() const { return stats_; }

  void connect_all() {
    std::size_t next = 0;
    const auto timeout = static_cast<std::int64_t>(o_.connect_timeout_s * 1e9);
    std::int64_t next_sweep = 0;
    while (next < conns_.size() || in_progress_ > 0) {
      while (next < conns_.size() && in_progress_ < static_cast<std::size_t>(parallel_)) {
        start(next++);
      }
      pump(10);
      const auto now = now_ns();
      if (now >= next_sweep) {
        next_sweep = now + 100'000'000;
        for (auto& c : conns_) {
          const bool pending = c.st == state::tcp || c.st == state::tls
                               || c.st == state::send_connect || c.st == state::wait_connack;
          if (pending && now - c.started > timeout) {
            fail(c, "connect timeout");
          }
        }
      }
    }
  }

private:
  void start(std::size_t i) {
    auto& c = conns_[i];
    std::string why;
    c.started = now_ns();
    c.fd = start_connect(o_.host, o_.port, true, why);
    ++in_progress_;
    if (c.fd < 0) {
      fail(c, why);
      return;
    }
    c.st = state::tcp;
    c.events = EPOLLOUT;
    poll_.add(c.fd, c.events, i);
  }

  void set_events(idle_conn& c, std::uint32_t events) {
    if (c.events != events) {
      c.events = events;
      poll_.modify(c.fd, events, static_cast<std::uint64_t>(&c - conns_.data()));
    }
  }

  void fail(idle_conn& c, const std::string& why) {
    if (c.st == state::held) {
      ++stats_.dropped;
    } else {
      ++stats_.failed;
      --in_progress_;
    }
    if (stats_.first_error.empty()) {
      stats_.first_error = why;
    }
    c.st = state::failed;
    if (c.fd >= 0) {
      poll_.remove(c.fd);
      close(c.fd);
      c.fd = -1;
    }
    if (c.ssl != nullptr) {
      SSL_free(c.ssl);
      c.ssl = nullptr;
    }
    c.out.clear();
    c.out.shrink_to_fit();
  }

  void pump(int timeout_ms) {
    const int n = poll_.wait(timeout_ms);
    for (int i = 0; i < n; ++i) {
      const auto& ev = poll_.event(i);
      drive(conns_[ev.data.u64], ev.events);
    }
  }

  /// Handles an SSL_* return value that is not success; true = try again later.
  bool tls_retry(idle_conn& c, int rc, const char* what) {
    const int err = SSL_get_error(c.ssl, rc);
    if (err == SSL_ERROR_WANT_READ) {
      set_events(c, EPOLLIN);
      return true;
    }
    if (err == SSL_ERROR_WANT_WRITE) {
      set_events(c, EPOLLOUT);
      return true;
    }
    fail(c, std::string{what} + ": "
                + (err == SSL_ERROR_ZERO_RETURN ? "closed by the broker" : ssl_error_text()));
    return false;
  }

  void drive(idle_conn& c, std::uint32_t events) {
    if (c.st == state::tcp) {
      if (int err = connect_result(c.fd); err != 0) {
        fail(c, std::string{"connect: "} + std::strerror(err));
        return;
      }
      if (o_.tls) {
        c.ssl = SSL_new(ctx_);
        SSL_set_fd(c.ssl, c.fd);
        SSL_set_tlsext_host_name(c.ssl, o_.hub_hostname.c_str());
        if (!o_.ca.empty()) {
          SSL_set1_host(c.ssl, o_.hub_hostname.c_str());
        }
        c.st = state::tls;
      } else {
        c.st = state::send_connect;
      }
    }
    if (c.st == state::tls) {
      const int rc = SSL_connect(c.ssl);
      if (rc != 1) {
        tls_retry(c, rc, "TLS handshake");
        return;
      }
      c.st = state::send_connect;
    }
    if (c.st == state::send_connect) {
      while (c.out_pos < c.out.size()) {
        const auto left = c.out.size() - c.out_pos;
        if (c.ssl != nullptr) {
          const int rc = SSL_write(c.ssl, c.out.data() + c.out_pos, static_cast<int>(left));
          if (rc <= 0) {
            tls_retry(c, rc, "TLS write");
            return;
          }
          c.out_pos += static_cast<std::size_t>(rc);
        } else {
          const auto rc = send(c.fd, c.out.data() + c.out_pos, left, MSG_NOSIGNAL);
          if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(c, EPOLLOUT);
            return;
          }
          if (rc <= 0) {
            fail(c, std::string{"send: "} + std::strerror(errno));
            return;
          }
          c.out_pos += static_cast<std::size_t>(rc);
        }
      }
      c.out.clear();
      c.out.shrink_to_fit();
      c.out_pos = 0;
      c.st = state::wait_connack;
      set_events(c, EPOLLIN);
      return; // the CONNACK comes with a later event
    }
    if (c.st == state::wait_connack || c.st == state::held) {
      (void)events;
      read_some(c);
    }
  }

  void read_some(idle_conn& c) {
    char buf[4096];
    for (;;) {
      int n = 0;
      if (c.ssl != nullptr) {
        n = SSL_read(c.ssl, buf, sizeof buf);
        if (n <= 0) {
          tls_retry(c, n, c.st == state::held ? "held connection" : "waiting for CONNACK");
          return;
        }
      } else {
        const auto rc = recv(c.fd, buf, sizeof buf, 0);
        if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          return;
        }
        if (rc <= 0) {
          fail(c, rc == 0 ? "closed by the broker" : std::strerror(errno));
          return;
        }
        n = static_cast<int>(rc);
      }
      c.in.append(buf, static_cast<std::size_t>(n));
      while (!c.in.empty()) {
        auto split = mqtt::split_frame(c.in, 1 << 20);
        if (!split) {
          fail(c, "bad frame: " + split.error().message());
          return;
        }
        if (split->frame_size == 0) {
          break;
        }
        auto pkt = mqtt::decode(std::string_view{c.in}.substr(0, split->frame_size));
        c.in.erase(0, split->frame_size);
        if (!pkt) {
          fail(c, "undecodable packet: " + pkt.error().message());
          return;
        }
        if (auto* ack = std::get_if<mqtt::connack>(&*pkt); ack && c.st == state::wait_connack) {
          if (ack->return_code != 0) {
            fail(c, "CONNACK return code " + std::to_string(ack->return_code));
            return;
          }
          c.st = state::held;
          --in_progress_;
          ++stats_.connected;
          stats_.last_connack = now_ns();
          stats_.connect_ns.push_back(static_cast<std::uint64_t>(stats_.last_connack - c.started));
        }
      }
      c.in.shrink_to_fit();
    }
  }

  void ping_if_due() {
    const auto now = now_ns();
    if (o_.keepalive_s == 0) {
      return;
    }
    if (next_ping_ == 0) {
      next_ping_ = now + std::int64_t{o_.keepalive_s} * 500'000'000;
      return;
    }
    if (now < next_ping_) {
      return;
    }
    next_ping_ = now + std::int64_t{o_.keepalive_s} * 500'000'000;
    std::string ping;
    mqtt::encode(mqtt::pingreq{}, ping);
    for (auto& c : conns_) {
      if (c.st == state::held) {
        if (c.ssl != nullptr) {
          SSL_write(c.ssl, ping.data(), static_cast<int>(ping.size()));
        } else {
          [[maybe_unused]] auto rc = send(c.fd, ping.data(), ping.size(), MSG_NOSIGNAL);
        }
      }
    }
  }

  const options& o_;
  std::size_t first_;
  int parallel_;
  poller poll_;
  SSL_CTX* ctx_ = nullptr;
  std::vector<idle_conn> conns_;
  std::size_t in_progress_ = 0;
  std::int64_t next_ping_ = 0;
  idle_stats stats_;
};

/// Opens `--idle-connections` connections from `--threads` threads (each a shard with a share
/// of `--connect-parallel`), holds them, and reports what the broker spent on them.
class idle_run {
public:
  explicit idle_run(const options& o) : o_(o), creds_(o) {}

  int run() {
    const auto total = static_cast<std::size_t>(o_.idle_connections);
    const auto threads =
        std::clamp<std::size_t>(static_cast<std::size_t>(std::max(1, o_.connect_threads)), 1,
                                std::max<std::size_t>(1, total));
    for (std::size_t t = 0; t < threads; ++t) {
      const auto first = total * t / threads;
      const auto count = total * (t + 1) / threads - first;
      const int parallel = o_.connect_parallel / static_cast<int>(threads);
      shards_.push_back(std::make_unique<idle_shard>(o_, first, count, parallel));
    }
    // Credentials first (HMAC per client), so the connect phase measures only connecting.
    for (auto& sh : shards_) {
      for (std::size_t i = 0; i < sh->size(); ++i) {
        const auto id = client_id(o_, static_cast<int>(sh->first() + i) + 1);
        mqtt::encode(make_connect(id, creds_.for_client(id), o_.keepalive_s),
                     sh->connect_packet(i));
      }
    }
    before_ = sample_process(o_.broker_pid);
    t_first_ = now_ns();
    on_each_shard([](idle_shard& sh) { sh.connect_all(); });
    std::int64_t last = 0;
    for (const auto& sh : shards_) {
      last = std::max(last, sh->stats().last_connack);
    }
    t_connected_ = last > 0 ? last : now_ns();
    broker_connected_ = sample_process(o_.broker_pid);
    const auto hold_until = now_ns() + static_cast<std::int64_t>(o_.hold_s * 1e9);
    on_each_shard([hold_until](idle_shard& sh) { sh.hold(hold_until); });
    held_ = sample_process(o_.broker_pid);
    return report();
  }

private:
  template <class F>
  void on_each_shard(F f) {
    std::vector<std::thread> threads;
    for (std::size_t t = 1; t < shards_.size(); ++t) {
      threads.emplace_back([&f, sh = shards_[t].get()] { f(*sh); });
    }
    f(*shards_.front());
    for (auto& th : threads) {
      th.join();
    }
  }

  int report() {
    std::size_t connected = 0;
    std::size_t failed = 0;
    std::size_t dropped = 0;
    std::size_t held = 0;
    std::string first_error;
    std::vector<std::uint64_t> connect_ns;
    for (const auto& sh : shards_) {
      connected += sh->stats().connected;
      failed += sh->stats().failed;
      dropped += sh->stats().dropped;
      held += sh->held();
      if (first_error.empty()) {
        first_error = sh->stats().first_error;
      }
      connect_ns.insert(connect_ns.end(), sh->stats().connect_ns.begin(),
                        sh->stats().connect_ns.end());
    }
    std::sort(connect_ns.begin(), connect_ns.end());
    auto ms = [](std::uint64_t ns) {
      return std::round(static_cast<double>(ns) / 1e4) / 100; // 0.01 ms
    };
    const double seconds = static_cast<double>(t_connected_ - t_first_) / 1e9;
    nlohmann::json j;
    j["mode"] = "idle";
    j["tls"] = o_.tls;
    j["target"] = o_.idle_connections;
    j["parallel"] = o_.connect_parallel;
    j["threads"] = shards_.size();
    j["connected"] = connected;
    j["failed"] = failed;
    j["dropped_while_held"] = dropped;
    j["held_at_end"] = held;
    j["connect_s"] = std::round(seconds * 1000) / 1000;
    j["connects_per_s"] = seconds > 0 ? std::round(static_cast<double>(connected) / seconds) : 0;
    j["connect_p50_ms"] = ms(percentile(connect_ns, 0.50));
    j["connect_p99_ms"] = ms(percentile(connect_ns, 0.99));
    j["connect_max_ms"] = ms(connect_ns.empty() ? 0 : connect_ns.back());
    j["hold_s"] = o_.hold_s;
    if (o_.broker_pid > 0 && before_.ok && held_.ok) {
      j["broker_rss_before_kib"] = before_.rss_kib;
      j["broker_rss_held_kib"] = held_.rss_kib;
      j["broker_hwm_kib"] = held_.hwm_kib;
      j["broker_kib_per_conn"] =
          held > 0 ? std::round(static_cast<double>(held_.rss_kib - before_.rss_kib)
                                / static_cast<double>(held) * 100)
                         / 100
                   : 0.0;
      j["broker_cpu_connect_s"] =
          static_cast<double>(broker_connected_.cpu_us - before_.cpu_us) / 1e6;
      j["broker_cpu_hold_s"] = static_cast<double>(held_.cpu_us - broker_connected_.cpu_us) / 1e6;
    }
    j["loadgen_rss_kib"] = sample_process(static_cast<int>(getpid())).rss_kib;
    if (!first_error.empty()) {
      j["first_error"] = first_error;
    }
    std::cout << j.dump() << std::endl;
    return failed == 0 && dropped == 0 ? 0 : 1;
  }

  const options& o_;
  credential_source creds_;
  std::vector<std::unique_ptr<idle_shard>> shards_;
  std::int64_t t_first_ = 0;
  std::int64_t t_connected_ = 0;
  proc_sample before_;
  proc_sample broker_connected_;
  proc_sample held_;
};

} // namespace

int run_idle(const options& o) {
  idle_run r(o);
  return r.run();
}

} // namespace outpost::loadgen
