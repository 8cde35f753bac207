#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace outpost::supervisor {
class docker_engine;
}

namespace outpost::actors {

struct docker_module_config {
  std::string name; ///< also the container's name
  std::string image;
  std::string create_options;
  std::string digest;             ///< "sha256:..." the image's id must be; "" = any
  bool pull = true;               ///< imagePullPolicy on-create: pull a missing image
  std::vector<std::string> binds; ///< the workload socket's folder, at the same path
  std::shared_ptr<supervisor::docker_engine> engine;
  caf::actor agent;
  std::function<std::int64_t()> now_ms;
};

/// Spawns the detached actor of one `docker` module (the Docker Engine API blocks), with the
/// module actor's protocol: `(start_atom, spawn_spec)` -> `start_reply` (image present or
/// pulled, its id checked against the digest, container created with the deployment's
/// createOptions plus the agent's env, labels and workload socket, then started);
/// `(stop_atom, grace)` -> exit code; `(remove_atom)` -> `bool` (container removed). Exits
/// (watched by polling the engine) go to the agent as `module_exit`; the container's logs are
/// copied to the module's log file so `outpost logs` reads them like a process module's.
caf::actor spawn_docker_module_actor(caf::actor_system& sys, docker_module_config cfg);

} // namespace outpost::actors
