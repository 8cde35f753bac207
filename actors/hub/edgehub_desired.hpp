#pragma once

#include "actors/common/mailbox.hpp"
#include "actors/common/snapshot.hpp"
#include "actors/hub/hub_routes.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/group.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
  /// Routes in force that name an `Endpoint("...")`: an Outpost extension, which IoT Edge
  /// would refuse (`outpost check` warns).
  std::vector<std::string> extension_routes;
};
using edgehub_status_snapshot = snapshot<edgehub_status>;

/// `{"schemaVersion", "lastDesiredStatus": {"code", "description"}, "lastDesiredVersion",
/// "routes", "manifest"}`, and `"extensionRoutes": [names]` when some route is an extension.
std::string edgehub_reported_json(const edgehub_status& s);

/// The `$edgeHub` desired properties of one read of the deployment, validated by the
/// deployment source (actors/app/deployment_source): the hub only applies them.
struct edgehub_deployment {
  bool readable = false; ///< false: the manifest could not be read
  /// The compiled routes; null when `error` says why they are rejected (or nothing was read).
  std::shared_ptr<const routing::route_table> routes;
  std::string error;                           ///< the route or JSON error, with its position
  std::optional<std::int64_t> desired_version; ///< `$version`, when present
  std::string schema_version;
};

/// Validates the `$edgeHub` section of manifest text `text` (nullopt: the file cannot be read):
/// compiles the routes and reads the versions. Pure; called once per read by the source.
edgehub_deployment edgehub_deployment_of(const std::optional<std::string>& text);

/// Where the hub's routes and status live; what applying a deployment needs.
struct edgehub_config {
  std::string manifest_path; ///< `[agent] manifest`, for the status and the log
  std::string edge_device_id;
  /// How the route mailboxes are made (the writer, window, clock, checkpoint interval and
  /// live count); each gets its own queue.
  mailbox_config mailboxes;
  std::shared_ptr<routes_snapshot> routes;         ///< swapped whole when new routes apply
  std::shared_ptr<edgehub_status_snapshot> status; ///< set after every attempt
  caf::group sessions;                             ///< told `routes_atom` after a swap
  /// The `[endpoints.<name>]` of the configuration: a route to another `Endpoint("...")` is a
  /// 400 (its messages would wait for an endpoint that does not exist).
  std::vector<std::string> endpoint_names;
};

/// Applies `d`: on valid routes opens their queues (reusing the mailboxes of the routes in
/// force, so nothing in flight is lost or sent twice), swaps the routes snapshot and tells the
/// sessions; otherwise records status 400 with the reason and keeps the previous routes.
/// Blocks on the storage writer: call it at start-up or from a detached actor only. Returns
/// false when the queues could not be opened (status 500; the caller retries).
bool apply_edgehub(caf::actor_system& sys, const edgehub_config& cfg, const edgehub_deployment& d);

} // namespace outpost::actors
