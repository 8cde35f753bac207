#pragma once

#include "routing/model/message.hpp"

#include <optional>
#include <string_view>

namespace outpost::routing {

/// The system property a route's `$name` refers to, case-insensitively (IoT Edge's message
/// dictionaries are OrdinalIgnoreCase). Knows IoT Edge's internal keys (iotedge-facts §5.3:
/// `messageId`, `cid`, `to`, `userId`, `ack`, `connectionDeviceId`, `connectionModuleId`,
/// `outputName`, `inputName`, `contentType`, `contentEncoding`, `messageSchema`,
/// `creationTime`, `operation`, `absolute-expiry-time`, `enqueuedTime`, `edgeMessageId`,
/// `iothub-interface-id`, `dt-subject`) and the names of `system_property_name`
/// (`correlationId`, `absoluteExpiryTime`, `interfaceId`, `componentName`). Other names
/// (`messageType`, `modelId`, ...) have no slot in `message` and are always undefined.
std::optional<system_property> find_system_property(std::string_view name) noexcept;

} // namespace outpost::routing
