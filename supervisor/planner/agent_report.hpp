#pragma once

#include "supervisor/model/deployment.hpp"
#include "supervisor/planner/planner.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace outpost::supervisor {

/// What the agent knows of one module beyond its spec and runtime.
struct module_report {
  current_module module;
  std::string status_description; ///< why it is not running, when it is not
};

/// Everything the `$edgeAgent` reported properties are made of.
struct agent_report_input {
  std::string version; ///< outpostd's version
  std::string commit;
  std::optional<deployment> desired; ///< the deployment in force
  deployment_status status;          ///< lastDesiredStatus
  std::int64_t desired_version = 0;  ///< lastDesiredVersion
  std::map<std::string, module_report> modules;
  restart_settings restart;
  bool agent_running = true; ///< false: the shutdown report (406, every module unknown)
};

/// The `$edgeAgent` reported properties document in the shape of IoT Edge's (facts §2.4):
/// schemaVersion, version, lastDesiredVersion, lastDesiredStatus {code, description},
/// runtime, systemModules {edgeAgent, edgeHub} and modules with runtimeStatus, exitCode,
/// statusDescription, lastStartTimeUtc, lastExitTimeUtc, restartCount, lastRestartTimeUtc.
/// Times are ISO 8601 UTC without offset ("0001-01-01T00:00:00" when never).
std::string agent_reported_json(const agent_report_input& in);

/// "2026-11-26T17:41:49.1230000" for `ms` since the epoch; "0001-01-01T00:00:00" for 0.
std::string iotedge_time(std::int64_t ms);

} // namespace outpost::supervisor
