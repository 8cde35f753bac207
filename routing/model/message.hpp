#pragma once

#include "protocols/common/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::routing {

/// IoT Hub system properties a message can carry (IoT Edge's SystemProperties.cs). The wire
/// dialects map these to their own spelling (MQTT `$.mid`, AMQP message-id, ...).
enum class system_property : std::uint8_t {
  message_id,           ///< MQTT $.mid
  correlation_id,       ///< $.cid
  to,                   ///< $.to
  user_id,              ///< $.uid
  absolute_expiry_time, ///< $.exp
  content_type,         ///< $.ct
  content_encoding,     ///< $.ce
  message_schema,       ///< $.schema
  creation_time,        ///< $.ctime
  output_name,          ///< $.on (inbound only: selects the module output)
  interface_id,         ///< $.ifid
  component_name,       ///< $.sub
  operation,            ///< iothub-operation
  ack,                  ///< ack
  connection_device_id, ///< $.cdid: stamped by the hub, the authenticated sender's device
  connection_module_id, ///< $.cmid: stamped by the hub, the authenticated sender's module
  input_name,           ///< the module input it is delivered to
  enqueued_time,        ///< when the hub accepted it (ISO 8601)
  edge_message_id,      ///< the hub's own id for the message
  /// AMQP only: the types message-id and correlation-id arrived in, one letter each (`s`
  /// string, `u` uuid, `l` ulong, `b` binary as text, `x` binary shown in hex), so AMQP out sends
  /// them back as they came; the values above hold their string forms. Not on MQTT, not in route
  /// queries.
  amqp_id_types,
};

inline constexpr std::size_t system_property_count = 20;

/// The name IoT Edge uses internally and in route queries (`$connectionDeviceId`, ...).
std::string_view system_property_name(system_property p) noexcept;

/// A message as the hub routes and stores it: body, application properties in arrival
/// order, and system properties. Value type; moved through the data path.
struct message {
  std::string body;
  std::vector<std::pair<std::string, std::string>> properties; ///< application properties
  std::vector<std::pair<system_property, std::string>> system_properties;

  /// The value of system property `p`, if set.
  std::optional<std::string_view> get(system_property p) const noexcept;
  /// Sets (or replaces) system property `p`.
  void set(system_property p, std::string value);
  /// The value of application property `name`, if set (first occurrence).
  std::optional<std::string_view> property(std::string_view name) const noexcept;

  friend bool operator==(const message& a, const message& b) {
    return a.body == b.body && a.properties == b.properties
           && a.system_properties == b.system_properties;
  }
};

/// Serializes `m` for the message store (format version 1; golden bytes in the tests).
std::string encode(const message& m);
/// Parses what `encode` wrote; `std::errc::bad_message` for anything else.
result<message> decode(std::string_view bytes);

} // namespace outpost::routing
