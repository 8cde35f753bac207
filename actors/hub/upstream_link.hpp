#pragma once

#include "actors/common/snapshot.hpp"
#include "actors/hub/mqtt_session.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace outpost::transport {
class tls_client_context;
}

namespace outpost::actors {

/// The upstream link as `outpost check`, `outpost list` and `/healthz` show it.
struct upstream_status {
  std::string state = "none"; ///< "none" (standalone), "connected", "trying", "disconnected"
  std::string last_error;
  std::string parent;    ///< "host:port" of the parent's AMQP listener
  std::string device_id; ///< the edge device the link authenticates as
};
using upstream_status_snapshot = snapshot<upstream_status>;

/// What the upstream link reaches in the rest of the daemon, which starts after the hub: set
/// once it runs (`hub_runtime::set_upstream_hooks`).
struct upstream_hooks {
  /// Takes `(apply_deployment_atom, manifest)`: a deployment the parent set for this edge.
  caf::actor deployment_source;
  /// This edge's `$edgeAgent` reported properties (JSON), reported to the parent.
  std::function<std::string()> agent_reported;
};
using upstream_hooks_snapshot = snapshot<upstream_hooks>;

/// Where and how the upstream link connects (`[upstream]` in the configuration).
struct upstream_link_config {
  std::string host; ///< the parent's AMQP listener
  unsigned short port = 5671;
  std::string hub_hostname; ///< the connection string's HostName: token audience, TLS name
  std::string device_id;    ///< this edge device (the connection string's DeviceId)
  std::string key;          ///< its SharedAccessKey (base64): signs every identity's token
  std::shared_ptr<const transport::tls_client_context> tls;
  /// `protocol = "amqpws"`: AMQP over a WebSocket (`GET /$iothub/websocket`, sub-protocol
  /// `AMQPWSB10`) to the parent's HTTPS listener, for sites whose firewall opens 443 only.
  bool websocket = false;
  std::int64_t token_ttl_s = 3600; ///< tokens renewed at half-life (facts §7.1)
  std::int64_t max_backoff_ms = 60000;
  std::int64_t connect_timeout_ms = 10000;
  /// The link's connectivity for `outpost check`/`list` and the status page: "connected",
  /// "trying" or "disconnected" (facts §7.2), and the last error; called on every change.
  std::function<void(const std::string& state, const std::string& last_error)> on_state;
  std::shared_ptr<upstream_hooks_snapshot> hooks;
};

/// Spawns the upstream link (design card: one AMQP connection to the parent): it drains the
/// `$upstream` mailboxes of the current routes, highest priority first while a backlog exists,
/// over `amqp::upstream_connection`, each message on the link of the identity that sent it
/// (its `connectionDeviceId`/`connectionModuleId`), with a token signed by this edge's key on
/// behalf of that identity (`com.microsoft:auth-chain` from the identity's device up to this
/// edge through the local registry's parents). An entry is acknowledged to its mailbox only
/// once the parent settled it accepted (rejected: dropped and counted, as IoT Edge does with an
/// invalid message); anything else comes again. The mailboxes are subscribed only while the
/// link is up, so a backlog waits in the store, and `unsub` on a disconnect redelivers what
/// was in flight. Reconnects with jittered exponential back-off capped at `max_backoff_ms`.
/// Joins `hub.sessions`: `routes_atom` re-reads the routes, `closed_atom` stops it.
caf::actor spawn_upstream_link(caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
                               upstream_link_config cfg);

} // namespace outpost::actors
