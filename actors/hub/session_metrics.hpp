#pragma once

#include "actors/common/counter_registry.hpp"
#include "actors/common/summary_registry.hpp"
#include "protocols/hub/hub_session.hpp"
#include "protocols/iothub/identity.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>

namespace outpost::actors {

struct hub_services;

/// What one identity's session core decides, counted under IoT Edge's metric names, whatever
/// protocol carries the identity (MQTT, AMQP, either over WebSockets). Labels come from the
/// authenticated identity and from names it chose, capped: each module output name is a series
/// only up to `hub_services::max_output_series`, later ones share "other". The series are
/// looked up once and cached. Owned by the session actor; not thread-safe.
class session_metrics final : public hub::session_observer {
public:
  /// `protocol` names the session in logs ("mqtt", "amqp").
  session_metrics(const hub_services& hub, const char* protocol) : hub_(hub), protocol_(protocol) {}

  /// The identity authenticated: its series get its id.
  void set_identity(const iothub::client_identity& who);
  /// Whether `outpost monitor` watches this pass's routed messages (asked once per pass).
  void set_monitored(bool on) noexcept { monitored_ = on; }

  void received(const routing::message& m, std::size_t body_bytes) override;
  void dropped(hub::drop_reason why, const routing::message& m) override;
  void delivered(const routing::message& m, const hub::binding& from,
                 std::int64_t enqueued_ms) override;
  void routed(const routing::message& m, const std::vector<hub::bound_target>& targets) override;
  void store_refused(std::error_code ec) override;

private:
  void count_received(std::string_view output);

  /// The series of module outputs and of received deliveries: only modules send on outputs,
  /// and only clients that subscribe receive, so a device that just sends telemetry (most of
  /// ten thousand) holds a pointer instead of ~160 bytes of empty maps.
  struct routed_series {
    std::unordered_map<std::string, counter_registry::counter*> received_by_output; ///< capped
    counter_registry::counter* other_output_counter = nullptr; ///< outputs past the cap
    std::string last_output; ///< a module usually sends on one output: no lookup for it
    counter_registry::counter* last_output_counter = nullptr;
    std::unordered_map<std::string,
                       std::pair<counter_registry::counter*, summary_registry::series*>>
        sent;
  };
  routed_series& routed();

  const hub_services& hub_;
  const char* protocol_;
  std::string id_;
  bool monitored_ = false;
  counter_registry::counter* received_ = nullptr; ///< edgehub_messages_received_total, no output
  summary_registry::series* size_ = nullptr;
  std::unique_ptr<routed_series> routed_;
};

} // namespace outpost::actors
