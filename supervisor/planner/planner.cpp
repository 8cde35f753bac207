#include "supervisor/planner/planner.hpp"

#include <algorithm>

namespace outpost::supervisor {

const char* to_string(command_kind k) noexcept {
  switch (k) {
    case command_kind::stop:
      return "stop";
    case command_kind::remove:
      return "remove";
    case command_kind::create:
      return "create";
    case command_kind::start:
      return "start";
    case command_kind::restart:
      return "restart";
    case command_kind::clear_stats:
      return "clear_stats";
  }
  return "unknown";
}

namespace {

/// The phases of one startupOrder group, in the order IoT Edge concatenates them.
enum phase : int { removed_stop, removed_remove, added, updated, state_changed, healthy, count };

struct group_plan {
  std::vector<command> phases[phase::count];
};

using state = module_runtime::state;

/// What a module whose config is unchanged needs, given its desired status and runtime.
void plan_unchanged(const module_spec& want, const current_module& have, std::int64_t now_ms,
                    const restart_settings& s, std::vector<command>& out) {
  const auto& rt = have.runtime;
  const std::uint32_t g = want.startup_order;
  if (want.status == desired_status::stopped) {
    if (rt.process == state::running) {
      out.push_back({command_kind::stop, want.name, g});
    }
    return;
  }
  if (rt.process == state::created) {
    out.push_back({command_kind::start, want.name, g}); // never started: once, whatever policy
    return;
  }
  if (rt.process == state::exited && have.spec.status == desired_status::stopped) {
    out.push_back({command_kind::start, want.name, g}); // desired status changed to running
    return;
  }
  if (reported_status(want, rt, s) == runtime_status::backoff
      && now_ms >= restart_due_ms(rt, now_ms, s)) {
    out.push_back({command_kind::restart, want.name, g});
    return;
  }
  if (restart_stats_expired(rt, now_ms, s)) {
    out.push_back({command_kind::clear_stats, want.name, g});
  }
}

} // namespace

std::vector<command> plan(const std::map<std::string, module_spec>& desired,
                          const std::map<std::string, current_module>& current, std::int64_t now_ms,
                          const restart_settings& s) {
  std::map<std::uint32_t, group_plan> groups;
  for (const auto& [name, have] : current) {
    if (desired.count(name)) {
      continue;
    }
    auto& g = groups[0]; // unknown to the deployment: removed first
    if (have.runtime.process == state::running) {
      g.phases[removed_stop].push_back({command_kind::stop, name, 0});
    }
    g.phases[removed_remove].push_back({command_kind::remove, name, 0});
  }
  for (const auto& [name, want] : desired) {
    const std::uint32_t order = want.startup_order;
    auto& g = groups[order];
    auto have = current.find(name);
    const bool run = want.status == desired_status::running;
    if (have == current.end()) {
      g.phases[added].push_back({command_kind::create, name, order});
      if (run) {
        g.phases[added].push_back({command_kind::start, name, order});
      }
      continue;
    }
    if (!want.same_config(have->second.spec)) {
      auto& p = g.phases[updated];
      if (have->second.runtime.process == state::running) {
        p.push_back({command_kind::stop, name, order});
      }
      p.push_back({command_kind::remove, name, order});
      p.push_back({command_kind::create, name, order});
      if (run) {
        p.push_back({command_kind::start, name, order});
      }
      continue;
    }
    std::vector<command> cmds;
    plan_unchanged(want, have->second, now_ms, s, cmds);
    auto& p = g.phases[!cmds.empty() && cmds[0].kind == command_kind::clear_stats ? healthy
                                                                                  : state_changed];
    p.insert(p.end(), cmds.begin(), cmds.end());
  }
  std::vector<command> out;
  for (auto& [order, g] : groups) {
    for (auto& p : g.phases) {
      out.insert(out.end(), p.begin(), p.end());
    }
  }
  return out;
}

std::int64_t next_wakeup_ms(const std::map<std::string, module_spec>& desired,
                            const std::map<std::string, current_module>& current,
                            std::int64_t now_ms, const restart_settings& s) {
  std::int64_t next = -1;
  const auto consider = [&](std::int64_t t) {
    next = next < 0 ? t : std::min(next, t);
  };
  for (const auto& [name, want] : desired) {
    auto have = current.find(name);
    if (have == current.end() || !want.same_config(have->second.spec)) {
      continue;
    }
    const auto& rt = have->second.runtime;
    if (reported_status(want, rt, s) == runtime_status::backoff) {
      consider(restart_due_ms(rt, now_ms, s));
    } else if (rt.process == state::running && rt.restart_count > 0) {
      consider(rt.last_start_ms + s.intensive_care_ms + 1);
    }
  }
  return next;
}

} // namespace outpost::supervisor
