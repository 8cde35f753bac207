#include "protocols/mqtt/session.hpp"

#include "protocols/mqtt/errc.hpp"

#include <algorithm>
#include <limits>

namespace outpost::mqtt {

namespace {

constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

} // namespace

session::session(session_limits limits, std::int64_t now_ms)
    : session(now_ms, std::make_shared<const session_limits>(limits)) {}

session::session(std::int64_t now_ms, std::shared_ptr<const session_limits> limits)
    : limits_(std::move(limits)),
      created_ms_(now_ms),
      last_packet_ms_(now_ms) {}

void session::on_packet(packet&& p, std::int64_t now_ms, actions& out) {
  if (state_ == state::closed) {
    return;
  }
  last_packet_ms_ = now_ms;
  if (state_ == state::awaiting_connect) {
    // [MQTT-3.1.0-1] The first packet from the client must be CONNECT.
    if (auto* c = std::get_if<connect>(&p)) {
      on_connect(std::move(*c), out);
    } else {
      close(close_reason::protocol_error, false, out);
    }
    return;
  }
  if (state_ == state::authenticating) {
    // Nothing but CONNECT has been accepted yet; a client that pipelines packets behind its
    // CONNECT before the CONNACK breaks §3.1.4 only if it is refused, but we cannot queue them
    // without bound, so it is a protocol error.
    close(close_reason::protocol_error, false, out);
    return;
  }
  std::visit(
      [&](auto&& pkt) {
        using T = std::decay_t<decltype(pkt)>;
        if constexpr (std::is_same_v<T, publish>) {
          on_publish(std::move(pkt), out);
        } else if constexpr (std::is_same_v<T, puback>) {
          on_puback(pkt, out);
        } else if constexpr (std::is_same_v<T, subscribe>) {
          on_subscribe(std::move(pkt), out);
        } else if constexpr (std::is_same_v<T, unsubscribe>) {
          on_unsubscribe(std::move(pkt), out);
        } else if constexpr (std::is_same_v<T, pingreq>) {
          out.push_back(send_action{pingresp{}}); // §3.12.4
        } else if constexpr (std::is_same_v<T, disconnect>) {
          close(close_reason::client_disconnect, false, out); // §3.14.4: no will
        } else {
          // A second CONNECT ([MQTT-3.1.0-2]), server-only packets, or QoS 2 flow packets.
          close(close_reason::protocol_error, true, out);
        }
      },
      std::move(p));
}

void session::on_decode_error(std::error_code ec, actions& out) {
  if (state_ == state::awaiting_connect && ec == errc::unsupported_protocol) {
    out.push_back(send_action{connack{false, 1}}); // [MQTT-3.1.2-2]
  }
  close(close_reason::protocol_error, state_ == state::connected, out);
}

void session::on_connect(connect&& c, actions& out) {
  // [MQTT-3.1.3-7/8] A zero-byte client id needs clean session; IoT Hub requires the
  // identity's id anyway, which authentication checks.
  if (c.client_id.empty() && !c.clean_session) {
    out.push_back(send_action{connack{false, 2}});
    close(close_reason::protocol_error, false, out);
    return;
  }
  clean_session_ = c.clean_session;
  const auto keepalive_s = c.keepalive == 0 || c.keepalive > limits_->max_keepalive_s
                               ? limits_->max_keepalive_s
                               : c.keepalive;
  keepalive_ms_ = static_cast<std::int64_t>(keepalive_s) * 1000;
  state_ = state::authenticating;
  out.push_back(authenticate_action{std::move(c)});
}

void session::accept(bool session_present, actions& out) {
  if (state_ != state::authenticating) {
    return;
  }
  state_ = state::connected;
  out.push_back(send_action{connack{session_present && !clean_session_, 0}});
}

void session::refuse(std::uint8_t return_code, actions& out) {
  if (state_ != state::authenticating) {
    return;
  }
  out.push_back(send_action{connack{false, return_code}});
  close(close_reason::not_authorized, false, out);
}

void session::on_publish(publish&& p, actions& out) {
  if (p.qos == 2) {
    close(close_reason::qos2_not_supported, true, out);
    return;
  }
  if (p.qos == 1) {
    for (const auto& [id, done] : pending_in_) {
      if (id == p.packet_id) {
        // A resend (DUP) of a publish still being persisted: its PUBACK is on its way.
        return;
      }
    }
    pending_in_.emplace_back(p.packet_id, false);
  }
  out.push_back(publish_action{std::move(p)});
}

void session::persisted(std::uint16_t packet_id, actions& out) {
  for (auto& [id, done] : pending_in_) {
    if (id == packet_id && !done) {
      done = true;
      break;
    }
  }
  while (!pending_in_.empty() && pending_in_.front().second) {
    if (state_ == state::connected) {
      out.push_back(send_action{puback{pending_in_.front().first}});
    }
    pending_in_.pop_front();
  }
}

std::uint16_t session::next_packet_id() {
  // Skip 0 ([MQTT-2.3.1-1]) and ids still in flight.
  do {
    last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ + 1);
  } while (last_packet_id_ == 0 || inflight_out_.count(last_packet_id_));
  return last_packet_id_;
}

bool session::publish_out(std::string topic, std::string payload, std::uint64_t token,
                          actions& out) {
  if (state_ != state::connected || window_full()) {
    return false;
  }
  const auto id = next_packet_id();
  inflight_out_.emplace(id, token);
  out.push_back(send_action{publish{false, 1, false, std::move(topic), id, std::move(payload)}});
  return true;
}

bool session::notify(std::string topic, std::string payload, actions& out) {
  if (state_ != state::connected) {
    return false;
  }
  out.push_back(send_action{publish{false, 0, false, std::move(topic), 0, std::move(payload)}});
  return true;
}

void session::on_puback(const puback& p, actions& out) {
  auto i = inflight_out_.find(p.packet_id);
  if (i == inflight_out_.end()) {
    return; // unknown or duplicate: harmless
  }
  out.push_back(acked_action{i->second});
  inflight_out_.erase(i);
}

const std::vector<std::string>& session::restore_subscriptions(std::vector<std::string> filters) {
  subscriptions_.clear();
  for (auto& f : filters) {
    if (subscriptions_.size() < limits_->max_subscriptions && (!policy_ || policy_(f))
        && std::find(subscriptions_.begin(), subscriptions_.end(), f) == subscriptions_.end()) {
      subscriptions_.push_back(std::move(f));
    }
  }
  return subscriptions_;
}

void session::on_subscribe(subscribe&& s, actions& out) {
  suback ack{s.packet_id, {}};
  subscribe_action added;
  for (auto& [filter, qos] : s.filters) {
    constexpr std::uint8_t failure = 0x80; // §3.9.3
    if (policy_ && !policy_(filter)) {
      ack.return_codes.push_back(failure);
      continue;
    }
    const auto granted = static_cast<std::uint8_t>(qos > 1 ? 1 : qos); // IoT Hub: at most QoS 1
    if (std::find(subscriptions_.begin(), subscriptions_.end(), filter) != subscriptions_.end()) {
      ack.return_codes.push_back(granted); // a repeat replaces it ([MQTT-3.8.4-3]): no change
      continue;
    }
    if (subscriptions_.size() >= limits_->max_subscriptions) {
      ack.return_codes.push_back(failure);
      continue;
    }
    subscriptions_.push_back(filter);
    ack.return_codes.push_back(granted);
    added.filters.emplace_back(std::move(filter), granted);
  }
  if (!added.filters.empty()) {
    out.push_back(std::move(added));
  }
  out.push_back(send_action{std::move(ack)});
}

void session::on_unsubscribe(unsubscribe&& u, actions& out) {
  const auto id = u.packet_id;
  unsubscribe_action removed;
  for (auto& f : u.filters) {
    auto i = std::find(subscriptions_.begin(), subscriptions_.end(), f);
    if (i != subscriptions_.end()) {
      subscriptions_.erase(i);
      removed.filters.push_back(std::move(f));
    }
  }
  if (!removed.filters.empty()) {
    out.push_back(std::move(removed));
  }
  out.push_back(send_action{unsuback{id}});
}

void session::on_tick(std::int64_t now_ms, actions& out) {
  if (state_ == state::closed) {
    return;
  }
  if (state_ != state::connected && now_ms - created_ms_ >= limits_->connect_timeout_ms) {
    close(close_reason::connect_timeout, false, out);
  } else if (state_ == state::connected && now_ms - last_packet_ms_ >= keepalive_ms_ * 3 / 2) {
    close(close_reason::keepalive_timeout, true, out); // [MQTT-3.1.2-24]
  }
}

std::int64_t session::next_deadline() const noexcept {
  switch (state_) {
    case state::awaiting_connect:
    case state::authenticating:
      return created_ms_ + limits_->connect_timeout_ms;
    case state::connected:
      return last_packet_ms_ + keepalive_ms_ * 3 / 2;
    case state::closed:
      break;
  }
  return never;
}

void session::take_over(actions& out) {
  close(close_reason::taken_over, false, out);
}

void session::end(close_reason why, actions& out) {
  close(why, false, out);
}

void session::close(close_reason why, bool will, actions& out) {
  if (state_ == state::closed) {
    return;
  }
  const bool was_connected = state_ == state::connected;
  state_ = state::closed;
  out.push_back(close_action{why, will && was_connected});
}

} // namespace outpost::mqtt
