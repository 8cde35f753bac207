#include "routing/grammar/endpoint.hpp"

namespace outpost::routing {

std::string endpoint::id(std::string_view edge_device_id) const {
  if (what == kind::upstream) {
    return "iothub";
  }
  std::string out;
  out.reserve(edge_device_id.size() + module.size() + input.size() + 2);
  out.append(edge_device_id).append("/").append(module).append("/").append(input);
  return out;
}

std::string endpoint::to_route_text() const {
  if (what == kind::upstream) {
    return "$upstream";
  }
  return "BrokeredEndpoint(\"/modules/" + module + "/inputs/" + input + "\")";
}

} // namespace outpost::routing
