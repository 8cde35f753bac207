#include "protocols/iothub/hub_error.hpp"

#include <nlohmann/json.hpp>

namespace outpost::iothub {

std::string hub_error::body() const {
  return nlohmann::json{{"errorCode", code}, {"message", message}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace outpost::iothub
