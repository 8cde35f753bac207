#pragma once

#include "supervisor/config/config.hpp"

namespace outpost::app {

/// Exit codes of `outpostd`.
enum exit_code : int {
  exit_ok = 0,
  exit_failure = 1, ///< the store cannot open, a listener cannot bind, ...
  exit_config = 2,  ///< the configuration is invalid
};

/// Runs the daemon until SIGTERM or SIGINT: opens the store, spawns the actors, serves the
/// HTTP surface, writes `<storage.dir>/run/ports.json`, then shuts everything down.
/// SIGTERM and SIGINT must be blocked in every thread before this is called.
int run_daemon(const daemon_config& cfg);

} // namespace outpost::app
