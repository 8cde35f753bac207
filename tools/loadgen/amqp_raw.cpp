// outpost-amqp-loadgen's raw engine (--engine raw, the default): the Proton engine's dialect,
// byte for byte where it matters, at a fraction of its CPU. One thread, level-triggered epoll,
// non-blocking sockets with OpenSSL on each, our codec (amqp_codec.hpp), the telemetry transfer
// encoded once and stamped per delivery, one SSL_write per connection per loop pass: the
// benchmark it drives should measure the hub, not the client.
//
// Per connection: TLS, the AMQP header (no SASL), open, begin, a sender and a receiver on
// $cbs, credit for the reply, put-token once the hub grants credit; on status 200 a sender on
// /devices/{id}/messages/events; "ready" once the hub credits it. Then transfers while fewer
// than --inflight are unsettled and link credit and the session window allow; the hub's
// dispositions settle them (accepted or refused). A connection that fails is reported on
// stderr and dropped; the run goes on with the others.

#include "tools/loadgen/amqp_codec.hpp"
#include "tools/loadgen/amqp_engines.hpp"
#include "tools/loadgen/net.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <climits>
#include <csignal>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

namespace outpost::loadgen {

namespace {

constexpr std::int64_t ms = 1'000'000;
constexpr std::int64_t second = 1'000'000'000;
constexpr std::int64_t connect_wait = 60 * second; // as long as the Proton engine waits
constexpr std::int64_t warm_up = 1 * second;
constexpr std::int64_t drain_wait = 2 * second;
constexpr std::int64_t close_wait = 2 * second;
constexpr std::int64_t heartbeat_sweep = 100 * ms;

constexpr std::uint32_t our_max_frame = 65536;
constexpr std::uint32_t cbs_reply_credit = 10;
constexpr std::size_t max_reply = 64 * 1024;
/// A connection's unsent bytes beyond which it sends no more telemetry (socket backpressure).
constexpr std::size_t max_unsent = 256 * 1024;
/// Telemetry delivery ids tracked per connection: more than --inflight may be unsettled when
/// the hub settles out of order; sending waits rather than overrun the ring. 2^32 is a
/// multiple, so ids index it across their wrap.
constexpr std::uint32_t ring = 4096;

/// Our links: the handle is the index.
enum link_handle : std::uint32_t { cbs_out = 0, cbs_in = 1, events = 2, link_count = 3 };
constexpr std::uint32_t no_handle = ~std::uint32_t{0};
constexpr const char* link_suffix[link_count] = {"/cbs-out", "/cbs-in", "/events"};

/// Serial-number order (RFC 1982): AMQP's transfer ids and delivery counts wrap.
bool before(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) < 0;
}

enum class state : std::uint8_t { waiting, connecting, handshaking, open, closing, done };

struct connection {
  std::string id;
  std::string token; ///< its SAS
  int fd = -1;
  SSL* ssl = nullptr;
  state st = state::waiting;
  bool want_out = false; ///< EPOLLOUT registered
  bool dirty = false;    ///< in the flush list
  bool header_seen = false;
  std::string in;  ///< an incomplete frame
  std::string out; ///< not yet written
  std::int64_t last_out = 0;
  // The hub's open and begin.
  std::uint32_t peer_idle_ms = 0;
  std::uint32_t peer_next_outgoing = 0;
  // Our session's sending side. Every delivery is one frame: transfer id = delivery id.
  std::uint32_t next_outgoing = 0;
  std::uint32_t window_end = 0; ///< the hub's next-incoming-id + incoming-window
  // Links by our handle: the hub's handle, credit as the spec computes it (§2.6.7).
  std::array<std::uint32_t, link_count> peer_handle{no_handle, no_handle, no_handle};
  std::array<std::uint32_t, link_count> credit_end{}; ///< hub's delivery-count + link-credit
  std::array<std::uint32_t, link_count> delivery_count{};
  // CBS.
  bool token_sent = false;
  bool reply_started = false; ///< a reply's transfer frames are arriving
  bool reply_settled = false;
  std::uint32_t reply_id = 0;
  std::string reply;
  // Telemetry.
  bool ready = false;
  std::uint32_t oldest = 0; ///< the lowest telemetry id that may be unsettled
  std::uint32_t outstanding = 0;
  std::uint64_t next_tag = 0;
  std::vector<std::uint8_t> unsettled; ///< by delivery id % ring
};

constexpr std::uint32_t batched_format = 0x80013700; ///< AmqpBatchedMessageFormat

std::string payload_message(std::size_t payload) {
  std::string m;
  amqp::encode_data(m, std::string(payload, 'x'));
  return m;
}

/// A delivery's message: one message, or `batch` of them in IoT Hub's batched format (each
/// Data section of the outer message is one encoded message).
std::string delivery_message(std::size_t payload, unsigned batch) {
  if (batch <= 1) {
    return payload_message(payload);
  }
  const auto one = payload_message(payload);
  std::string m;
  for (unsigned i = 0; i < batch; ++i) {
    amqp::encode_data(m, one);
  }
  return m;
}

std::string error_text(const amqp::error_fields& e) {
  if (!e.present) {
    return "no error given";
  }
  return std::string{e.condition} + ": " + std::string{e.description};
}

enum class phase { connecting, warm_up, measuring, holding, draining, closing, done };

class raw_run {
public:
  explicit raw_run(const amqp_settings& s)
      : s_(s),
        o_(s.o),
        creds_(s.o),
        events_frame_(0, events, delivery_message(s.o.payload, s.batch),
                      s.batch > 1 ? batched_format : 0) {}

  ~raw_run() {
    for (auto& c : conns_) {
      teardown(c);
    }
    if (ctx_ != nullptr) {
      SSL_CTX_free(ctx_);
    }
  }

  raw_run(const raw_run&) = delete;
  raw_run& operator=(const raw_run&) = delete;

  amqp_outcome run() {
    setup();
    loop();
    return out_;
  }

private:
  bool idle() const { return s_.idle > 0; }

  void setup() {
    std::signal(SIGPIPE, SIG_IGN); // a write to a socket the hub closed fails, not kills us
    raise_fd_limit();
    const int n = idle() ? s_.idle : o_.publishers;
    conns_.resize(static_cast<std::size_t>(std::max(n, 0)));
    for (std::size_t i = 0; i < conns_.size(); ++i) {
      auto& c = conns_[i];
      c.id = client_id(o_, static_cast<int>(i) + 1);
      c.token = *creds_.for_client(c.id).password;
      preamble(c);
    }
    ctx_ = make_client_tls_context(o_.ca);
    out_.broker_before_connect = sample_process(o_.broker_pid);
    now_ = now_ns();
    sending_ = !idle();
    phase_end_ = now_ + connect_wait;
  }

  /// What a connection sends as soon as TLS is up (AMQP pipelines it; so does Proton).
  void preamble(connection& c) {
    c.out.append(amqp::protocol_header);
    amqp::encode_open(c.out, {c.id, o_.hub_hostname, our_max_frame, 0});
    amqp::encode_begin(c.out, 0, {});
    amqp::attach_fields a;
    a.name = c.id + link_suffix[cbs_out];
    a.handle = cbs_out;
    a.source_address = "$cbs";
    a.target_address = "$cbs";
    amqp::encode_attach(c.out, 0, a);
    a.name = c.id + link_suffix[cbs_in];
    a.handle = cbs_in;
    a.receiver = true;
    a.target_address = "cbs"; // our reply address
    amqp::encode_attach(c.out, 0, a);
  }

  // ---- the loop ------------------------------------------------------------------------------

  void loop() {
    while (phase_ != phase::done) {
      const int n = poll_.wait(20);
      now_ = now_ns();
      for (int i = 0; i < n; ++i) {
        const auto& ev = poll_.event(i);
        auto& c = conns_[ev.data.u64];
        if (c.fd >= 0 && (ev.events & EPOLLOUT)) {
          on_writable(c);
        }
        if (c.fd >= 0 && (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
          on_readable(c);
        }
      }
      step();
      flush_dirty();
    }
  }

  void step() {
    heartbeats();
    switch (phase_) {
      case phase::connecting:
        return connecting();
      case phase::warm_up:
        if (now_ >= phase_end_) {
          open_window();
        }
        return;
      case phase::measuring:
        if (now_ >= phase_end_) {
          close_window();
        }
        return;
      case phase::holding:
        if (now_ >= phase_end_) {
          out_.broker_held = sample_process(o_.broker_pid);
          start_closing();
        }
        return;
      case phase::draining:
        if (outstanding() == 0 || now_ >= phase_end_) {
          out_.refused = refused_;
          start_closing();
        }
        return;
      case phase::closing:
        if (now_ >= phase_end_ || std::all_of(conns_.begin(), conns_.end(), [](const auto& c) {
              return c.st == state::done;
            })) {
          phase_ = phase::done;
        }
        return;
      case phase::done:
        return;
    }
  }

  /// Starts connects (at most --connect-parallel being set up: 1,000 TLS handshakes at once
  /// would outlast the hub's authentication deadline) until all are ready or given up.
  void connecting() {
    while (next_start_ < conns_.size()
           && next_start_ - ready_ - given_up_ < static_cast<std::size_t>(o_.connect_parallel)) {
      start(conns_[next_start_++]);
    }
    if (ready_ + given_up_ < conns_.size() && now_ < phase_end_) {
      return;
    }
    out_.ready = static_cast<int>(ready_);
    phase_ = idle() ? phase::holding : phase::warm_up;
    phase_end_ = now_ + (idle() ? static_cast<std::int64_t>(o_.hold_s * 1e9) : warm_up);
  }

  void start(connection& c) {
    std::string why;
    c.fd = start_connect(o_.host, o_.port, true, why);
    if (c.fd < 0) {
      return fail(c, why);
    }
    c.st = state::connecting;
    try {
      poll_.add(c.fd, EPOLLIN | EPOLLOUT, tag_of(c));
    } catch (const std::exception& e) {
      return fail(c, e.what()); // this connection's problem, not the run's
    }
    c.want_out = true;
  }

  void open_window() {
    accepted0_ = accepted_;
    out_.broker_start = sample_process(o_.broker_pid);
    cpu0_ = self_cpu_us();
    t0_ = now_;
    phase_ = phase::measuring;
    phase_end_ = now_ + static_cast<std::int64_t>(o_.duration_s * 1e9);
  }

  void close_window() {
    out_.accepted = accepted_ - accepted0_;
    out_.broker_end = sample_process(o_.broker_pid);
    out_.self_cpu_us = self_cpu_us() - cpu0_;
    out_.seconds = static_cast<double>(now_ - t0_) / 1e9;
    sending_ = false;
    phase_ = phase::draining; // the last settlements before closing
    phase_end_ = now_ + drain_wait;
  }

  std::uint64_t outstanding() const {
    std::uint64_t n = 0;
    for (const auto& c : conns_) {
      n += c.st == state::open ? c.outstanding : 0;
    }
    return n;
  }

  void start_closing() {
    for (auto& c : conns_) {
      if (c.st == state::open) {
        amqp::encode_close(c.out);
        mark_dirty(c);
        c.st = state::closing;
      } else if (c.st != state::closing) {
        teardown(c);
      }
    }
    phase_ = phase::closing;
    phase_end_ = now_ + close_wait;
  }

  /// An empty frame on every connection quiet for half the hub's idle timeout (held idle
  /// connections would otherwise be closed by the hub).
  void heartbeats() {
    if (now_ < next_sweep_) {
      return;
    }
    next_sweep_ = now_ + heartbeat_sweep;
    for (auto& c : conns_) {
      if (c.st == state::open && c.peer_idle_ms > 0
          && now_ - c.last_out >= std::int64_t{c.peer_idle_ms} * ms / 2) {
        amqp::encode_empty_frame(c.out);
        mark_dirty(c);
      }
    }
  }

  // ---- sockets and TLS -----------------------------------------------------------------------

  std::uint64_t tag_of(const connection& c) const {
    return static_cast<std::uint64_t>(&c - conns_.data());
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
      flush(*c);
    }
    dirty_.clear();
  }

  void set_events(connection& c, bool out) {
    if (out != c.want_out) {
      c.want_out = out;
      poll_.modify(c.fd, out ? EPOLLIN | EPOLLOUT : EPOLLIN, tag_of(c));
    }
  }

  void flush(connection& c) {
    if (c.ssl == nullptr || (c.st != state::open && c.st != state::closing) || c.out.empty()) {
      return;
    }
    if (const auto step = tls_write(c.ssl, c.out); step != tls_step::done) {
      tls_retry(c, step, "TLS write");
      return;
    }
    set_events(c, false);
  }

  /// A TLS step that is not success: true = wait for the socket and try again.
  bool tls_retry(connection& c, tls_step step, const char* what) {
    if (step == tls_step::want_write) {
      set_events(c, true);
      return true;
    }
    if (step == tls_step::want_read) {
      // Bytes queued while reading go out with this pass's flush: EPOLLOUT only when a
      // write is blocked (one epoll_ctl pair per pass and connection otherwise).
      if (c.out.empty() || c.st == state::handshaking) {
        set_events(c, false);
      }
      return true;
    }
    if (c.st == state::closing) {
      teardown(c); // the hub went away after our close: nothing was lost
      return false;
    }
    fail(c, std::string{what} + ": "
                + (step == tls_step::closed ? "closed by the hub" : ssl_error_text()));
    return false;
  }

  bool handshake(connection& c) {
    if (const auto step = tls_handshake(c.ssl); step != tls_step::done) {
      tls_retry(c, step, "TLS handshake");
      return false;
    }
    c.st = state::open;
    c.last_out = now_;
    return true;
  }

  void on_writable(connection& c) {
    if (c.st == state::connecting) {
      if (int err = connect_result(c.fd); err != 0) {
        return fail(
            c, "connect to " + o_.host + ":" + std::to_string(o_.port) + ": " + std::strerror(err));
      }
      c.ssl = start_client_tls(ctx_, c.fd, o_.hub_hostname, true);
      c.st = state::handshaking;
    }
    if (c.st == state::handshaking && !handshake(c)) {
      return;
    }
    flush(c);
    if (c.fd >= 0 && c.out.empty()) {
      fill(c); // the socket drained: telemetry held back by max_unsent may go
    }
  }

  void on_readable(connection& c) {
    if (c.st == state::connecting) {
      return on_writable(c); // a failed connect reports EPOLLERR
    }
    if (c.st == state::handshaking) {
      if (handshake(c)) {
        flush(c);
      }
      return;
    }
    const auto step = tls_read_all(c.ssl, [&](std::string_view bytes) {
      on_bytes(c, bytes);
      return c.ssl != nullptr; // not torn down by what the bytes said
    });
    if (step != tls_step::done) {
      tls_retry(c, step, "TLS read");
    }
  }

  /// Closes the socket; a connection not yet ready counts as given up.
  void teardown(connection& c) {
    if (c.fd >= 0) {
      poll_.remove(c.fd);
    }
    if (c.ssl != nullptr) {
      SSL_free(c.ssl);
      c.ssl = nullptr;
    }
    if (c.fd >= 0) {
      close(c.fd);
      c.fd = -1;
    }
    if (c.st != state::done && c.st != state::waiting && !c.ready) {
      ++given_up_;
    }
    c.st = state::done;
    c.outstanding = 0;
  }

  /// Reports `why` (unless empty), says close if AMQP is up (best effort) and drops `c`.
  void fail(connection& c, const std::string& why) {
    if (!why.empty()) {
      std::cerr << c.id << ": " << why << "\n";
    }
    if (c.st == state::waiting) {
      ++given_up_; // never connected
    }
    if (c.st == state::open && c.ssl != nullptr) {
      amqp::encode_close(c.out);
      SSL_write(c.ssl, c.out.data(),
                static_cast<int>(std::min<std::size_t>(c.out.size(), INT_MAX)));
    }
    teardown(c);
  }

  // ---- frames in -----------------------------------------------------------------------------

  void on_bytes(connection& c, std::string_view data) {
    if (!c.in.empty()) {
      c.in.append(data);
      data = c.in;
    }
    std::size_t pos = 0;
    if (!c.header_seen && data.size() >= amqp::protocol_header.size()) {
      if (data.substr(0, amqp::protocol_header.size()) != amqp::protocol_header) {
        return fail(c, "the hub answered with another protocol header (SASL required?)");
      }
      c.header_seen = true;
      pos = amqp::protocol_header.size();
    }
    while (c.header_seen && pos < data.size()) {
      std::size_t size = 0;
      if (auto e = amqp::split_frame(data.substr(pos), our_max_frame, size)) {
        return fail(c, std::string{"bad frame from the hub: "} + e);
      }
      if (size == 0) {
        break;
      }
      const auto frame = data.substr(pos, size);
      pos += size;
      if (!on_frame(c, frame)) {
        return; // `c` failed: its buffers are gone
      }
    }
    if (c.in.empty()) {
      c.in.assign(data.substr(pos));
    } else {
      c.in.erase(0, pos);
    }
  }

  /// False when `c` failed on this frame.
  bool on_frame(connection& c, std::string_view raw) {
    amqp::frame f;
    amqp::performative p;
    amqp::error e = amqp::parse_frame(raw, f);
    if (!e && f.type != 0) {
      e = "a SASL frame after the AMQP header";
    }
    e = e ? e : amqp::read_performative(f.body, p);
    e = e ? e : dispatch(c, p);
    if (e) {
      fail(c, std::string{"bad frame from the hub: "} + e);
      return false;
    }
    return c.fd >= 0;
  }

  amqp::error dispatch(connection& c, const amqp::performative& p) {
    switch (p.code) {
      case amqp::code::open:
        return on_open(c, p.list);
      case amqp::code::begin:
        return on_begin(c, p.list);
      case amqp::code::attach:
        return on_attach(c, p.list);
      case amqp::code::flow:
        return on_flow(c, p.list);
      case amqp::code::transfer:
        return on_transfer(c, p.list, p.payload);
      case amqp::code::disposition:
        return on_disposition(c, p.list);
      case amqp::code::detach:
        return on_detach(c, p.list);
      case amqp::code::end:
      case amqp::code::close:
        return on_end_or_close(c, p);
      default:
        return nullptr; // a heartbeat (code 0)
    }
  }

  amqp::error on_open(connection& c, const amqp::value& list) {
    amqp::open_frame f;
    if (auto e = amqp::decode_open(list, f)) {
      return e;
    }
    c.peer_idle_ms = f.idle_timeout_ms;
    if (!idle() && events_frame_.size() > f.max_frame_size) {
      fail(c, "a message of --payload " + std::to_string(o_.payload)
                  + " bytes does not fit the hub's max-frame-size "
                  + std::to_string(f.max_frame_size) + " (no multi-frame transfers here)");
    }
    return nullptr;
  }

  amqp::error on_begin(connection& c, const amqp::value& list) {
    amqp::begin_frame f;
    if (auto e = amqp::decode_begin(list, f)) {
      return e;
    }
    c.peer_next_outgoing = f.next_outgoing_id;
    c.window_end = c.next_outgoing + f.incoming_window;
    return nullptr;
  }

  amqp::error on_attach(connection& c, const amqp::value& list) {
    amqp::attach_frame f;
    if (auto e = amqp::decode_attach(list, f)) {
      return e;
    }
    for (std::uint32_t h = 0; h < link_count; ++h) {
      if (f.name.size() == c.id.size() + std::strlen(link_suffix[h])
          && f.name.substr(0, c.id.size()) == c.id
          && f.name.substr(c.id.size()) == link_suffix[h]) {
        c.peer_handle[h] = f.handle;
        if (h == cbs_in) {
          grant_reply_credit(c, f.initial_delivery_count);
        }
      }
    }
    return nullptr; // a refusal (no terminus) is followed by a detach with the reason
  }

  void grant_reply_credit(connection& c, std::uint32_t delivery_count) {
    amqp::flow_fields f;
    f.next_incoming_id = c.peer_next_outgoing;
    f.next_outgoing_id = c.next_outgoing;
    f.handle = cbs_in;
    f.delivery_count = delivery_count;
    f.link_credit = cbs_reply_credit;
    amqp::encode_flow(c.out, 0, f);
    mark_dirty(c);
  }

  std::uint32_t our_link(const connection& c, std::uint32_t peer_handle) const {
    for (std::uint32_t h = 0; h < link_count; ++h) {
      if (c.peer_handle[h] == peer_handle) {
        return h;
      }
    }
    return no_handle;
  }

  amqp::error on_flow(connection& c, const amqp::value& list) {
    amqp::flow_frame f;
    if (auto e = amqp::decode_flow(list, f)) {
      return e;
    }
    // Without next-incoming-id the hub has not seen our begin: our initial id (0) stands in.
    c.window_end = f.next_incoming_id.value_or(0) + f.incoming_window;
    const auto h = f.handle ? our_link(c, *f.handle) : no_handle;
    if ((h == cbs_out || h == events) && f.link_credit) {
      c.credit_end[h] = f.delivery_count.value_or(0) + *f.link_credit;
    }
    if (h == cbs_out) {
      put_token(c);
    } else if (h == events && !c.ready && before(c.delivery_count[h], c.credit_end[h])) {
      c.ready = true;
      ++ready_;
    }
    fill(c);
    return nullptr;
  }

  amqp::error on_transfer(connection& c, const amqp::value& list, std::string_view payload) {
    amqp::transfer_frame f;
    if (auto e = amqp::decode_transfer(list, f)) {
      return e;
    }
    ++c.peer_next_outgoing;
    if (f.handle != c.peer_handle[cbs_in]) {
      return "a transfer on a link we do not receive on";
    }
    if (!c.reply_started) {
      if (!f.delivery_id) {
        return "a delivery's first transfer without delivery-id";
      }
      c.reply_started = true;
      c.reply_id = *f.delivery_id;
      c.reply_settled = f.settled;
      c.reply.clear();
    }
    c.reply.append(payload);
    if (c.reply.size() > max_reply) {
      return "a put-token reply larger than 64 KiB";
    }
    if (f.more && !f.aborted) {
      return nullptr;
    }
    c.reply_started = false;
    return f.aborted ? nullptr : on_reply(c);
  }

  amqp::error on_reply(connection& c) {
    amqp::message_view m;
    amqp::value status;
    bool found = false;
    amqp::error e = amqp::decode_message(c.reply, m);
    e = e ? e : amqp::map_lookup(m.application_properties, "status-code", status, found);
    if (e) {
      return e;
    }
    if (!c.reply_settled) {
      amqp::encode_disposition(c.out, 0,
                               {true, c.reply_id, c.reply_id, true, amqp::code::accepted});
      mark_dirty(c);
    }
    const auto code = found ? amqp::as_int(status) : std::nullopt;
    if (code != 200) {
      std::cerr << "put-token for " << c.id << ": "
                << (code ? std::to_string(*code) : std::string{"no status-code"}) << "\n";
      fail(c, "");
      return nullptr;
    }
    attach_events(c);
    return nullptr;
  }

  void put_token(connection& c) {
    if (c.token_sent || !before(c.delivery_count[cbs_out], c.credit_end[cbs_out])
        || !before(c.next_outgoing, c.window_end)) {
      return;
    }
    std::string m;
    amqp::encode_properties(m, "put-" + c.id, "cbs");
    amqp::encode_application_properties(m, {{"operation", "put-token"},
                                            {"type", "servicebus.windows.net:sastoken"},
                                            {"name", o_.hub_hostname + "%2Fdevices%2F" + c.id}});
    amqp::encode_amqp_value_string(m, c.token);
    amqp::encode_transfer(c.out, 0, {cbs_out, c.next_outgoing, "put", false}, m);
    ++c.next_outgoing;
    ++c.delivery_count[cbs_out];
    c.token_sent = true;
    mark_dirty(c);
  }

  void attach_events(connection& c) {
    amqp::attach_fields a;
    a.name = c.id + link_suffix[events];
    a.handle = events;
    a.snd_settle_mode = 0; // unsettled: the hub settles each message once it is durable
    a.rcv_settle_mode = 0; // first
    a.target_address = "/devices/" + c.id + "/messages/events";
    amqp::encode_attach(c.out, 0, a);
    mark_dirty(c);
    c.oldest = c.next_outgoing;
    if (!idle()) {
      c.unsettled.assign(ring, 0);
    }
  }

  amqp::error on_disposition(connection& c, const amqp::value& list) {
    amqp::disposition_frame f;
    if (auto e = amqp::decode_disposition(list, f)) {
      return e;
    }
    if (!f.receiver || c.unsettled.empty()) {
      return nullptr; // about the hub's deliveries (its reply), or the put-token's
    }
    settle(c, f.first, f.last, f.state);
    if (!f.settled && f.state != 0) {
      // The hub's outcome is final but it waits for us (rcv-settle-mode second): settle.
      amqp::encode_disposition(c.out, 0, {false, f.first, f.last, true, f.state});
      mark_dirty(c);
    }
    fill(c);
    return nullptr;
  }

  /// Settles our telemetry deliveries first..last (only ids we sent and have not settled).
  void settle(connection& c, std::uint32_t first, std::uint32_t last, std::uint64_t outcome) {
    if (outcome == 0) {
      return; // a state without an outcome (received): not settled yet
    }
    for (auto id = before(first, c.oldest) ? c.oldest : first;
         !before(last, id) && before(id, c.next_outgoing); ++id) {
      auto& pending = c.unsettled[id % ring];
      if (pending == 0) {
        continue;
      }
      pending = 0;
      --c.outstanding;
      (outcome == amqp::code::accepted ? accepted_ : refused_) += std::max(1u, s_.batch);
    }
    while (before(c.oldest, c.next_outgoing) && c.unsettled[c.oldest % ring] == 0) {
      ++c.oldest;
    }
  }

  amqp::error on_detach(connection& c, const amqp::value& list) {
    amqp::detach_frame f;
    if (auto e = amqp::decode_detach(list, f)) {
      return e;
    }
    if (c.st == state::open) {
      fail(c, "the hub detached a link: " + error_text(f.failure));
    }
    return nullptr;
  }

  amqp::error on_end_or_close(connection& c, const amqp::performative& p) {
    amqp::error_fields f;
    if (auto e = amqp::decode_error_only(p.list, f)) {
      return e;
    }
    if (c.st == state::closing) {
      if (p.code == amqp::code::close) {
        SSL_shutdown(c.ssl); // close_notify: a clean end for the hub's TLS too
        teardown(c);         // the hub's answer to our close
      }
      return nullptr;
    }
    const char* what = p.code == amqp::code::close ? "closed" : "ended the session";
    fail(c, std::string{"the hub "} + what + ": " + error_text(f));
    return nullptr;
  }

  // ---- telemetry out -------------------------------------------------------------------------

  void fill(connection& c) {
    if (!sending_ || !c.ready || c.st != state::open) {
      return;
    }
    const auto start = c.next_outgoing;
    while (c.outstanding < o_.inflight && before(c.delivery_count[events], c.credit_end[events])
           && before(c.next_outgoing, c.window_end) && c.next_outgoing - c.oldest < ring
           && c.out.size() < max_unsent) {
      events_frame_.append(c.out, c.next_outgoing, c.next_tag++);
      c.unsettled[c.next_outgoing % ring] = 1;
      ++c.next_outgoing;
      ++c.delivery_count[events];
      ++c.outstanding;
    }
    if (c.next_outgoing != start) {
      mark_dirty(c);
    }
  }

  const amqp_settings& s_;
  const options& o_;
  credential_source creds_;
  const amqp::transfer_template events_frame_;
  poller poll_;
  SSL_CTX* ctx_ = nullptr;
  std::vector<connection> conns_;
  std::vector<connection*> dirty_;
  amqp_outcome out_;

  phase phase_ = phase::connecting;
  std::int64_t phase_end_ = 0;
  std::int64_t now_ = 0; ///< the loop pass's clock
  std::int64_t next_sweep_ = 0;
  bool sending_ = false;
  std::size_t next_start_ = 0; ///< connections started so far
  std::size_t ready_ = 0;
  std::size_t given_up_ = 0; ///< failed before they were ready

  std::uint64_t accepted_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t accepted0_ = 0;
  std::int64_t cpu0_ = 0;
  std::int64_t t0_ = 0;
};

} // namespace

amqp_outcome run_amqp_raw(const amqp_settings& s) {
  raw_run r(s);
  return r.run();
}

} // namespace outpost::loadgen
