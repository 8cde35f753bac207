#pragma once

#include "supervisor/config/config.hpp"

#include <cstddef>
#include <string>

namespace outpost::cli {

/// `outpost list`: a table like `iotedge list` (NAME STATUS DESCRIPTION CONFIG), edgeAgent and
/// edgeHub first (they run inside outpostd).
int run_list(const app::daemon_config& cfg);

/// `outpost logs MODULE [--tail N] [--since T] [--follow]`.
int run_logs(const app::daemon_config& cfg, const std::string& module, std::size_t tail,
             const std::string& since, bool follow);

/// `outpost restart MODULE`: restarts it regardless of its restart policy.
int run_restart(const app::daemon_config& cfg, const std::string& module);

/// `outpost monitor [--module M] [--timeout S] [--count N]`: prints the messages the hub
/// routes as they are routed (endpoints, source, properties, body), like
/// `az iot hub monitor-events`. Stops after `timeout_s` seconds or `count` events (0: never).
int run_monitor(const app::daemon_config& cfg, const std::string& module, unsigned timeout_s,
                std::size_t count);

/// `outpost check`: configuration, certificates, ports, disk, store, deployment and routes:
/// one line each with ✓ or ✗ and a hint; exit 1 if any failed.
int run_check(const app::daemon_config& cfg, const std::string& config_path);

} // namespace outpost::cli
