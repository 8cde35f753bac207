#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace outpost::routing {

/// Where a route delivers: the upstream (IoT Hub or parent), one input of a local module
/// (iotedge-facts §5.1 sinks) or, an Outpost extension, a named endpoint of the configuration
/// (`Endpoint("bus")`: an `[endpoints.bus]` AMQP broker). Value type.
struct endpoint {
  enum class kind : std::uint8_t { upstream, module_input, named };

  kind what = kind::upstream;
  std::string module; ///< module_input only
  std::string input;  ///< module_input only
  std::string name;   ///< named only

  static endpoint upstream() { return {}; }
  static endpoint module_input(std::string module, std::string input) {
    return {kind::module_input, std::move(module), std::move(input), {}};
  }
  static endpoint named(std::string name) { return {kind::named, {}, {}, std::move(name)}; }
  /// A configured endpoint's name: 1 to 64 of `A-Z a-z 0-9 . _ -` (IoT Hub's custom endpoint
  /// names).
  static bool valid_name(std::string_view name) noexcept;

  /// IoT Edge's endpoint id: "iothub" or "<edge device>/<module>/<input>" (facts §5.1), and
  /// ours "endpoint/<name>" (one '/', so never a module input's). Queue names derive from it
  /// (`<id>` or `<id>_Pri<n>`, facts §5.4).
  std::string id(std::string_view edge_device_id) const;
  /// The sink as a route writes it: `$upstream`, `BrokeredEndpoint("/modules/m/inputs/i")` or
  /// `Endpoint("name")`.
  std::string to_route_text() const;

  friend bool operator==(const endpoint& a, const endpoint& b) {
    return a.what == b.what && a.module == b.module && a.input == b.input && a.name == b.name;
  }
  friend bool operator!=(const endpoint& a, const endpoint& b) { return !(a == b); }
};

} // namespace outpost::routing
