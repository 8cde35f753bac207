#pragma once

#include "actors/common/snapshot.hpp"

#include <cstdint>
#include <map>
#include <string>

#include <sys/types.h>

namespace outpost::actors {

/// One module as the admin and workload APIs see it.
struct module_view {
  std::string name;
  std::string type;           ///< "process" | "docker"
  std::string desired_status; ///< "running" | "stopped"
  std::string runtime_status; ///< IoT Edge's runtimeStatus
  std::string description;    ///< statusDescription
  std::string version;
  std::string config; ///< the executable (process) or image (docker)
  pid_t pid = 0;      ///< while running
  /// The uid a process module runs as (-1: outpostd's own); the workload API's caller check.
  std::int64_t uid = -1;
  /// No other module runs as `uid`: the uid alone identifies the caller. Otherwise (outpostd
  /// not root, or a shared `settings.user`) the caller must also be in the module's session.
  bool uid_exclusive = false;
  std::string generation_id; ///< of its identity (workload URLs)
  std::string log_path;
  std::int64_t last_start_ms = 0;
  std::int64_t last_exit_ms = 0;
  int exit_code = 0;
  std::uint32_t restart_count = 0;
};

/// What the agent publishes after every change, for readers on other threads.
struct agent_view_data {
  std::string reported_json; ///< the `$edgeAgent` reported properties
  int code = 406;            ///< lastDesiredStatus.code
  std::string description;   ///< lastDesiredStatus.description
  std::string manifest;
  std::map<std::string, module_view> modules;
  /// How process modules are confined: `confined` when each runs under its own uid (outpostd
  /// is root); `confinement` says what applies and what does not (for `outpost check`).
  bool confined = false;
  std::string confinement;
};
using agent_view = snapshot<agent_view_data>;

} // namespace outpost::actors
