// Fuzz target for the MQTT server session state machine (protocols/mqtt/session). The first
// four input bytes choose the limits; then each step reads an opcode byte and feeds the
// session a frame from the input (mqtt::split_frame + mqtt::decode, errors go to
// on_decode_error), a packet built from a few bytes, or one of the caller's calls: accept or
// refuse, persisted, publish_out, on_tick (time only moves forward), take_over, end,
// restore_subscriptions, set_filter_policy (refuse filters containing a chosen byte).
// Invariants, checked after every step:
// - after a close_action nothing else is sent, and current() is closed exactly from then on;
// - a SUBACK carries the SUBSCRIBE's packet id and one return code per filter;
// - subscriptions() never exceeds limits.max_subscriptions, has no duplicates, and holds only
//   filters the policy allowed when they were added;
// - PUBACKs for inbound QoS 1 publishes come out in arrival order, only for a pending id that
//   was persisted; pending_in() <= QoS 1 publishes seen and <= the ids routed and not acked;
// - next_deadline() is finite while not closed, and once connected at most 1.5 x
//   max_keepalive_s after the last packet (keepalive 0 is served as max_keepalive_s);
// - outbound packet ids are never 0 and unique among those in flight; publish_out sends
//   exactly when it returns true, never more than max_inflight_out in flight; acked_action only
//   for a token in flight.
// Any violation traps. Built with libFuzzer under OUTPOST_FUZZ, and replayed by ctest
// (replay_main.cpp) over corpus/mqtt_session in every build.

#include "protocols/mqtt/decoder.hpp"
#include "protocols/mqtt/frame_splitter.hpp"
#include "protocols/mqtt/session.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace {

namespace mqtt = outpost::mqtt;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

constexpr std::size_t max_frame = 64 * 1024;

constexpr std::string_view filters[] = {
    "devices/d/messages/devicebound/#",
    "$iothub/methods/POST/#",
    "$iothub/twin/res/#",
    "#",
    "a/+/c",
    "devices/d/modules/m/inputs/#",
    "x",
    "$iothub/twin/PATCH/properties/desired/#",
};
constexpr std::size_t filter_table = sizeof(filters) / sizeof(filters[0]);

/// Reads bytes of the input; 0 once it is used up.
class input {
public:
  explicit input(std::string_view bytes) : rest_(bytes) {}
  bool empty() const noexcept { return rest_.empty(); }
  std::uint8_t byte() {
    if (rest_.empty()) {
      return 0;
    }
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(byte() << 8 | byte()); }
  std::string_view rest() const noexcept { return rest_; }
  void skip(std::size_t n) { rest_.remove_prefix(std::min(n, rest_.size())); }

private:
  std::string_view rest_;
};

/// What the session's actions must be consistent with: the test's model of the caller.
class driver {
public:
  driver(mqtt::session_limits limits, std::int64_t now)
      : limits_(limits),
        session_(limits, now),
        now_(now),
        last_rx_(now) {}

  void run(input& in) {
    while (!in.empty() && steps_ < 512) {
      ++steps_;
      step(in);
      check_state();
    }
  }

private:
  void step(input& in) {
    mqtt::actions out;
    const auto op = in.byte();
    switch (op % 16) {
      case 0:
      case 1:
      case 2:
        if (!feed_frame(in, out)) {
          in.skip(in.rest().size());
        }
        break;
      case 3:
        if ((in.byte() & 1) == 0) {
          session_.accept((op & 0x10) != 0, out);
        } else {
          session_.refuse(static_cast<std::uint8_t>(1 + in.byte() % 5), out);
        }
        break;
      case 4: {
        // Mostly ids that were seen, sometimes any id.
        const auto pick = in.byte();
        std::uint16_t id = static_cast<std::uint16_t>(pick);
        if (!seen_qos1_ids_.empty() && (pick & 0x80) == 0) {
          id = seen_qos1_ids_[pick % seen_qos1_ids_.size()];
        }
        persisted_.insert(id);
        session_.persisted(id, out);
        break;
      }
      case 5: {
        const auto token = next_token_++;
        in_publish_out_ = true;
        const bool sent =
            session_.publish_out("devices/d/messages/devicebound/x", "payload", token, out);
        check_publish_out(sent, token, out);
        observe(out);
        in_publish_out_ = false;
        return;
      }
      case 6:
        now_ += static_cast<std::int64_t>(in.byte()) * 100 + (op >> 4) * 60'000;
        session_.on_tick(now_, out);
        break;
      case 7:
        session_.take_over(out);
        break;
      case 8:
        session_.end(static_cast<mqtt::close_reason>(in.byte() % 9), out);
        break;
      case 9: {
        std::vector<std::string> restore;
        const std::size_t n = in.byte() % 12;
        for (std::size_t i = 0; i < n; ++i) {
          restore.emplace_back(filters[in.byte() % filter_table]);
        }
        const auto& kept = session_.restore_subscriptions(std::move(restore));
        check(&kept == &session_.subscriptions());
        for (const auto& f : kept) {
          check(allowed(f));
        }
        break;
      }
      case 10:
        refused_byte_ = static_cast<char>(in.byte());
        session_.set_filter_policy([c = refused_byte_](std::string_view f) {
          return f.find(c) == std::string_view::npos;
        });
        policy_set_ = true;
        break;
      default:
        feed_built_packet(op, in, out);
        break;
    }
    observe(out);
  }

  bool allowed(std::string_view f) const {
    return !policy_set_ || f.find(refused_byte_) == std::string_view::npos;
  }

  /// A frame from the input, as the connection actor would feed it; false at the end of it.
  bool feed_frame(input& in, mqtt::actions& out) {
    const auto split = mqtt::split_frame(in.rest(), max_frame);
    if (!split) {
      session_.on_decode_error(split.error(), out);
      return false;
    }
    if (split->frame_size == 0) {
      return false;
    }
    const auto frame = in.rest().substr(0, split->frame_size);
    in.skip(split->frame_size);
    auto decoded = mqtt::decode(frame);
    if (!decoded) {
      session_.on_decode_error(decoded.error(), out);
      return true;
    }
    deliver(std::move(*decoded), out);
    return true;
  }

  /// A well-formed packet from a few bytes: reaches states random frames rarely do.
  void feed_built_packet(std::uint8_t op, input& in, mqtt::actions& out) {
    switch (op % 16) {
      case 11: {
        mqtt::connect c;
        c.keepalive = (op & 0x10) != 0 ? 0 : in.u16();
        c.clean_session = (op & 0x20) == 0;
        c.client_id = (op & 0x40) != 0 ? "" : "dev/mod";
        deliver(std::move(c), out);
        break;
      }
      case 12: {
        mqtt::publish p;
        p.qos = static_cast<std::uint8_t>((op >> 4) % 3);
        p.topic = "devices/d/messages/events/";
        p.packet_id = p.qos == 0 ? 0 : static_cast<std::uint16_t>(1 + in.byte() % 16);
        p.payload = "x";
        deliver(std::move(p), out);
        break;
      }
      case 13: {
        mqtt::subscribe s;
        s.packet_id = static_cast<std::uint16_t>(1 + in.byte());
        const std::size_t n = 1 + in.byte() % 6;
        for (std::size_t i = 0; i < n; ++i) {
          const auto b = in.byte();
          s.filters.emplace_back(filters[b % filter_table], static_cast<std::uint8_t>(b >> 6));
        }
        deliver(std::move(s), out);
        break;
      }
      case 14: {
        mqtt::unsubscribe u;
        u.packet_id = static_cast<std::uint16_t>(1 + in.byte());
        const std::size_t n = 1 + in.byte() % 4;
        for (std::size_t i = 0; i < n; ++i) {
          u.filters.emplace_back(filters[in.byte() % filter_table]);
        }
        deliver(std::move(u), out);
        break;
      }
      default: {
        // PUBACK for an id in flight (or any id), or PINGREQ.
        if ((op & 0x10) != 0) {
          deliver(mqtt::pingreq{}, out);
          break;
        }
        const auto pick = in.byte();
        std::uint16_t id = static_cast<std::uint16_t>(1 + pick);
        if (!inflight_.empty() && (pick & 0x80) == 0) {
          auto i = inflight_.begin();
          std::advance(i, pick % inflight_.size());
          id = i->first;
        }
        deliver(mqtt::puback{id}, out);
        break;
      }
    }
  }

  void deliver(mqtt::packet&& p, mqtt::actions& out) {
    if (const auto* pub = std::get_if<mqtt::publish>(&p); pub != nullptr && pub->qos == 1) {
      ++qos1_seen_;
    }
    if (const auto* s = std::get_if<mqtt::subscribe>(&p)) {
      expected_suback_ = *s;
    }
    if (const auto* a = std::get_if<mqtt::puback>(&p)) {
      pubacks_in_.insert(a->packet_id);
    }
    if (!closed_) {
      last_rx_ = now_;
    }
    session_.on_packet(std::move(p), now_, out);
  }

  void check_publish_out(bool sent, std::uint64_t token, const mqtt::actions& out) {
    std::size_t publishes = 0;
    for (const auto& a : out) {
      if (const auto* s = std::get_if<mqtt::send_action>(&a)) {
        if (const auto* p = std::get_if<mqtt::publish>(&s->p)) {
          ++publishes;
          check(p->qos == 1 && p->packet_id != 0);
          check(inflight_.count(p->packet_id) == 0);
          inflight_.emplace(p->packet_id, token);
        }
      }
    }
    check(publishes == (sent ? 1u : 0u));
    check(!sent || (connected_ && !closed_));
    check(inflight_.size() <= limits_.max_inflight_out);
  }

  /// Checks every action of one step against the model.
  void observe(const mqtt::actions& out) {
    for (const auto& a : out) {
      check(!closed_); // nothing at all after a close_action
      if (std::holds_alternative<mqtt::close_action>(a)) {
        closed_ = true;
      } else if (const auto* s = std::get_if<mqtt::send_action>(&a)) {
        observe_sent(s->p);
      } else if (const auto* p = std::get_if<mqtt::publish_action>(&a)) {
        check(connected_);
        if (p->p.qos == 1) {
          // A new id, not one still pending (a resend of a pending one is not routed again).
          for (const auto& [id, done] : pending_) {
            check(id != p->p.packet_id);
          }
          pending_.emplace_back(p->p.packet_id, false);
          seen_qos1_ids_.push_back(p->p.packet_id);
        }
      } else if (const auto* ack = std::get_if<mqtt::acked_action>(&a)) {
        bool found = false;
        for (auto i = inflight_.begin(); i != inflight_.end(); ++i) {
          if (i->second == ack->token) {
            check(pubacks_in_.count(i->first) != 0);
            inflight_.erase(i);
            found = true;
            break;
          }
        }
        check(found);
      } else if (const auto* sub = std::get_if<mqtt::subscribe_action>(&a)) {
        check(!sub->filters.empty());
        for (const auto& [f, qos] : sub->filters) {
          check(allowed(f));
        }
      } else if (std::holds_alternative<mqtt::authenticate_action>(a)) {
        check(!connected_ && !authenticating_);
        authenticating_ = true;
      }
    }
    // PUBACKs follow persisted(): mark what the caller made durable.
    for (auto& [id, done] : pending_) {
      done = done || persisted_.count(id) != 0;
    }
    persisted_.clear();
    pubacks_in_.clear();
  }

  void observe_sent(const mqtt::packet& p) {
    if (const auto* ack = std::get_if<mqtt::connack>(&p)) {
      check(authenticating_ || ack->return_code != 0);
      if (ack->return_code == 0) {
        connected_ = true;
        authenticating_ = false;
      }
    } else if (const auto* ack = std::get_if<mqtt::suback>(&p)) {
      check(expected_suback_.has_value());
      check(ack->packet_id == expected_suback_->packet_id);
      check(ack->return_codes.size() == expected_suback_->filters.size());
      for (std::size_t i = 0; i < ack->return_codes.size(); ++i) {
        check(allowed(expected_suback_->filters[i].first)
              || ack->return_codes[i] == mqtt::suback_failure);
      }
      expected_suback_.reset();
    } else if (const auto* ack = std::get_if<mqtt::puback>(&p)) {
      // In arrival order, for the oldest pending id, only once persisted.
      check(!pending_.empty());
      check(pending_.front().first == ack->packet_id);
      check(pending_.front().second || persisted_.count(ack->packet_id) != 0);
      pending_.pop_front();
    } else if (std::holds_alternative<mqtt::publish>(p)) {
      check(in_publish_out_); // only publish_out sends publishes; checked there
    }
  }

  void check_state() {
    check((session_.current() == mqtt::session::state::closed) == closed_);
    const auto& subs = session_.subscriptions();
    check(subs.size() <= limits_.max_subscriptions);
    std::set<std::string> unique(subs.begin(), subs.end());
    check(unique.size() == subs.size());
    check(session_.pending_in() <= qos1_seen_);
    if (!closed_) {
      check(session_.pending_in() <= pending_.size());
      const auto deadline = session_.next_deadline();
      check(deadline != std::numeric_limits<std::int64_t>::max());
      if (session_.current() == mqtt::session::state::connected) {
        check(deadline <= last_rx_ + std::int64_t{limits_.max_keepalive_s} * 1500);
      }
    }
    check(session_.window_full() == (inflight_.size() >= limits_.max_inflight_out) || closed_);
  }

  mqtt::session_limits limits_;
  mqtt::session session_;
  std::int64_t now_;
  std::int64_t last_rx_;
  std::size_t steps_ = 0;
  bool closed_ = false;
  bool connected_ = false;
  bool authenticating_ = false;
  bool policy_set_ = false;
  bool in_publish_out_ = false;
  char refused_byte_ = 0;
  std::uint64_t next_token_ = 1;
  std::size_t qos1_seen_ = 0;
  std::deque<std::pair<std::uint16_t, bool>> pending_;
  std::vector<std::uint16_t> seen_qos1_ids_;
  std::set<std::uint16_t> persisted_;
  std::set<std::uint16_t> pubacks_in_;
  std::map<std::uint16_t, std::uint64_t> inflight_;
  std::optional<mqtt::subscribe> expected_suback_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in(std::string_view(reinterpret_cast<const char*>(data), size));
  mqtt::session_limits limits;
  limits.max_subscriptions = in.byte() % 9;
  limits.max_inflight_out = 1 + in.byte() % 8;
  limits.max_keepalive_s = static_cast<std::uint16_t>(1 + in.byte() * 3);
  limits.connect_timeout_ms = 1000 + std::int64_t{in.byte()} * 100;
  driver d(limits, 1'000'000);
  d.run(in);
  return 0;
}
