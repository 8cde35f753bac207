#pragma once

#include "protocols/common/result.hpp"
#include "protocols/iothub/errc.hpp"

#include <string>
#include <string_view>

namespace outpost::iothub {

/// Who a client is: a device, or a module of a device (facts §3.1). Value type.
struct client_identity {
  std::string device_id;
  std::string module_id; ///< empty for a device

  /// The identity id as MQTT client ids spell it: `<deviceId>` or `<deviceId>/<moduleId>`.
  std::string id() const;
  bool is_module() const noexcept { return !module_id.empty(); }

  friend bool operator==(const client_identity& a, const client_identity& b) {
    return a.device_id == b.device_id && a.module_id == b.module_id;
  }
  friend bool operator!=(const client_identity& a, const client_identity& b) { return !(a == b); }
};

/// True for an IoT Hub device id: 1-128 ASCII letters, digits or `-.%_*?!(),:=@$'`.
bool is_valid_device_id(std::string_view id) noexcept;
/// True for an IoT Hub module id: as a device id, plus `+` and `#`.
bool is_valid_module_id(std::string_view id) noexcept;

/// Parses an MQTT CONNECT client id, `<deviceId>` or `<deviceId>/<moduleId>` (facts §3.1).
/// The caller checks that it names exactly (ordinal) the identity the credentials prove.
/// Errors: `errc::bad_client_id`.
result<client_identity> parse_client_id(std::string_view client_id);

/// What an MQTT CONNECT username says (facts §3.1, edgeHub's MqttUsernameParser).
struct username_info {
  std::string host;        ///< segment 0, not validated (edgeHub ignores it)
  client_identity who;     ///< must equal the client id's identity: checked by the caller
  std::string api_version; ///< mandatory, value not checked
  std::string client_type; ///< `DeviceClientType`, URI-unescaped; empty when absent
  std::string model_id;    ///< `model-id` (IoT Plug and Play); empty when absent
};

/// Parses `host/deviceId[/moduleId]/[?]props` (facts §3.1): the `?` separates only when it
/// starts the last segment, otherwise that segment must contain `api-version=`; ids are
/// trimmed; props are `name[=value]` joined by `&`, first occurrence wins, values
/// URI-unescaped; `api-version` is mandatory. The legacy Azure ML form
/// `host/d/m/api-version=2017-06-30/DeviceClientType=Microsoft.Azure.Devices.Client/1.5.1-preview-003`
/// is accepted as edgeHub does. Errors: `errc::bad_username`.
result<username_info> parse_username(std::string_view username);

} // namespace outpost::iothub
