// The planner: desired vs. current modules -> commands grouped by startupOrder
// (IoT Edge's HealthRestartPlanner, iotedge-facts §2.2).
#include "supervisor/planner/planner.hpp"

#include <gtest/gtest.h>

namespace outpost::supervisor {
namespace {

using state = module_runtime::state;
using k = command_kind;
using modules = std::map<std::string, module_spec>;
using currents = std::map<std::string, current_module>;

module_spec mod(const std::string& name, std::uint32_t order = last_startup_order,
                desired_status st = desired_status::running,
                restart_policy p = restart_policy::always) {
  module_spec m;
  m.name = name;
  m.startup_order = order;
  m.status = st;
  m.restart = p;
  m.process.path = "/opt/" + name;
  m.process.digest = "sha256:" + std::string(64, 'a');
  return m;
}

current_module running(const module_spec& m, std::int64_t started = 0) {
  current_module c{m, {}};
  c.runtime.process = state::running;
  c.runtime.last_start_ms = started;
  return c;
}

current_module exited(const module_spec& m, int code, std::int64_t at, std::uint32_t n = 0) {
  current_module c{m, {}};
  c.runtime.process = state::exited;
  c.runtime.exit_code = code;
  c.runtime.last_exit_ms = at;
  c.runtime.restart_count = n;
  return c;
}

std::vector<command> plan_of(const modules& d, const currents& c, std::int64_t now = 1'000'000) {
  return plan(d, c, now, restart_settings{});
}

TEST(Planner, FreshDeploymentCreatesAndStartsByStartupOrder) {
  modules d{{"sensor", mod("sensor", 2)},
            {"hub-helper", mod("hub-helper", 0)},
            {"filter", mod("filter", 1)},
            {"idle", mod("idle", 1, desired_status::stopped)},
            {"late", mod("late")}};
  EXPECT_EQ(plan_of(d, {}), (std::vector<command>{{k::create, "hub-helper", 0},
                                                  {k::start, "hub-helper", 0},
                                                  {k::create, "filter", 1},
                                                  {k::start, "filter", 1},
                                                  {k::create, "idle", 1},
                                                  {k::create, "sensor", 2},
                                                  {k::start, "sensor", 2},
                                                  {k::create, "late", last_startup_order},
                                                  {k::start, "late", last_startup_order}}));
}

TEST(Planner, SteadyStateIsAnEmptyPlan) {
  auto a = mod("a", 1);
  EXPECT_TRUE(plan_of({{"a", a}}, {{"a", running(a)}}).empty());
}

TEST(Planner, RemovedModulesAreStoppedAndRemovedFirst) {
  auto a = mod("a", 5);
  auto old = mod("old", 9);
  auto gone = mod("gone", 9);
  auto plan =
      plan_of({{"a", a}}, {{"a", running(a)}, {"old", running(old)}, {"gone", exited(gone, 0, 0)}});
  EXPECT_EQ(plan, (std::vector<command>{
                      {k::stop, "old", 0}, {k::remove, "gone", 0}, {k::remove, "old", 0}}));
}

TEST(Planner, AnyChangeButStatusIsStopRemoveCreateStart) {
  auto a = mod("a", 1);
  for (auto change :
       {+[](module_spec& m) { m.version = "2"; }, +[](module_spec& m) { m.env["X"] = "1"; },
        +[](module_spec& m) { m.process.args = {"--fast"}; },
        +[](module_spec& m) { m.restart = restart_policy::never; },
        +[](module_spec& m) {
          m.startup_order = 1; /* unchanged */
        }}) {
    auto b = a;
    change(b);
    auto p = plan_of({{"a", b}}, {{"a", running(a)}});
    if (b.same_config(a)) {
      EXPECT_TRUE(p.empty());
      continue;
    }
    EXPECT_EQ(
        p, (std::vector<command>{
               {k::stop, "a", 1}, {k::remove, "a", 1}, {k::create, "a", 1}, {k::start, "a", 1}}));
  }
  // Updated while exited, and desired stopped: no stop, no start.
  auto b = mod("a", 1, desired_status::stopped);
  b.version = "3";
  EXPECT_EQ(plan_of({{"a", b}}, {{"a", exited(a, 0, 0)}}),
            (std::vector<command>{{k::remove, "a", 1}, {k::create, "a", 1}}));
}

TEST(Planner, StatusOnlyChangeStartsOrStops) {
  auto on = mod("a", 1);
  auto off = mod("a", 1, desired_status::stopped);
  EXPECT_EQ(plan_of({{"a", off}}, {{"a", running(on)}}), (std::vector<command>{{k::stop, "a", 1}}));
  // Stopped by the deployment, then wanted again: started whatever its policy.
  auto off_never = mod("a", 1, desired_status::stopped, restart_policy::never);
  auto on_never = mod("a", 1, desired_status::running, restart_policy::never);
  EXPECT_EQ(plan_of({{"a", on_never}}, {{"a", exited(off_never, 143, 0)}}),
            (std::vector<command>{{k::start, "a", 1}}));
}

TEST(Planner, NeverStartedModulesStartOnceWhateverThePolicy) {
  auto a = mod("a", 1, desired_status::running, restart_policy::never);
  EXPECT_EQ(plan_of({{"a", a}}, {{"a", current_module{a, {}}}}),
            (std::vector<command>{{k::start, "a", 1}}));
  // Once it ran and exited, `never` leaves it alone.
  EXPECT_TRUE(plan_of({{"a", a}}, {{"a", exited(a, 1, 0)}}).empty());
}

TEST(Planner, BackoffRestartsOnlyAfterTheCoolOff) {
  auto a = mod("a", 1, desired_status::running, restart_policy::on_failure);
  const currents c{{"a", exited(a, 2, 1'000'000, 2)}}; // 40 s cool-off
  EXPECT_TRUE(plan_of({{"a", a}}, c, 1'039'999).empty());
  EXPECT_EQ(plan_of({{"a", a}}, c, 1'040'000), (std::vector<command>{{k::restart, "a", 1}}));
  EXPECT_EQ(next_wakeup_ms({{"a", a}}, c, 1'000'500, restart_settings{}), 1'040'000);
  // A clean exit under on-failure is final.
  EXPECT_TRUE(plan_of({{"a", a}}, {{"a", exited(a, 0, 0)}}).empty());
  // Out of restarts: failed, nothing planned, nothing to wake up for.
  const currents spent{{"a", exited(a, 2, 0, 20)}};
  EXPECT_TRUE(plan_of({{"a", a}}, spent, 99'000'000).empty());
  EXPECT_EQ(next_wakeup_ms({{"a", a}}, spent, 0, restart_settings{}), -1);
}

TEST(Planner, HealthyForTenMinutesClearsTheCounters) {
  auto a = mod("a", 1);
  auto c = running(a, 0);
  c.runtime.restart_count = 4;
  EXPECT_TRUE(plan_of({{"a", a}}, {{"a", c}}, 600'000).empty());
  EXPECT_EQ(next_wakeup_ms({{"a", a}}, {{"a", c}}, 0, restart_settings{}), 600'001);
  EXPECT_EQ(plan_of({{"a", a}}, {{"a", c}}, 600'001),
            (std::vector<command>{{k::clear_stats, "a", 1}}));
}

TEST(Planner, PhasesWithinAGroupFollowIotEdgesOrder) {
  auto added = mod("added", 3);
  auto updated_old = mod("updated", 3);
  auto updated_new = updated_old;
  updated_new.version = "2";
  auto backoff = mod("backoff", 3);
  auto stopper = mod("stopper", 3, desired_status::stopped);
  auto p = plan_of(
      {{"added", added}, {"updated", updated_new}, {"backoff", backoff}, {"stopper", stopper}},
      {{"updated", running(updated_old)},
       {"backoff", exited(backoff, 1, 0)},
       {"stopper", running(mod("stopper", 3))}});
  EXPECT_EQ(p, (std::vector<command>{{k::create, "added", 3},
                                     {k::start, "added", 3},
                                     {k::stop, "updated", 3},
                                     {k::remove, "updated", 3},
                                     {k::create, "updated", 3},
                                     {k::start, "updated", 3},
                                     {k::restart, "backoff", 3},
                                     {k::stop, "stopper", 3}}));
}

} // namespace
} // namespace outpost::supervisor
