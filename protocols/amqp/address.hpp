#pragma once

#include "protocols/common/result.hpp"
#include "protocols/iothub/identity.hpp"

#include <string>
#include <string_view>

namespace outpost::amqp {

/// What an IoT Hub link address names (facts §4.3, wire §3.2).
enum class link_kind : unsigned char {
  cbs,         ///< `$cbs`: put-token requests (client sender) and replies (client receiver)
  events,      ///< `/devices/{d}[/modules/{m}]/messages/events`: telemetry and module outputs
               ///< (client sender), a module's inputs (client receiver)
  devicebound, ///< `/devices/{d}/messages/devicebound`: the device's C2D (client receiver)
  twin,        ///< `/devices/{d}[/modules/{m}]/twin`: twin requests and responses
  methods,     ///< `/devices/{d}[/modules/{m}]/methods/devicebound`: direct methods
  service_devicebound, ///< `/messages/devicebound`: the service SDK's C2D sender
};

const char* to_string(link_kind k) noexcept;

/// A parsed link address: its kind and, for device and module links, whose.
struct link_address {
  link_kind kind = link_kind::cbs;
  iothub::client_identity who; ///< empty for `cbs` and `service_devicebound`
};

/// Parses a link's source or target address. An `amqps://host` (or `amqp://host`) prefix is
/// dropped, the leading `/` is optional, the fixed words are matched case-insensitively
/// (`deviceBound`, `devicebound`), and ids are percent-decoded and must be valid IoT Hub ids.
/// Errors: `std::errc::invalid_argument` for anything else (the link is refused with
/// `amqp:not-found`).
result<link_address> parse_link_address(std::string_view address);

/// A CBS audience (`name` of a put-token): `[amqps://]host/devices/{d}[/modules/{m}]`
/// (percent-encoded or not) names an identity; a bare `host` names the hub itself (the service
/// policy). `who` is empty for the latter. Errors: `std::errc::invalid_argument`.
struct audience {
  std::string host;
  iothub::client_identity who;
  bool service() const noexcept { return who.device_id.empty(); }
};
result<audience> parse_audience(std::string_view name);

} // namespace outpost::amqp
