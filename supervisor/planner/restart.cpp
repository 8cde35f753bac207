#include "supervisor/planner/restart.hpp"

#include <algorithm>

namespace outpost::supervisor {

const char* to_string(runtime_status s) noexcept {
  switch (s) {
    case runtime_status::unknown:
      return "unknown";
    case runtime_status::backoff:
      return "backoff";
    case runtime_status::running:
      return "running";
    case runtime_status::unhealthy:
      return "unhealthy";
    case runtime_status::stopped:
      return "stopped";
    case runtime_status::failed:
      return "failed";
    case runtime_status::dead:
      return "dead";
  }
  return "unknown";
}

runtime_status reported_status(const module_spec& spec, const module_runtime& rt,
                               const restart_settings& s) {
  using state = module_runtime::state;
  if (rt.process == state::running) {
    return runtime_status::running;
  }
  if (rt.process == state::created) {
    return runtime_status::stopped;
  }
  const auto exited = rt.exit_code == 0 ? runtime_status::stopped : runtime_status::failed;
  if (spec.status != desired_status::running || spec.restart == restart_policy::never) {
    return exited;
  }
  // on-unhealthy restarts failed modules too: there is no health probe (facts §2.3).
  const bool restarts = spec.restart == restart_policy::always || exited == runtime_status::failed;
  if (!restarts) {
    return exited;
  }
  return rt.restart_count >= s.max_restarts ? runtime_status::failed : runtime_status::backoff;
}

std::int64_t cool_off_ms(std::uint32_t restart_count, const restart_settings& s) {
  std::int64_t wait = s.cool_off_unit_ms;
  for (std::uint32_t i = 0; i < restart_count && wait < s.max_cool_off_ms; ++i) {
    wait *= 2;
  }
  return std::min(wait, s.max_cool_off_ms);
}

std::int64_t restart_due_ms(const module_runtime& rt, std::int64_t now_ms,
                            const restart_settings& s) {
  if (now_ms < rt.last_exit_ms) {
    return now_ms; // the clock went backwards: do not wait for it
  }
  return rt.last_exit_ms + cool_off_ms(rt.restart_count, s);
}

bool restart_stats_expired(const module_runtime& rt, std::int64_t now_ms,
                           const restart_settings& s) {
  return rt.process == module_runtime::state::running && rt.restart_count > 0
         && now_ms - rt.last_start_ms > s.intensive_care_ms;
}

} // namespace outpost::supervisor
