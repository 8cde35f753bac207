#pragma once

#include <cstdint>
#include <string>

namespace outpost::iothub {

/// What an IoT Hub client is told when a request fails: the status (HTTP, or the MQTT
/// `$iothub/twin/res/{status}`), IoT Hub's `errorCode` and a message naming the problem.
struct hub_error {
  int status = 400;
  std::int32_t code = 400004; ///< ArgumentInvalid: the body cannot be parsed or validated
  std::string message;

  /// `{"errorCode":400004,"message":"..."}`: the Azure SDKs take a twin response as failed only
  /// when its body has `errorCode` (azure-sdk-wire §2.5). Bytes of the message that are not
  /// UTF-8 (a method name as a caller sent it) are replaced, never an exception.
  std::string body() const;
};

} // namespace outpost::iothub
