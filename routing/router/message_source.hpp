#pragma once

#include "routing/model/message.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace outpost::routing {

/// Where a message comes from, as IoT Edge names it (RoutingMessageConverter.GetMessageSource,
/// iotedge-facts §5.2). Views into the message.
struct message_source {
  enum class kind : std::uint8_t {
    telemetry,                ///< /messages (a leaf device's telemetry)
    module,                   ///< /messages/modules/<module>[/outputs/<output>]
    twin_change_notification, ///< /twinChangeNotifications
  };

  kind what = kind::telemetry;
  std::string_view module; ///< module: the sender's connectionModuleId
  std::string_view output; ///< module: its outputName; empty if none

  /// "/messages", "/messages/modules/m/outputs/o", "/messages/modules/m",
  /// "/twinChangeNotifications".
  std::string to_string() const;
};

/// The source of `m`: a twin change notification when its messageSchema is
/// "twinChangeNotification" (the model has no messageType, which IoT Edge checks; both are set
/// together on reported-property updates); else a module message when connectionModuleId is
/// set; else telemetry.
message_source source_of(const message& m) noexcept;

/// A route's FROM path, normalised as IoT Edge's CustomMessageSource does (trailing '*' and '/'
/// dropped, one '/' appended) and matched as a case-insensitive prefix of the message source
/// with one trailing '/'. So `/*` matches everything, `/messages/modules/M/*` every output of
/// M, and `/messages/modules/M` does not match module `M2`.
class source_filter {
public:
  static source_filter from_route(std::string_view source);

  bool matches(const message_source& s) const noexcept;
  /// True for FROM /twinChangeNotifications (where twin_change_includes() is allowed).
  bool is_twin_change() const noexcept;
  /// The normalised prefix, e.g. "/messages/".
  const std::string& prefix() const noexcept { return prefix_; }

private:
  std::string prefix_;
};

} // namespace outpost::routing
