#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace outpost::routing {

/// Where a route delivers: the upstream (IoT Hub or parent) or one input of a local module
/// (iotedge-facts §5.1 sinks). Value type.
struct endpoint {
  enum class kind : std::uint8_t { upstream, module_input };

  kind what = kind::upstream;
  std::string module; ///< module_input only
  std::string input;  ///< module_input only

  static endpoint upstream() { return {}; }
  static endpoint module_input(std::string module, std::string input) {
    return {kind::module_input, std::move(module), std::move(input)};
  }

  /// IoT Edge's endpoint id: "iothub" or "<edge device>/<module>/<input>" (facts §5.1). Queue
  /// names derive from it (`<id>` or `<id>_Pri<n>`, facts §5.4).
  std::string id(std::string_view edge_device_id) const;
  /// The sink as a route writes it: `$upstream` or `BrokeredEndpoint("/modules/m/inputs/i")`.
  std::string to_route_text() const;

  friend bool operator==(const endpoint& a, const endpoint& b) {
    return a.what == b.what && a.module == b.module && a.input == b.input;
  }
  friend bool operator!=(const endpoint& a, const endpoint& b) { return !(a == b); }
};

} // namespace outpost::routing
