#pragma once

#include "supervisor/model/module_spec.hpp"

#include <cstdint>

namespace outpost::supervisor {

/// `runtimeStatus` as IoT Edge reports it (facts §2.4).
enum class runtime_status { unknown, backoff, running, unhealthy, stopped, failed, dead };
const char* to_string(runtime_status s) noexcept;

/// The agent's restart knobs with IoT Edge's defaults (facts §2.3).
struct restart_settings {
  std::uint32_t max_restarts = 20;          ///< MaxRestartCount: then `failed`, no more tries
  std::int64_t cool_off_unit_ms = 10'000;   ///< CoolOffTimeUnitInSeconds
  std::int64_t max_cool_off_ms = 300'000;   ///< the back-off never waits longer
  std::int64_t intensive_care_ms = 600'000; ///< up this long: restart counters cleared
};

/// What the supervisor observed of a module's process, before any policy is applied.
struct module_runtime {
  enum class state { created, running, exited };
  state process = state::created; ///< created = never started (or recreated)
  int exit_code = 0;              ///< of the last exit; 128 + n when killed by signal n
  std::int64_t last_start_ms = 0;
  std::int64_t last_exit_ms = 0;
  std::int64_t last_restart_ms = 0;
  std::uint32_t restart_count = 0;
};

/// The status to report (facts §2.3): running; an exit with code 0 is `stopped`, any other
/// `failed`; then, if the module should run and the policy restarts it (always: any exit;
/// on-failure and on-unhealthy: a failure), `backoff` until `max_restarts` restarts were
/// spent, `failed` after.
runtime_status reported_status(const module_spec& spec, const module_runtime& rt,
                               const restart_settings& s);

/// `min(cool_off_unit * 2^restart_count, max_cool_off)`: 10 s, 20 s, 40 s ... 300 s.
std::int64_t cool_off_ms(std::uint32_t restart_count, const restart_settings& s);

/// When a module in `backoff` may be started again: its last exit plus the cool-off. A clock
/// that went backwards (now before the exit) restarts at once, as IoT Edge does.
std::int64_t restart_due_ms(const module_runtime& rt, std::int64_t now_ms,
                            const restart_settings& s);

/// A module running for longer than the intensive-care time has its counters cleared.
bool restart_stats_expired(const module_runtime& rt, std::int64_t now_ms,
                           const restart_settings& s);

} // namespace outpost::supervisor
