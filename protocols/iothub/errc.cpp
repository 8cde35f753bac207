#include "protocols/iothub/errc.hpp"

#include "protocols/common/error_category.hpp"

#include <string>

namespace outpost::iothub {
namespace {

const char* describe(errc e) noexcept {
  switch (e) {
    case errc::bad_client_id:
      return "MQTT client id is not <deviceId> or <deviceId>/<moduleId>";
    case errc::bad_username:
      return "MQTT username is not <host>/<deviceId>[/<moduleId>]/?api-version=...";
    case errc::client_id_mismatch:
      return "username or topic names another identity than the client id";
    case errc::bad_sas_token:
      return "password is not a SharedAccessSignature token with sr, sig and se";
    case errc::sas_expired:
      return "SAS token has expired";
    case errc::sas_signature_mismatch:
      return "SAS token signature matches neither the primary nor the secondary key";
    case errc::sas_wrong_audience:
      return "SAS token resource (sr) names another host or identity";
    case errc::unknown_topic:
      return "topic name could not be matched against any of the configured routes";
    case errc::bad_property_bag:
      return "malformed property bag in topic";
    case errc::missing_request_id:
      return "request id ($rid) is missing or empty";
    case errc::unsupported_twin_operation:
      return "twin operation is not supported";
    case errc::too_many_properties:
      return "too many properties in the topic's property bag";
  }
  return nullptr;
}

} // namespace

const std::error_category& iothub_category() noexcept {
  static const enum_category<errc> instance{"outpost.iothub", describe,
                                            "unknown IoT Hub dialect error"};
  return instance;
}

} // namespace outpost::iothub
