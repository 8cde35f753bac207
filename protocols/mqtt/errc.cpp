#include "protocols/mqtt/errc.hpp"

#include "protocols/common/error_category.hpp"

#include <string>

namespace outpost::mqtt {
namespace {

const char* describe(errc e) noexcept {
  switch (e) {
    case errc::malformed_remaining_length:
      return "MQTT remaining length longer than 4 bytes";
    case errc::packet_too_large:
      return "MQTT packet larger than the maximum frame size";
    case errc::reserved_flags_set:
      return "MQTT reserved flag bits have invalid values";
    case errc::invalid_utf8:
      return "MQTT string is not well-formed UTF-8 (or contains U+0000)";
    case errc::malformed_packet:
      return "malformed MQTT packet";
    case errc::unknown_packet_type:
      return "unknown MQTT packet type";
    case errc::unsupported_protocol:
      return "unsupported MQTT protocol name or level (only MQTT 3.1.1)";
    case errc::invalid_qos:
      return "invalid MQTT QoS (3)";
    case errc::invalid_topic:
      return "invalid MQTT topic name (empty or with wildcards)";
    case errc::invalid_packet_id:
      return "MQTT packet identifier 0 where a non-zero one is required";
    case errc::invalid_topic_filter:
      return "invalid MQTT topic filter";
    case errc::empty_filter_list:
      return "MQTT SUBSCRIBE or UNSUBSCRIBE without topic filters";
  }
  return nullptr;
}

} // namespace

const std::error_category& mqtt_category() noexcept {
  static const enum_category<errc> instance{"outpost.mqtt", describe, "unknown MQTT codec error"};
  return instance;
}

} // namespace outpost::mqtt
