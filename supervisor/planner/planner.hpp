#pragma once

#include "supervisor/model/deployment.hpp"
#include "supervisor/planner/restart.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace outpost::supervisor {

/// A module as the agent has it now: the spec it was created from and what its process did.
struct current_module {
  module_spec spec;
  module_runtime runtime;
};

enum class command_kind {
  stop,        ///< SIGTERM, then SIGKILL after the grace period
  remove,      ///< forget the module (its identity, state and logs)
  create,      ///< verify the artifact, prepare identity and environment (not started)
  start,       ///< start a created or stopped module
  restart,     ///< start a module in back-off again; counts one restart
  clear_stats, ///< healthy for the intensive-care time: restart counters back to 0
};
const char* to_string(command_kind k) noexcept;

struct command {
  command_kind kind;
  std::string module;
  std::uint32_t group = 0; ///< the startupOrder it belongs to; groups run in ascending order
  friend bool operator==(const command& a, const command& b) {
    return a.kind == b.kind && a.module == b.module && a.group == b.group;
  }
};

/// Diffs the desired modules against the current ones, IoT Edge's HealthRestartPlanner
/// (facts §2.2): commands grouped by startupOrder ascending (modules only in `current` are in
/// group 0, so removals go first); within a group: stop and remove the removed modules, create
/// (+ start) the added ones, stop + remove + create (+ start) the updated ones (any change but
/// the desired status), start/stop on a status-only change, start never-started modules,
/// restart modules in back-off whose cool-off is over, stop running modules that should be
/// stopped, clear the counters of modules healthy for the intensive-care time. Modules in a
/// group are in name order. An empty plan means nothing to do.
std::vector<command> plan(const std::map<std::string, module_spec>& desired,
                          const std::map<std::string, current_module>& current, std::int64_t now_ms,
                          const restart_settings& settings);

/// The earliest time a module in `current` needs the planner again (a back-off cool-off ending
/// or counters to clear), or -1 when nothing is pending.
std::int64_t next_wakeup_ms(const std::map<std::string, module_spec>& desired,
                            const std::map<std::string, current_module>& current,
                            std::int64_t now_ms, const restart_settings& settings);

} // namespace outpost::supervisor
