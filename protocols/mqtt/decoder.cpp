#include "protocols/mqtt/decoder.hpp"

#include "protocols/mqtt/frame_splitter.hpp"
#include "protocols/mqtt/topic.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

namespace outpost::mqtt {
namespace {

/// Bounds-checked big-endian reader over one frame body. Every read fails instead of
/// overrunning; failures leave the position unspecified (the decode is abandoned anyway).
class reader {
public:
  explicit reader(std::string_view in) noexcept : in_(in) {}

  bool empty() const noexcept { return pos_ == in_.size(); }

  bool u8(std::uint8_t& v) noexcept {
    if (in_.size() - pos_ < 1) {
      return false;
    }
    v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }

  // MQTT 3.1.1 §1.5.2: big-endian 16-bit integer.
  bool u16(std::uint16_t& v) noexcept {
    if (in_.size() - pos_ < 2) {
      return false;
    }
    v = static_cast<std::uint16_t>((static_cast<std::uint8_t>(in_[pos_]) << 8)
                                   | static_cast<std::uint8_t>(in_[pos_ + 1]));
    pos_ += 2;
    return true;
  }

  // MQTT 3.1.1 §1.5.3 and §3.1.3.3: two-byte length, then that many bytes.
  bool prefixed(std::string_view& v) noexcept {
    std::uint16_t n = 0;
    if (!u16(n) || in_.size() - pos_ < n) {
      return false;
    }
    v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }

  std::string_view rest() noexcept {
    const std::string_view r = in_.substr(pos_);
    pos_ = in_.size();
    return r;
  }

private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

// MQTT 3.1.1 §1.5.3: a length-prefixed UTF-8 string.
std::error_code read_utf8(reader& r, std::string_view& s) noexcept {
  if (!r.prefixed(s)) {
    return errc::malformed_packet;
  }
  if (!valid_utf8(s)) {
    return errc::invalid_utf8; // [MQTT-1.5.3-1] [MQTT-1.5.3-2]
  }
  return {};
}

// MQTT 3.1.1 §2.3.1: non-zero wherever a packet carries one.
std::error_code read_packet_id(reader& r, std::uint16_t& id) noexcept {
  if (!r.u16(id)) {
    return errc::malformed_packet;
  }
  if (id == 0) {
    return errc::invalid_packet_id; // [MQTT-2.3.1-1]
  }
  return {};
}

template <class T, class... Args>
result<packet> make_packet(Args&&... args) {
  return packet{std::in_place_type<T>, std::forward<Args>(args)...};
}

// MQTT 3.1.1 §3.1.2.1-2: "MQTT" level 4 only. "MQIsdp" level 3 (MQTT 3.1) and MQTT 5 end
// here so the session can answer CONNACK 0x01 before anything else is parsed.
std::error_code read_protocol(reader& r) noexcept {
  std::string_view name;
  std::uint8_t level = 0;
  if (!r.prefixed(name) || !r.u8(level)) {
    return errc::malformed_packet;
  }
  if (name != "MQTT" || level != 4) {
    return errc::unsupported_protocol; // [MQTT-3.1.2-1] [MQTT-3.1.2-2]
  }
  return {};
}

namespace connect_flag {
constexpr std::uint8_t reserved = 0x01;
constexpr std::uint8_t clean_session = 0x02;
constexpr std::uint8_t will = 0x04;
constexpr std::uint8_t will_qos = 0x18;
constexpr std::uint8_t will_retain = 0x20;
constexpr std::uint8_t password = 0x40;
constexpr std::uint8_t username = 0x80;
} // namespace connect_flag

// MQTT 3.1.1 §3.1.2.3-9: the Connect Flags byte.
std::error_code check_connect_flags(std::uint8_t flags) noexcept {
  using namespace connect_flag;
  if (flags & reserved) {
    return errc::reserved_flags_set; // [MQTT-3.1.2-3]
  }
  if (!(flags & will) && (flags & (will_qos | will_retain))) {
    return errc::malformed_packet; // [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]
  }
  if ((flags & will_qos) == will_qos) {
    return errc::invalid_qos; // [MQTT-3.1.2-14]
  }
  if ((flags & password) && !(flags & username)) {
    return errc::malformed_packet; // [MQTT-3.1.2-22]
  }
  return {};
}

// MQTT 3.1.1 §3.1.3.2-3: Will Topic and Will Message, present iff the Will Flag is set.
std::error_code read_will(reader& r, std::uint8_t flags, connect& c) {
  if (!(flags & connect_flag::will)) {
    return {};
  }
  std::string_view topic;
  std::string_view message;
  if (auto ec = read_utf8(r, topic)) {
    return ec; // [MQTT-3.1.3-10]
  }
  if (!valid_topic_name(topic)) {
    return errc::invalid_topic; // the will is published under this name (§4.7)
  }
  if (!r.prefixed(message)) {
    return errc::malformed_packet; // [MQTT-3.1.2-9]
  }
  const auto qos = static_cast<std::uint8_t>((flags & connect_flag::will_qos) >> 3);
  c.will = connect::will_t{std::string(topic), std::string(message), qos,
                           (flags & connect_flag::will_retain) != 0};
  return {};
}

// MQTT 3.1.1 §3.1.3.4-5: User Name (UTF-8) and Password (binary), each iff its flag is set.
std::error_code read_credentials(reader& r, std::uint8_t flags, connect& c) {
  std::string_view value;
  if (flags & connect_flag::username) {
    if (auto ec = read_utf8(r, value)) {
      return ec; // [MQTT-3.1.2-19] [MQTT-3.1.3-11]
    }
    c.username.emplace(value);
  }
  if (flags & connect_flag::password) {
    if (!r.prefixed(value)) {
      return errc::malformed_packet; // [MQTT-3.1.2-21]
    }
    c.password.emplace(value);
  }
  return {};
}

// MQTT 3.1.1 §3.1: variable header, then Client Identifier, Will, User Name, Password
// in that order ([MQTT-3.1.3-1]).
result<packet> decode_connect(reader& r) {
  std::uint8_t flags = 0;
  connect c;
  if (auto ec = read_protocol(r)) {
    return ec;
  }
  if (!r.u8(flags) || !r.u16(c.keepalive)) {
    return errc::malformed_packet;
  }
  if (auto ec = check_connect_flags(flags)) {
    return ec;
  }
  c.clean_session = (flags & connect_flag::clean_session) != 0;
  std::string_view client_id;
  if (auto ec = read_utf8(r, client_id)) {
    return ec; // [MQTT-3.1.3-3] [MQTT-3.1.3-4]
  }
  c.client_id.assign(client_id);
  if (auto ec = read_will(r, flags, c)) {
    return ec;
  }
  if (auto ec = read_credentials(r, flags, c)) {
    return ec;
  }
  return make_packet<connect>(std::move(c));
}

// MQTT 3.1.1 §3.2: Connect Acknowledge Flags and Return Code.
result<packet> decode_connack(reader& r) {
  std::uint8_t ack_flags = 0;
  connack c;
  if (!r.u8(ack_flags) || !r.u8(c.return_code)) {
    return errc::malformed_packet;
  }
  if (ack_flags & 0xFE) {
    return errc::reserved_flags_set; // §3.2.2.1: bits 7-1 are reserved
  }
  c.session_present = (ack_flags & 0x01) != 0;
  if (c.return_code > 5) {
    return errc::malformed_packet; // §3.2.2.3: 6-255 are reserved
  }
  if (c.session_present && c.return_code != 0) {
    return errc::malformed_packet; // [MQTT-3.2.2-4]
  }
  return make_packet<connack>(c);
}

// MQTT 3.1.1 §3.3: flags in the fixed header, Topic Name, Packet Identifier if QoS > 0,
// and the rest of the frame as payload.
result<packet> decode_publish(std::uint8_t flags, reader& r) {
  publish p;
  p.dup = (flags & 0x08) != 0;
  p.qos = static_cast<std::uint8_t>((flags >> 1) & 0x03);
  p.retain = (flags & 0x01) != 0;
  if (p.qos == 3) {
    return errc::invalid_qos; // [MQTT-3.3.1-4]
  }
  if (p.dup && p.qos == 0) {
    return errc::malformed_packet; // [MQTT-3.3.1-2]
  }
  std::string_view topic;
  if (auto ec = read_utf8(r, topic)) {
    return ec; // [MQTT-3.3.2-1]
  }
  if (!valid_topic_name(topic)) {
    return errc::invalid_topic; // [MQTT-3.3.2-2] [MQTT-4.7.3-1]
  }
  if (p.qos > 0) {
    if (auto ec = read_packet_id(r, p.packet_id)) {
      return ec;
    }
  }
  p.topic.assign(topic);
  p.payload.assign(r.rest());
  return make_packet<publish>(std::move(p));
}

// MQTT 3.1.1 §3.4-3.7 and §3.11: a packet identifier and nothing else.
template <class Ack>
result<packet> decode_ack(reader& r) {
  Ack a;
  if (auto ec = read_packet_id(r, a.packet_id)) {
    return ec;
  }
  return make_packet<Ack>(a);
}

// MQTT 3.1.1 §3.8.3: one Topic Filter / Requested QoS pair.
std::error_code read_subscription(reader& r, subscribe& s) {
  std::string_view filter;
  std::uint8_t qos = 0;
  if (auto ec = read_utf8(r, filter)) {
    return ec; // [MQTT-3.8.3-1]
  }
  if (!valid_topic_filter(filter)) {
    return errc::invalid_topic_filter; // [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1]
  }
  if (!r.u8(qos)) {
    return errc::malformed_packet;
  }
  if (qos & 0xFC) {
    return errc::reserved_flags_set; // [MQTT-3-8.3-4]
  }
  if (qos == 3) {
    return errc::invalid_qos; // [MQTT-3-8.3-4]
  }
  s.filters.emplace_back(filter, qos);
  return {};
}

// MQTT 3.1.1 §3.8: packet identifier, then at least one subscription.
result<packet> decode_subscribe(reader& r) {
  subscribe s;
  if (auto ec = read_packet_id(r, s.packet_id)) {
    return ec;
  }
  if (r.empty()) {
    return errc::empty_filter_list; // [MQTT-3.8.3-3]
  }
  while (!r.empty()) {
    if (auto ec = read_subscription(r, s)) {
      return ec;
    }
  }
  return make_packet<subscribe>(std::move(s));
}

// MQTT 3.1.1 §3.9: packet identifier, then one return code per requested filter.
result<packet> decode_suback(reader& r) {
  suback s;
  if (auto ec = read_packet_id(r, s.packet_id)) {
    return ec;
  }
  if (r.empty()) {
    return errc::malformed_packet; // a SUBSCRIBE has at least one filter ([MQTT-3.8.4-5])
  }
  const std::string_view codes = r.rest();
  for (const char c : codes) {
    const auto code = static_cast<std::uint8_t>(c);
    if (code > 2 && code != suback_failure) {
      return errc::malformed_packet; // [MQTT-3.9.3-2]
    }
  }
  s.return_codes.assign(codes.begin(), codes.end());
  return make_packet<suback>(std::move(s));
}

// MQTT 3.1.1 §3.10: packet identifier, then at least one topic filter.
result<packet> decode_unsubscribe(reader& r) {
  unsubscribe u;
  if (auto ec = read_packet_id(r, u.packet_id)) {
    return ec;
  }
  if (r.empty()) {
    return errc::empty_filter_list; // [MQTT-3.10.3-2]
  }
  while (!r.empty()) {
    std::string_view filter;
    if (auto ec = read_utf8(r, filter)) {
      return ec; // [MQTT-3.10.3-1]
    }
    if (!valid_topic_filter(filter)) {
      return errc::invalid_topic_filter; // §4.7.1
    }
    u.filters.emplace_back(filter);
  }
  return make_packet<unsubscribe>(std::move(u));
}

// MQTT 3.1.1 §2.2.2 Table 2.2: the fixed-header flags of every type but PUBLISH.
// PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0010, all others 0000.
constexpr std::uint8_t expected_flags(std::uint8_t type) noexcept {
  return (type == 6 || type == 8 || type == 10) ? 0x02 : 0x00;
}

result<packet> decode_body(std::uint8_t type, std::uint8_t flags, reader& r) {
  if (type != 3 && flags != expected_flags(type)) {
    return errc::reserved_flags_set; // [MQTT-2.2.2-1] [MQTT-2.2.2-2]
  }
  switch (type) {
    case 1:
      return decode_connect(r);
    case 2:
      return decode_connack(r);
    case 3:
      return decode_publish(flags, r);
    case 4:
      return decode_ack<puback>(r);
    case 5:
      return decode_ack<pubrec>(r);
    case 6:
      return decode_ack<pubrel>(r);
    case 7:
      return decode_ack<pubcomp>(r);
    case 8:
      return decode_subscribe(r);
    case 9:
      return decode_suback(r);
    case 10:
      return decode_unsubscribe(r);
    case 11:
      return decode_ack<unsuback>(r);
    case 12:
      return make_packet<pingreq>();
    case 13:
      return make_packet<pingresp>();
    case 14:
      return make_packet<disconnect>();
    default:
      return errc::unknown_packet_type; // 0 and 15 are reserved (§2.2.1)
  }
}

// A 64-bit word of ASCII without NUL: the common case, checked 8 bytes at a time.
bool plain_ascii(std::uint64_t w) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101u;
  constexpr std::uint64_t highs = 0x8080808080808080u;
  const bool has_zero = ((w - ones) & ~w & highs) != 0;
  return (w & highs) == 0 && !has_zero;
}

// RFC 3629 §4: length of the well-formed sequence starting at `s[i]`, 0 if ill-formed.
std::size_t utf8_sequence(std::string_view s, std::size_t i) noexcept {
  const auto at = [&](std::size_t k) {
    return static_cast<std::uint8_t>(s[i + k]);
  };
  const auto cont = [&](std::size_t k, std::uint8_t lo = 0x80, std::uint8_t hi = 0xBF) {
    return i + k < s.size() && at(k) >= lo && at(k) <= hi;
  };
  const std::uint8_t b = at(0);
  if (b >= 0x01 && b <= 0x7F) {
    return 1; // U+0000 is ill-formed here ([MQTT-1.5.3-2])
  }
  if (b >= 0xC2 && b <= 0xDF) {
    return cont(1) ? 2 : 0; // C0, C1: overlong
  }
  if (b >= 0xE0 && b <= 0xEF) {
    const std::uint8_t lo = b == 0xE0 ? 0xA0 : 0x80; // E0 80..9F: overlong
    const std::uint8_t hi = b == 0xED ? 0x9F : 0xBF; // ED A0..BF: surrogates
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    const std::uint8_t lo = b == 0xF0 ? 0x90 : 0x80; // F0 80..8F: overlong
    const std::uint8_t hi = b == 0xF4 ? 0x8F : 0xBF; // F4 90..: above U+10FFFF
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

} // namespace

bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    std::uint64_t w = 0;
    if (s.size() - i >= sizeof w) {
      std::memcpy(&w, s.data() + i, sizeof w);
      if (plain_ascii(w)) {
        i += sizeof w;
        continue;
      }
    }
    const std::size_t n = utf8_sequence(s, i);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

result<packet> decode(std::string_view frame) noexcept {
  const auto split = split_frame(frame, std::numeric_limits<std::size_t>::max());
  if (!split) {
    return split.error();
  }
  if (split->frame_size == 0 || split->frame_size != frame.size()) {
    return errc::malformed_packet; // empty, truncated, or bytes after the remaining length
  }
  const auto first = static_cast<std::uint8_t>(frame[0]);
  reader body(frame.substr(split->header_size));
  auto decoded = decode_body(static_cast<std::uint8_t>(first >> 4),
                             static_cast<std::uint8_t>(first & 0x0F), body);
  if (decoded && !body.empty()) {
    return errc::malformed_packet; // the remaining length covers more than the packet
  }
  return decoded;
}

} // namespace outpost::mqtt
