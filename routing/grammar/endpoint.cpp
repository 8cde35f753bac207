#include "routing/grammar/endpoint.hpp"

#include "protocols/common/endpoint_name.hpp"

namespace outpost::routing {

bool endpoint::valid_name(std::string_view name) noexcept {
  return is_endpoint_name(name);
}

std::string endpoint::id(std::string_view edge_device_id) const {
  if (what == kind::upstream) {
    return "iothub";
  }
  if (what == kind::named) {
    return "endpoint/" + name;
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
  if (what == kind::named) {
    return "Endpoint(\"" + name + "\")";
  }
  return "BrokeredEndpoint(\"/modules/" + module + "/inputs/" + input + "\")";
}

} // namespace outpost::routing
