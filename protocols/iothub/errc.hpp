#pragma once

#include <cstdint>
#include <system_error>

namespace outpost::iothub {

/// Why an IoT Hub MQTT dialect element (client id, username, SAS token, topic, property bag)
/// was refused. The session actor maps them to CONNACK codes (CONNECT-time errors: return
/// code 5, "not authorized", as edgeHub does) or drops and counts the publish (topic errors,
/// facts §3.3); nothing else converts them.
enum class errc : std::uint8_t {
  bad_client_id = 1,          ///< not `<deviceId>` or `<deviceId>/<moduleId>` (facts §3.1)
  bad_username,               ///< breaks the username grammar or lacks api-version (§3.1)
  client_id_mismatch,         ///< a username or topic names another identity than the client
  bad_sas_token,              ///< not `SharedAccessSignature sr=..&sig=..&se=..` (§3.2)
  sas_expired,                ///< `se` is in the past (§3.2 step 6)
  sas_signature_mismatch,     ///< neither the primary nor the secondary key signs it (§3.2 step 4)
  sas_wrong_audience,         ///< `sr` names another host or another identity (§3.2 step 5)
  unknown_topic,              ///< a PUBLISH topic no inbound template matches (§3.3)
  bad_property_bag,           ///< a property bag the ProtocolGateway tokenizer refuses (§3.5)
  missing_request_id,         ///< twin GET or method response without a non-empty `$rid` (§3.3)
  unsupported_twin_operation, ///< `$iothub/twin/...` other than GET or PATCH reported (§3.3)
  too_many_properties,        ///< a property bag with more than `max_bag_properties` pairs
};

/// The category of `errc`, named "outpost.iothub".
const std::error_category& iothub_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), iothub_category()};
}

} // namespace outpost::iothub

template <>
struct std::is_error_code_enum<outpost::iothub::errc> : std::true_type {};
