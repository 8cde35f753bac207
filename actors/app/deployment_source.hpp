#pragma once

#include "actors/agent/agent_messages.hpp"
#include "actors/hub/edgehub_desired.hpp"

#include <caf/actor.hpp>
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

struct deployment_source_config {
  std::string manifest_path;                ///< `[agent] manifest`
  std::chrono::milliseconds interval{1000}; ///< how often the file is looked at
  caf::actor agent;                         ///< gets `(deployment_atom, agent_deployment)`
  /// Applies `$edgeHub` to the hub (blocks on the storage writer); false: a storage failure,
  /// tried again at the next look.
  std::function<bool(const actors::edgehub_deployment&)> hub;
};

/// Spawns the one reader of the deployment (detached: it reads a file and waits for the hub's
/// queues to open). `first` is the start-up read, already applied by the hub and the agent.
/// Every `interval` it reads the manifest once; when the text changed it validates it once and
/// hands `$edgeAgent` to the agent and `$edgeHub` to the hub, logging
/// `[deployment] read N of PATH: ...`. Nothing else reads the file. (The service API's and
/// the upstream twin's desired properties are the next sources of the same two hand-offs.)
caf::actor spawn_deployment_source(caf::actor_system& sys, deployment_source_config cfg,
                                   const deployment_read& first);

} // namespace outpost::app
