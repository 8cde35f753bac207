#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace outpost::supervisor {
class process_host;
}

namespace outpost::actors {

struct module_actor_config {
  std::string name;
  std::string digest; ///< the executable must have it, checked before every start
  std::shared_ptr<supervisor::process_host> host;
  caf::actor agent; ///< hears `module_exit` for every exit
  std::function<std::int64_t()> now_ms;
};

/// Spawns the actor of one module's lifecycle. Protocol:
/// - `(start_atom, spawn_spec)` -> `start_reply`: verifies the executable (digest, not
///   writable by everyone), then starts it; the error says why not.
/// - `(stop_atom, std::chrono::milliseconds grace)` -> `int` exit code (-1: was not running):
///   SIGTERM to the module's process group, SIGKILL after `grace`, answered once it exited.
/// - exits (its own or stops) go to the agent as `module_exit`.
caf::actor spawn_module_actor(caf::actor_system& sys, module_actor_config cfg);

} // namespace outpost::actors
