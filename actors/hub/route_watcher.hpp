#pragma once

#include "actors/common/snapshot.hpp"
#include "actors/hub/hub_routes.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace outpost::actors {

/// What the hub reports about its desired properties, like IoT Edge's `$edgeHub` reported
/// properties: `lastDesiredStatus {code, description}` and `lastDesiredVersion`.
struct edgehub_status {
  int code = 200;          ///< 200 applied, 400 rejected (routes/JSON), 500 storage failure
  std::string description; ///< why, for anything but 200
  std::int64_t desired_version = 0; ///< `$version` of the desired properties, else a count
  std::string schema_version;       ///< of the desired properties last applied
  std::size_t routes = 0;           ///< routes in force
  std::string manifest;             ///< the file they come from
};
using edgehub_status_snapshot = snapshot<edgehub_status>;

/// `{"schemaVersion", "lastDesiredStatus": {"code", "description"}, "lastDesiredVersion",
/// "routes", "manifest"}`.
std::string edgehub_reported_json(const edgehub_status& s);

struct route_watcher_config {
  caf::actor writer;
  std::string manifest_path; ///< `[agent] manifest`; empty: no routes, nothing to watch
  std::string edge_device_id;
  std::uint32_t delivery_window = 64;
  std::shared_ptr<routes_snapshot> routes;         ///< swapped whole when new routes apply
  std::shared_ptr<edgehub_status_snapshot> status; ///< set after every attempt
  caf::group sessions;                             ///< told `routes_atom` after a swap
  std::chrono::milliseconds interval{1000};        ///< how often the file is looked at
};

/// Applies the `$edgeHub` routes of manifest text `text` (nullopt: the file cannot be read):
/// compiles them; on success opens their queues (reusing the mailboxes of the routes in force,
/// so nothing in flight is lost or sent twice), swaps the routes snapshot and tells the
/// sessions; on failure records status 400 with the message and keeps the previous routes.
/// Blocks on the storage writer: call it at start-up or from a detached actor only. Returns
/// false when the queues could not be opened (status 500).
bool apply_manifest(caf::actor_system& sys, const route_watcher_config& cfg,
                    const std::optional<std::string>& text);

/// Reads the manifest file; nullopt when it cannot be read.
std::optional<std::string> read_manifest(const std::string& path);

/// Spawns the detached actor that looks at the manifest file every `interval` and applies it
/// when its content differs from `applied` (live reconfiguration, no restart).
caf::actor spawn_route_watcher(caf::actor_system& sys, route_watcher_config cfg,
                               std::optional<std::string> applied);

} // namespace outpost::actors
