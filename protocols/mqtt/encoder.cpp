#include "protocols/mqtt/encoder.hpp"

#include <cassert>
#include <cstdint>
#include <string_view>

namespace outpost::mqtt {
namespace {

// MQTT 3.1.1 §2.2.1: packet types in the high nibble of the first byte.
enum class type : std::uint8_t {
  connect = 1,
  connack,
  publish,
  puback,
  pubrec,
  pubrel,
  pubcomp,
  subscribe,
  suback,
  unsubscribe,
  unsuback,
  pingreq,
  pingresp,
  disconnect,
};

constexpr std::uint8_t first_byte(type t, std::uint8_t flags = 0) noexcept {
  return static_cast<std::uint8_t>((static_cast<std::uint8_t>(t) << 4) | flags);
}

// MQTT 3.1.1 §2.2.3: bytes of the minimal remaining-length encoding.
std::size_t length_bytes(std::size_t remaining) noexcept {
  return remaining < 128 ? 1 : remaining < 16'384 ? 2 : remaining < 2'097'152 ? 3 : 4;
}

std::size_t frame_size(std::size_t remaining) noexcept {
  return 1 + length_bytes(remaining) + remaining;
}

// MQTT 3.1.1 §1.5.3: two-byte length prefix.
std::size_t string_size(std::string_view s) noexcept {
  return 2 + s.size();
}

void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}

void put_u16(std::string& out, std::uint16_t v) {
  const char bytes[2] = {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
  out.append(bytes, 2);
}

void put_string(std::string& out, std::string_view s) {
  assert(s.size() <= 0xFFFF && "MQTT strings are at most 65535 bytes (§1.5.3)");
  put_u16(out, static_cast<std::uint16_t>(s.size()));
  out.append(s);
}

// The fixed header (§2.2), after reserving room for the whole frame.
void put_header(std::string& out, std::uint8_t first, std::size_t remaining) {
  assert(remaining <= 268'435'455 && "remaining length has at most 4 bytes (§2.2.3)");
  out.reserve(out.size() + frame_size(remaining));
  put_u8(out, first);
  do {
    auto digit = static_cast<std::uint8_t>(remaining & 0x7F);
    remaining >>= 7;
    if (remaining > 0) {
      digit |= 0x80;
    }
    put_u8(out, digit);
  } while (remaining > 0);
}

// Remaining lengths, one function per packet type (§3.x.2 variable header + §3.x.3 payload).

std::size_t remaining_size(const connect& p) noexcept {
  std::size_t n = string_size(p.protocol_name) + 1 + 1 + 2 + string_size(p.client_id);
  if (p.will) {
    n += string_size(p.will->topic) + string_size(p.will->payload);
  }
  if (p.username) {
    n += string_size(*p.username);
  }
  if (p.password) {
    n += string_size(*p.password);
  }
  return n;
}

std::size_t remaining_size(const connack&) noexcept {
  return 2;
}

std::size_t remaining_size(const publish& p) noexcept {
  return string_size(p.topic) + (p.qos > 0 ? 2 : 0) + p.payload.size();
}

std::size_t remaining_size(const subscribe& p) noexcept {
  std::size_t n = 2;
  for (const auto& [filter, qos] : p.filters) {
    n += string_size(filter) + 1;
  }
  return n;
}

std::size_t remaining_size(const suback& p) noexcept {
  return 2 + p.return_codes.size();
}

std::size_t remaining_size(const unsubscribe& p) noexcept {
  std::size_t n = 2;
  for (const auto& filter : p.filters) {
    n += string_size(filter);
  }
  return n;
}

std::size_t remaining_size(const puback&) noexcept {
  return 2;
}

std::size_t remaining_size(const pubrec&) noexcept {
  return 2;
}

std::size_t remaining_size(const pubrel&) noexcept {
  return 2;
}

std::size_t remaining_size(const pubcomp&) noexcept {
  return 2;
}

std::size_t remaining_size(const unsuback&) noexcept {
  return 2;
}

std::size_t remaining_size(const pingreq&) noexcept {
  return 0;
}

std::size_t remaining_size(const pingresp&) noexcept {
  return 0;
}

std::size_t remaining_size(const disconnect&) noexcept {
  return 0;
}

// MQTT 3.1.1 §3.1.2.3: the Connect Flags byte.
std::uint8_t connect_flags(const connect& p) noexcept {
  std::uint8_t flags = p.clean_session ? 0x02 : 0x00;
  if (p.will) {
    flags |= static_cast<std::uint8_t>(0x04 | ((p.will->qos & 0x03) << 3));
    flags |= p.will->retain ? 0x20 : 0x00;
  }
  flags |= p.password ? 0x40 : 0x00;
  flags |= p.username ? 0x80 : 0x00;
  return flags;
}

template <class Ack>
void encode_ack(type t, std::uint8_t flags, const Ack& p, std::string& out) {
  put_header(out, first_byte(t, flags), 2);
  put_u16(out, p.packet_id);
}

} // namespace

// MQTT 3.1.1 §3.1: variable header, then Client Identifier, Will, User Name, Password.
void encode(const connect& p, std::string& out) {
  put_header(out, first_byte(type::connect), remaining_size(p));
  put_string(out, p.protocol_name);
  put_u8(out, p.level);
  put_u8(out, connect_flags(p));
  put_u16(out, p.keepalive);
  put_string(out, p.client_id);
  if (p.will) {
    put_string(out, p.will->topic);
    put_string(out, p.will->payload);
  }
  if (p.username) {
    put_string(out, *p.username);
  }
  if (p.password) {
    put_string(out, *p.password);
  }
}

// MQTT 3.1.1 §3.2.
void encode(const connack& p, std::string& out) {
  put_header(out, first_byte(type::connack), 2);
  put_u8(out, p.session_present ? 0x01 : 0x00);
  put_u8(out, p.return_code);
}

// MQTT 3.1.1 §3.3: DUP, QoS and RETAIN in the fixed header; no packet id at QoS 0.
void encode(const publish& p, std::string& out) {
  const auto flags = static_cast<std::uint8_t>((p.dup ? 0x08 : 0x00) | ((p.qos & 0x03) << 1)
                                               | (p.retain ? 0x01 : 0x00));
  put_header(out, first_byte(type::publish, flags), remaining_size(p));
  put_string(out, p.topic);
  if (p.qos > 0) {
    put_u16(out, p.packet_id);
  }
  out.append(p.payload);
}

void encode(const puback& p, std::string& out) {
  encode_ack(type::puback, 0, p, out); // §3.4
}

void encode(const pubrec& p, std::string& out) {
  encode_ack(type::pubrec, 0, p, out); // §3.5
}

void encode(const pubrel& p, std::string& out) {
  encode_ack(type::pubrel, 0x02, p, out); // §3.6.1: flags 0010
}

void encode(const pubcomp& p, std::string& out) {
  encode_ack(type::pubcomp, 0, p, out); // §3.7
}

// MQTT 3.1.1 §3.8: flags 0010, packet id, then filter / requested QoS pairs.
void encode(const subscribe& p, std::string& out) {
  put_header(out, first_byte(type::subscribe, 0x02), remaining_size(p));
  put_u16(out, p.packet_id);
  for (const auto& [filter, qos] : p.filters) {
    put_string(out, filter);
    put_u8(out, qos);
  }
}

// MQTT 3.1.1 §3.9.
void encode(const suback& p, std::string& out) {
  put_header(out, first_byte(type::suback), remaining_size(p));
  put_u16(out, p.packet_id);
  for (const std::uint8_t code : p.return_codes) {
    put_u8(out, code);
  }
}

// MQTT 3.1.1 §3.10: flags 0010, packet id, then filters.
void encode(const unsubscribe& p, std::string& out) {
  put_header(out, first_byte(type::unsubscribe, 0x02), remaining_size(p));
  put_u16(out, p.packet_id);
  for (const auto& filter : p.filters) {
    put_string(out, filter);
  }
}

void encode(const unsuback& p, std::string& out) {
  encode_ack(type::unsuback, 0, p, out); // §3.11
}

void encode(const pingreq&, std::string& out) {
  put_header(out, first_byte(type::pingreq), 0); // §3.12
}

void encode(const pingresp&, std::string& out) {
  put_header(out, first_byte(type::pingresp), 0); // §3.13
}

void encode(const disconnect&, std::string& out) {
  put_header(out, first_byte(type::disconnect), 0); // §3.14
}

void encode(const packet& p, std::string& out) {
  std::visit([&out](const auto& v) { encode(v, out); }, p);
}

std::size_t encoded_size(const packet& p) noexcept {
  return std::visit([](const auto& v) { return frame_size(remaining_size(v)); }, p);
}

} // namespace outpost::mqtt
