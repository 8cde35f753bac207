#pragma once

#include "actors/agent/agent_messages.hpp"
#include "actors/common/messages.hpp"
#include "actors/common/snapshot.hpp"
#include "actors/hub/edgehub_desired.hpp"

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace outpost::app {

/// One read of the deployment, validated once and split for its two consumers.
struct deployment_read {
  std::uint64_t number = 0;        ///< counts the reads that found a change (1: start-up)
  std::optional<std::string> text; ///< the manifest; nullopt: it cannot be read
  actors::agent_deployment agent;  ///< `$edgeAgent`, for the agent
  actors::edgehub_deployment hub;  ///< `$edgeHub` (routes, store and forward), for the hub
};

/// Validates deployment text once and splits it (no I/O): what the manifest file, and next
/// the service API or the upstream twin, hand in. `text` nullopt: the source cannot be read.
deployment_read read_deployment_text(std::optional<std::string> text, std::uint64_t number);

/// Reads the manifest file `path` once and validates both sections. Blocks (a file read): at
/// start-up or in the deployment source only.
deployment_read read_deployment(const std::string& path, std::uint64_t number);

/// Where the deployment in force came from (`outpost check`, admin API `GET /deployment`).
struct deployment_origin {
  std::string source;       ///< "file", "service API" or "none"
  std::string path;         ///< the manifest file, or where the service API's copy is kept
  std::uint64_t number = 0; ///< the read or apply that made it the one in force
  std::int64_t at_ms = 0;   ///< when (ms since the epoch)
  std::string text;         ///< the manifest in force ("" when none or unreadable)
};
using deployment_origin_snapshot = actors::snapshot<deployment_origin>;

/// The service API's deployment (applyConfigurationContent): its text when it was the newest
/// source, else nullopt. It is kept at `applied_path` (written atomically and synced before
/// it is applied), so a restart finds it.
std::optional<std::string> read_applied_deployment(const std::string& applied_path);

/// The start-up read: of the manifest file and the service API's copy, the newer (by the
/// file's modification time) is in force; nullopt when there is neither. `origin` says which.
std::optional<deployment_read> read_initial_deployment(const std::string& manifest_path,
                                                       const std::string& applied_path,
                                                       deployment_origin& origin);

struct deployment_source_config {
  std::string manifest_path;                ///< `[agent] manifest`; "" = none
  std::string applied_path;                 ///< the service API's copy (see above)
  std::chrono::milliseconds interval{1000}; ///< how often the file is looked at
  caf::actor agent;                         ///< gets `(deployment_atom, agent_deployment)`
  /// Applies `$edgeHub` to the hub (blocks on the storage writer); false: a storage failure,
  /// tried again at the next look.
  std::function<bool(const actors::edgehub_deployment&)> hub;
  std::shared_ptr<deployment_origin_snapshot> origin; ///< published at every change
  std::function<std::int64_t()> now_ms;
};

/// `(apply_deployment_atom, std::string manifest)` -> `std::string`: the service API's
/// applyConfigurationContent. "" when it is in force (durable, handed to the agent and the
/// hub), else why it was refused (a manifest the agent or the hub rejects, or a storage
/// failure), and nothing changed.
using actors::apply_deployment_atom;

/// Spawns the one reader of the deployment (detached: it reads a file and waits for the hub's
/// queues to open). `first` is the start-up read, already applied by the hub and the agent,
/// and `first_origin` where it came from. Every `interval` it reads the manifest once; when
/// the text changed it validates it once and hands `$edgeAgent` to the agent and `$edgeHub`
/// to the hub, logging `[deployment] read N of PATH: ...`. The service API hands in
/// deployments with `apply_deployment_atom`; the newest of the two sources wins: a service
/// deployment stays in force until the file changes, and the reverse. Nothing else reads the
/// file.
caf::actor spawn_deployment_source(caf::actor_system& sys, deployment_source_config cfg,
                                   const std::optional<deployment_read>& first,
                                   const deployment_origin& first_origin);

} // namespace outpost::app
