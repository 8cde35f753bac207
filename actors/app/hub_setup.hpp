#pragma once

#include "actors/common/counter_registry.hpp"
#include "actors/common/summary_registry.hpp"
#include "actors/common/writer_interface.hpp"
#include "actors/hub/c2d_interface.hpp"
#include "actors/hub/edgehub_desired.hpp"
#include "actors/hub/hub_routes.hpp"
#include "actors/hub/method_interface.hpp"
#include "actors/hub/monitor_feed.hpp"
#include "actors/hub/twin_interface.hpp"
#include "actors/hub/upstream_link.hpp"
#include "actors/workload/identity_registry.hpp"
#include "protocols/transport/certificates.hpp"
#include "protocols/transport/websocket_options.hpp"
#include "supervisor/config/config.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace prometheus {
class Registry;
}
namespace outpost::transport {
class io_runner;
}

namespace outpost::app {

/// The running edge hub: its listeners, routes and actors. `stop()` closes the listeners and
/// tells every hub actor to exit, so the actor system can shut down.
class hub_runtime {
public:
  struct parts;
  explicit hub_runtime(std::unique_ptr<parts> p);
  ~hub_runtime();
  void stop();
  /// The server certificate and CA in use (generated on first start when not configured).
  const transport::tls_files& tls() const;
  /// The `$edgeHub` reported status: whether the manifest's routes applied.
  std::shared_ptr<actors::edgehub_status_snapshot> status() const;
  /// Where the upstream link hands a deployment from the parent, and what it reports back.
  void set_upstream_hooks(actors::upstream_hooks hooks);
  /// The upstream link's state ("none" when standalone) for `outpost check` and `list`.
  std::shared_ptr<actors::upstream_status_snapshot> upstream() const;
  /// The routes in force, bound to their mailboxes (the status page lists them).
  std::shared_ptr<actors::routes_snapshot> routes() const;
  /// What `outpost monitor` polls (admin API `GET /monitor`).
  std::shared_ptr<actors::monitor_feed> monitor() const;
  /// The owner of every twin (admin API `/twins`).
  actors::twin_registry_actor twins() const;
  /// Direct method calls (admin API `/twins/{id}/methods`).
  actors::method_router_actor methods() const;
  /// The devices' cloud-to-device queues (admin API `/devices/{id}/messages/deviceBound`).
  actors::c2d_actor c2d() const;
  /// The sessions the HTTPS listener runs over WebSockets (`GET /$iothub/websocket`): MQTT.
  transport::websocket_options websockets() const;
  /// Applies a later read of the deployment's `$edgeHub` section (blocks on the storage
  /// writer; for the deployment source). Holds no reference to this object.
  std::function<bool(const actors::edgehub_deployment&)> deployment_sink() const;

private:
  std::unique_ptr<parts> parts_;
};

struct hub_deps {
  caf::actor_system& sys;
  transport::io_runner& io;
  actors::writer_actor writer; ///< the store's owner: messages and persistent MQTT sessions
  std::shared_ptr<actors::identity_snapshot> identities;
  /// The engine, for the twin registry's reads (writes go through `writer`).
  std::shared_ptr<storage::kv_store> kv;
  /// Every session joins it: the identity registry tells it about changes, the hub's stop
  /// ends them all.
  caf::group sessions;
  prometheus::Registry& registry;
  actors::summary_registry& summaries; ///< the hub's summaries (message sizes, durations)
  actors::counter_registry& counters;  ///< the hub's counters with a series per identity
  /// Listen keys and bound addresses, for ports.json.
  std::vector<std::pair<std::string, std::string>>& ports;
  /// The `$edgeHub` section of the deployment read at start-up; null without a manifest.
  const actors::edgehub_deployment* deployment = nullptr;
  /// The service policy's key (AMQP service callers); filled in once the agent has it.
  std::shared_ptr<actors::snapshot<std::string>> service_key;
  /// The identity registry: a child edge's scope sync writes its parent's devices there.
  actors::registry_actor id_registry;
};

/// Builds the hub from the configuration: TLS files (or the quickstart edge CA), the routes of
/// the deployment read at start-up bound to persistent mailboxes, the session directory and the
/// MQTT listeners. On failure `why` says what and which key.
std::unique_ptr<hub_runtime> start_hub(const daemon_config& cfg, hub_deps deps, std::string& why);

} // namespace outpost::app
