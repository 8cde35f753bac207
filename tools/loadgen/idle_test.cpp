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
#include <stdexcept>
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

class idle_run {
public:
  explicit idle_run(const options& o) : o_(o), creds_(o) {}

  ~idle_run() {
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
    if (o_.tls) {
      ctx_ = make_client_tls_context(o_.ca);
    }
    conns_.resize(static_cast<std::size_t>(o_.idle_connections));
    // Credentials first (HMAC per client), so the connect phase measures only connecting.
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      const auto id = client_id(o_, static_cast<int>(i) + 1);
      mqtt::encode(make_connect(id, creds_.for_client(id), o_.keepalive_s), conns_[i].out);
    }
    before_ = sample_process(o_.broker_pid);
    t_first_ = now_ns();
    connect_all();
    t_connected_ = last_connack_ > 0 ? last_connack_ : now_ns();
    broker_connected_ = sample_process(o_.broker_pid);
    // Hold: keep servicing the sockets (pings, drops), then measure the broker again.
    const auto hold_until = now_ns() + static_cast<std::int64_t>(o_.hold_s * 1e9);
    while (now_ns() < hold_until) {
      pump(100);
      ping_if_due();
    }
    held_ = sample_process(o_.broker_pid);
    return report();
  }

private:
  void connect_all() {
    std::size_t next = 0;
    const auto timeout = static_cast<std::int64_t>(o_.connect_timeout_s * 1e9);
    std::int64_t next_sweep = 0;
    while (next < conns_.size() || in_progress_ > 0) {
      while (next < conns_.size() && in_progress_ < static_cast<std::size_t>(o_.connect_parallel)) {
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
      ++dropped_;
    } else {
      ++failed_;
      --in_progress_;
    }
    if (first_error_.empty()) {
      first_error_ = why;
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
          ++connected_;
          last_connack_ = now_ns();
          connect_ns_.push_back(static_cast<std::uint64_t>(last_connack_ - c.started));
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

  int report() {
    std::sort(connect_ns_.begin(), connect_ns_.end());
    auto ms = [](std::uint64_t ns) {
      return std::round(static_cast<double>(ns) / 1e4) / 100; // 0.01 ms
    };
    const double seconds = static_cast<double>(t_connected_ - t_first_) / 1e9;
    std::size_t held = 0;
    for (const auto& c : conns_) {
      held += c.st == state::held ? 1 : 0;
    }
    nlohmann::json j;
    j["mode"] = "idle";
    j["tls"] = o_.tls;
    j["target"] = o_.idle_connections;
    j["parallel"] = o_.connect_parallel;
    j["connected"] = connected_;
    j["failed"] = failed_;
    j["dropped_while_held"] = dropped_;
    j["held_at_end"] = held;
    j["connect_s"] = std::round(seconds * 1000) / 1000;
    j["connects_per_s"] = seconds > 0 ? std::round(static_cast<double>(connected_) / seconds) : 0;
    j["connect_p50_ms"] = ms(percentile(connect_ns_, 0.50));
    j["connect_p99_ms"] = ms(percentile(connect_ns_, 0.99));
    j["connect_max_ms"] = ms(connect_ns_.empty() ? 0 : connect_ns_.back());
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
    if (!first_error_.empty()) {
      j["first_error"] = first_error_;
    }
    std::cout << j.dump() << std::endl;
    return failed_ == 0 && dropped_ == 0 ? 0 : 1;
  }

  const options& o_;
  credential_source creds_;
  poller poll_;
  SSL_CTX* ctx_ = nullptr;
  std::vector<idle_conn> conns_;
  std::size_t in_progress_ = 0;
  std::size_t connected_ = 0;
  std::size_t failed_ = 0;
  std::size_t dropped_ = 0;
  std::string first_error_;
  std::vector<std::uint64_t> connect_ns_;
  std::int64_t t_first_ = 0;
  std::int64_t t_connected_ = 0;
  std::int64_t last_connack_ = 0;
  std::int64_t next_ping_ = 0;
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
