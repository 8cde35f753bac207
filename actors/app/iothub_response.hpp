#pragma once

#include "protocols/iothub/hub_error.hpp"
#include "protocols/transport/http_server.hpp"

#include <cstdint>
#include <string>

namespace outpost::app {

/// An answer of IoT Hub's service surface as the admin API sends it: JSON, one line.
inline transport::http_response iothub_response(int status, std::string body) {
  return transport::http_response{static_cast<unsigned>(status), "application/json",
                                  std::move(body) + "\n"};
}

/// IoT Hub's error answer: `status` with `{"errorCode": code, "message": message}`.
inline transport::http_response iothub_error(int status, std::int32_t code, std::string message) {
  return iothub_response(status, iothub::hub_error{status, code, std::move(message)}.body());
}

} // namespace outpost::app
