#pragma once

#include "protocols/common/result.hpp"
#include "protocols/iothub/errc.hpp"
#include "protocols/iothub/identity.hpp"
#include "routing/model/message.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::iothub {

/// What a client's PUBLISH asks for (facts §3.3).
enum class inbound_kind : std::uint8_t {
  telemetry,           ///< device telemetry or module output: route the message
  twin_get,            ///< `$iothub/twin/GET/?$rid=`: answer on `$iothub/twin/res/200/`
  twin_patch_reported, ///< `$iothub/twin/PATCH/properties/reported/?$rid=`: body = patch
  method_response,     ///< `$iothub/methods/res/{status}/?$rid=`: body = result
};

/// A parsed inbound PUBLISH topic. Value type.
struct inbound_topic {
  inbound_kind kind = inbound_kind::telemetry;
  client_identity target; ///< the identity the topic is about (always the publisher's)
  std::string request_id; ///< `$rid` as sent (twin and method response; empty when absent)
  int status = 0;         ///< method response status; 400000 when it is not an int (edgeHub)
};

/// Parses a PUBLISH topic from `who` (facts §3.3; edgeHub's inbound templates, first match
/// wins, anchored at both ends):
/// - `devices/{d}/messages/events[/[{bag}[/]]]` and
///   `devices/{d}/modules/{m}/messages/events[/[{bag}[/]]]`: telemetry. The ids must be `who`'s
///   (ordinal) else `errc::client_id_mismatch`; the bag is decoded into `into`
///   (`decode_property_bag`: `$.on` becomes output_name), then connection_device_id and, for a
///   module, connection_module_id are stamped from `who`. `into.body` is not touched.
/// - `$iothub/twin/GET/?$rid={rid}` (rid mandatory, else `errc::missing_request_id`),
///   `$iothub/twin/PATCH/properties/reported/[?$rid={rid}]`; any other `$iothub/twin/...`
///   is `errc::unsupported_twin_operation`.
/// - `$iothub/methods/res/{status}/?$rid={rid}`.
/// Anything else is `errc::unknown_topic` (edgeHub logs, drops and counts it).
result<inbound_topic> parse_publish_topic(std::string_view topic, const client_identity& who,
                                          routing::message& into);

/// What a SUBSCRIBE topic filter asks for (facts §3.4).
enum class subscription_kind : std::uint8_t {
  module_inputs, ///< `devices/{d}/modules/{m}/#` (regex `^devices/.+/modules/.+/#$`)
  c2d,           ///< ends with `messages/devicebound/#`
  twin_response, ///< exactly `$iothub/twin/res/#`
  twin_desired,  ///< starts with `$iothub/twin/PATCH/properties/desired/`
  methods,       ///< starts with `$iothub/methods/POST/`
  unknown,       ///< ignored (granted, never delivered to), not refused
};

/// Classifies a filter with edgeHub's SessionStateParser rules, in its order: methods,
/// desired, C2D, twin response, module messages, else unknown (facts §3.4).
subscription_kind classify_subscription(std::string_view filter) noexcept;

/// Whether `who` may subscribe to `filter` (granted, else SUBACK 0x80): only topics IoT Hub
/// ever publishes to that identity, with its own ids spelled out (no wildcard in their place):
/// methods (`$iothub/methods/POST/...`), desired properties
/// (`$iothub/twin/PATCH/properties/desired/...`), twin responses (`$iothub/twin/res/#`), C2D for
/// a device (`devices/{d}/messages/devicebound/#`), inputs for a module (a module-messages
/// filter under `devices/{d}/modules/{m}/`, e.g. `.../#` or `.../inputs/#`). A bare `#`,
/// another identity's topics and unknown filters are refused.
bool subscription_allowed(const client_identity& who, std::string_view filter) noexcept;

/// `devices/{d}/modules/{m}/inputs/{input}/` + bag (with `$.cdid`/`$.cmid` of the original
/// sender): the topic of a message delivered to a module input (facts §3.4). Always ends the
/// input segment with '/', even with an empty bag (the SDK drops topics without it).
std::string module_input_topic(const client_identity& target, std::string_view input,
                               const routing::message& m);

/// `devices/{d}/messages/devicebound/` + bag: a cloud-to-device message (facts §3.4).
std::string c2d_topic(std::string_view device_id, const routing::message& m);

/// `$iothub/twin/res/{status}/?$rid={rid}[&$version={version}]` (azure-sdk-wire.md §2.5).
std::string twin_response_topic(int status, std::string_view request_id,
                                std::optional<std::int64_t> version = std::nullopt);

/// `$iothub/twin/PATCH/properties/desired/?$version={version}` (facts §3.4).
std::string desired_patch_topic(std::int64_t version);

/// `$iothub/methods/POST/{method}/?$rid={rid}` (facts §3.4).
std::string method_request_topic(std::string_view method, std::string_view request_id);

} // namespace outpost::iothub
