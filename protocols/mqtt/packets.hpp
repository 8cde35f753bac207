#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace outpost::mqtt {

/// The MQTT 3.1.1 control packets as plain values (§3). Strings own their bytes; binary fields
/// (will payload, password, PUBLISH payload) are `std::string` used as byte buffers.
/// The decoder fills only what the wire carries; the encoder writes exactly these fields.

/// MQTT 3.1.1 §3.1: the first packet of a client. Decoded only for "MQTT" level 4.
struct connect {
  /// The Will Message (§3.1.2.5-7, §3.1.3.2-3).
  struct will_t {
    std::string topic;
    std::string payload; ///< binary
    std::uint8_t qos = 0;
    bool retain = false;
  };

  std::string protocol_name = "MQTT";
  std::uint8_t level = 4;
  bool clean_session = true;
  std::uint16_t keepalive = 0; ///< seconds, 0 = off (§3.1.2.10)
  std::string client_id;
  std::optional<will_t> will;
  std::optional<std::string> username;
  std::optional<std::string> password; ///< binary; only with a username (§3.1.2.9)
};

/// MQTT 3.1.1 §3.2: the server's answer to CONNECT.
struct connack {
  bool session_present = false;
  std::uint8_t return_code = 0; ///< 0 accepted .. 5 not authorized (§3.2.2.3)
};

/// MQTT 3.1.1 §3.3: an application message in either direction.
struct publish {
  bool dup = false;
  std::uint8_t qos = 0;
  bool retain = false;
  std::string topic;
  std::uint16_t packet_id = 0; ///< on the wire only when qos > 0 (§2.3.1)
  std::string payload;         ///< binary
};

/// MQTT 3.1.1 §3.4: QoS 1 acknowledgement.
struct puback {
  std::uint16_t packet_id = 0;
};

/// MQTT 3.1.1 §3.5: QoS 2 delivery part 1.
struct pubrec {
  std::uint16_t packet_id = 0;
};

/// MQTT 3.1.1 §3.6: QoS 2 delivery part 2.
struct pubrel {
  std::uint16_t packet_id = 0;
};

/// MQTT 3.1.1 §3.7: QoS 2 delivery part 3.
struct pubcomp {
  std::uint16_t packet_id = 0;
};

/// MQTT 3.1.1 §3.8: topic filters with their requested QoS, in order.
struct subscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::pair<std::string, std::uint8_t>> filters;
};

/// Return code of a failed subscription in SUBACK (§3.9.3).
inline constexpr std::uint8_t suback_failure = 0x80;

/// MQTT 3.1.1 §3.9: granted QoS per filter of the SUBSCRIBE, or `suback_failure`.
struct suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> return_codes;
};

/// MQTT 3.1.1 §3.10.
struct unsubscribe {
  std::uint16_t packet_id = 0;
  std::vector<std::string> filters;
};

/// MQTT 3.1.1 §3.11.
struct unsuback {
  std::uint16_t packet_id = 0;
};

/// MQTT 3.1.1 §3.12.
struct pingreq {};

/// MQTT 3.1.1 §3.13.
struct pingresp {};

/// MQTT 3.1.1 §3.14.
struct disconnect {};

/// Any MQTT 3.1.1 control packet. The index order is the packet type minus one (§2.2.1).
using packet = std::variant<connect, connack, publish, puback, pubrec, pubrel, pubcomp, subscribe,
                            suback, unsubscribe, unsuback, pingreq, pingresp, disconnect>;

// Equality compares every field, so round-trip tests can say decode(encode(p)) == p.

inline bool operator==(const connect::will_t& a, const connect::will_t& b) {
  return a.topic == b.topic && a.payload == b.payload && a.qos == b.qos && a.retain == b.retain;
}

inline bool operator==(const connect& a, const connect& b) {
  return a.protocol_name == b.protocol_name && a.level == b.level
         && a.clean_session == b.clean_session && a.keepalive == b.keepalive
         && a.client_id == b.client_id && a.will == b.will && a.username == b.username
         && a.password == b.password;
}

inline bool operator==(const connack& a, const connack& b) {
  return a.session_present == b.session_present && a.return_code == b.return_code;
}

inline bool operator==(const publish& a, const publish& b) {
  return a.dup == b.dup && a.qos == b.qos && a.retain == b.retain && a.topic == b.topic
         && a.packet_id == b.packet_id && a.payload == b.payload;
}

inline bool operator==(const puback& a, const puback& b) {
  return a.packet_id == b.packet_id;
}

inline bool operator==(const pubrec& a, const pubrec& b) {
  return a.packet_id == b.packet_id;
}

inline bool operator==(const pubrel& a, const pubrel& b) {
  return a.packet_id == b.packet_id;
}

inline bool operator==(const pubcomp& a, const pubcomp& b) {
  return a.packet_id == b.packet_id;
}

inline bool operator==(const subscribe& a, const subscribe& b) {
  return a.packet_id == b.packet_id && a.filters == b.filters;
}

inline bool operator==(const suback& a, const suback& b) {
  return a.packet_id == b.packet_id && a.return_codes == b.return_codes;
}

inline bool operator==(const unsubscribe& a, const unsubscribe& b) {
  return a.packet_id == b.packet_id && a.filters == b.filters;
}

inline bool operator==(const unsuback& a, const unsuback& b) {
  return a.packet_id == b.packet_id;
}

inline bool operator==(const pingreq&, const pingreq&) {
  return true;
}

inline bool operator==(const pingresp&, const pingresp&) {
  return true;
}

inline bool operator==(const disconnect&, const disconnect&) {
  return true;
}

namespace detail {

template <class T, class Variant>
struct is_alternative;

template <class T, class... Ts>
struct is_alternative<T, std::variant<Ts...>> : std::disjunction<std::is_same<T, Ts>...> {};

} // namespace detail

/// `!=` for the packet structs and `connect::will_t` only (std::variant's `!=` needs it).
template <class T, class = std::enable_if_t<detail::is_alternative<T, packet>::value
                                            || std::is_same_v<T, connect::will_t>>>
bool operator!=(const T& a, const T& b) {
  return !(a == b);
}

} // namespace outpost::mqtt
