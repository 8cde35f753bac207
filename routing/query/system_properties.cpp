#include "routing/query/system_properties.hpp"

#include "routing/query/text.hpp"

#include <array>
#include <utility>

namespace outpost::routing {

std::optional<system_property> find_system_property(std::string_view name) noexcept {
  static constexpr std::array<std::pair<std::string_view, system_property>, 24> names{{
      {"messageId", system_property::message_id},
      {"cid", system_property::correlation_id},
      {"correlationId", system_property::correlation_id},
      {"to", system_property::to},
      {"userId", system_property::user_id},
      {"absolute-expiry-time", system_property::absolute_expiry_time},
      {"absoluteExpiryTime", system_property::absolute_expiry_time},
      {"contentType", system_property::content_type},
      {"contentEncoding", system_property::content_encoding},
      {"messageSchema", system_property::message_schema},
      {"creationTime", system_property::creation_time},
      {"outputName", system_property::output_name},
      {"iothub-interface-id", system_property::interface_id},
      {"interfaceId", system_property::interface_id},
      {"dt-subject", system_property::component_name},
      {"componentName", system_property::component_name},
      {"operation", system_property::operation},
      {"ack", system_property::ack},
      {"connectionDeviceId", system_property::connection_device_id},
      {"connectionModuleId", system_property::connection_module_id},
      {"inputName", system_property::input_name},
      {"enqueuedTime", system_property::enqueued_time},
      {"edgeMessageId", system_property::edge_message_id},
      {"iothub-operation", system_property::operation},
  }};
  for (const auto& [n, p] : names) {
    if (text::iequals(n, name)) {
      return p;
    }
  }
  return std::nullopt;
}

} // namespace outpost::routing
