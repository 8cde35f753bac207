#pragma once

#include "actors/common/live_count.hpp"
#include "actors/common/snapshot.hpp"
#include "actors/common/writer_interface.hpp"
#include "actors/hub/c2d_interface.hpp"
#include "actors/hub/directory_interface.hpp"
#include "actors/hub/hub_routes.hpp"
#include "actors/hub/method_interface.hpp"
#include "actors/hub/monitor_feed.hpp"
#include "actors/hub/twin_interface.hpp"
#include "actors/workload/identity_registry.hpp"
#include "protocols/hub/hub_session.hpp"
#include "protocols/mqtt/session.hpp"

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

namespace outpost::transport {
class stream_connection;
}

namespace outpost::actors {

struct hub_metrics;

using data_atom = caf::atom_constant<caf::atom("data")>;
using closed_atom = caf::atom_constant<caf::atom("closed")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using frame_error_atom = caf::atom_constant<caf::atom("frame_err")>;
/// Sent to the sessions group when the route table changed: module sessions attach new inputs.
using routes_atom = caf::atom_constant<caf::atom("routes")>;

/// What every session shares: the hub's actors, snapshots and settings. Immutable.
class session_ticker;

struct hub_services {
  writer_actor writer;
  directory_actor directory;
  twin_registry_actor twins;        ///< twin GET, reported patches and desired pushes
  method_router_actor methods;      ///< direct method calls to this session's identity
  c2d_actor c2d;                    ///< the devices\' cloud-to-device queues
  caf::group sessions;              ///< every session joins; `closed_atom` sent to it ends them all
  std::shared_ptr<live_count> live; ///< counts sessions until their connection is released
  std::shared_ptr<monitor_feed> monitor; ///< `outpost monitor`: routed messages, when watched
  std::shared_ptr<identity_snapshot> identities;
  std::shared_ptr<routes_snapshot> routes;
  std::string hostname;     ///< this gateway's name (SAS audience)
  std::string hub_hostname; ///< iothub_hostname, or hostname when standalone
  std::string edge_device_id;
  std::shared_ptr<hub_metrics> metrics;
  mqtt::session_limits limits;
  std::size_t max_frame_bytes = 256 * 1024 + 4096; ///< 256 KiB messages plus headers
  /// Before CONNECT is accepted a connection may hold at most one frame of this size (a SAS
  /// CONNECT is ~600 bytes): an unauthenticated peer costs a few KiB, not 260.
  std::size_t pre_auth_frame_bytes = 8 * 1024;
  /// Bytes queued for a client above which its input is no longer read; a client whose queue
  /// stays above it without draining for `output_stall_ms` is disconnected.
  std::size_t max_output_bytes = 4u << 20;
  std::int64_t output_stall_ms = 30000;
  /// Distinct module output names per client with series of their own; the rest are counted
  /// under `route_output="other"` (labels a client can multiply are capped).
  std::size_t max_output_series = 16;
  std::function<std::int64_t()> now_ms;
  /// The session cores' settings, made from the fields above once they are set (`start_hub`):
  /// every session shares them. Null: each session makes its own (`core_settings`).
  std::shared_ptr<const hub::session_settings> core_settings;
  /// The sessions' one timer (`session_ticker`) and the actor it wakes; without them each
  /// session keeps a delayed message of its own.
  std::shared_ptr<session_ticker> ticker;
  caf::actor ticker_actor;
  /// The service policy (`iothubowner`) key, base64, for service callers on AMQP (azure-iothub's
  /// `Client.send`); set once the agent has it, empty until then (service tokens refused).
  std::shared_ptr<snapshot<std::string>> service_key;
};

/// Pauses or resumes reading `conn` when `hold` differs from `paused` (which it updates): the
/// socket stops at once under backpressure and resumes once, not on every pass.
void hold_reading(transport::stream_connection& conn, bool& paused, bool hold);

/// The settings of one identity's session core (`hub::hub_session`), whatever its protocol:
/// `hub.core_settings` when the hub has built them once, else a copy of its own.
std::shared_ptr<const hub::session_settings> core_settings(const hub_services& hub);

/// The frame size limit a connection's I/O side enforces: `pre_auth_frame_bytes` until the
/// session accepts CONNECT, then `max_frame_bytes`. Shared by the session and its forwarder.
using frame_limit = std::atomic<std::size_t>;

/// Spawns the actor of one MQTT connection: glue between the MQTT state machine
/// (`mqtt::session`) and the hub's protocol-independent session core (`hub::hub_session`). The
/// transport side sends it:
/// - `(data_atom, std::string)`: whole MQTT frames, in order (split on the I/O thread);
/// - `(frame_error_atom, std::error_code)`: the byte stream broke the framing rules;
/// - `(closed_atom)`: the socket is gone.
/// The session authenticates, routes publishes into the mailboxes (PUBACK only once every
/// target has the message durably), delivers module inputs from the mailboxes with a window of
/// QoS 1 messages in flight, and stops reading the socket while too many publishes await
/// durability (backpressure). It quits when the connection ends.
/// The session also ends when its identity is disabled, removed or re-keyed (`identities_atom`
/// on the sessions group: it authenticates its CONNECT again) or its SAS token expires.
caf::actor spawn_mqtt_session(caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
                              std::shared_ptr<transport::stream_connection> conn,
                              std::shared_ptr<frame_limit> limit);

} // namespace outpost::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::error_code)
