#pragma once

#include <cstdint>
#include <system_error>

namespace outpost::mqtt {

/// Why a frame could not be split or decoded. Every value means "close the network connection"
/// (MQTT 3.1.1 §4.8), except `unsupported_protocol`, which the session answers with CONNACK 1
/// first (§3.1.2.2). The session maps these to actions; nothing else converts them.
enum class errc : std::uint8_t {
  malformed_remaining_length = 1, ///< a fifth remaining-length byte (§2.2.3)
  packet_too_large,               ///< the frame exceeds the configured maximum size
  reserved_flags_set,             ///< a reserved bit has the wrong value (§2.2.2, §3.1.2.3)
  invalid_utf8,                   ///< ill-formed UTF-8, U+0000 or a surrogate (§1.5.3)
  malformed_packet,               ///< truncated or trailing bytes, inconsistent flags
  unknown_packet_type,            ///< packet type 0 or 15 (§2.2.1)
  unsupported_protocol,           ///< protocol name not "MQTT" or level not 4 (§3.1.2.1-2)
  invalid_qos,                    ///< QoS 3 (§3.3.1.2, §3.1.2.6, §3.8.3.1)
  invalid_topic,                  ///< empty topic name or one with wildcards (§4.7)
  invalid_packet_id,              ///< packet identifier 0 where one is required (§2.3.1)
  invalid_topic_filter,           ///< a topic filter breaking the wildcard rules (§4.7.1)
  empty_filter_list,              ///< SUBSCRIBE or UNSUBSCRIBE without a filter (§3.8.3, §3.10.3)
};

/// The category of `errc`, named "outpost.mqtt".
const std::error_category& mqtt_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), mqtt_category()};
}

} // namespace outpost::mqtt

template <>
struct std::is_error_code_enum<outpost::mqtt::errc> : std::true_type {};
