// Restart policy and back-off with IoT Edge's semantics (iotedge-facts §2.3).
#include "supervisor/planner/restart.hpp"

#include <gtest/gtest.h>

namespace outpost::supervisor {
namespace {

using state = module_runtime::state;

module_spec spec(restart_policy p, desired_status s = desired_status::running) {
  module_spec m;
  m.name = "m";
  m.restart = p;
  m.status = s;
  return m;
}

module_runtime exited(int code, std::uint32_t restarts = 0) {
  module_runtime rt;
  rt.process = state::exited;
  rt.exit_code = code;
  rt.last_exit_ms = 1'000'000;
  rt.restart_count = restarts;
  return rt;
}

TEST(RestartPolicy, StatusOfEachPolicyAfterACleanAndAFailedExit) {
  const restart_settings s;
  struct row {
    restart_policy policy;
    runtime_status clean, failure;
  };
  for (const auto& r :
       {row{restart_policy::never, runtime_status::stopped, runtime_status::failed},
        row{restart_policy::on_failure, runtime_status::stopped, runtime_status::backoff},
        row{restart_policy::on_unhealthy, runtime_status::stopped, runtime_status::backoff},
        row{restart_policy::always, runtime_status::backoff, runtime_status::backoff}}) {
    EXPECT_EQ(reported_status(spec(r.policy), exited(0), s), r.clean) << to_string(r.policy);
    EXPECT_EQ(reported_status(spec(r.policy), exited(3), s), r.failure) << to_string(r.policy);
  }
}

TEST(RestartPolicy, RunningAndNeverStartedAndDesiredStopped) {
  const restart_settings s;
  module_runtime running;
  running.process = state::running;
  EXPECT_EQ(reported_status(spec(restart_policy::always), running, s), runtime_status::running);
  EXPECT_EQ(reported_status(spec(restart_policy::always), module_runtime{}, s),
            runtime_status::stopped);
  // A module the deployment wants stopped is never in back-off.
  EXPECT_EQ(reported_status(spec(restart_policy::always, desired_status::stopped), exited(1), s),
            runtime_status::failed);
  EXPECT_EQ(reported_status(spec(restart_policy::always, desired_status::stopped), exited(0), s),
            runtime_status::stopped);
}

TEST(RestartPolicy, FailedForGoodAfterMaxRestarts) {
  restart_settings s;
  EXPECT_EQ(reported_status(spec(restart_policy::always), exited(1, 19), s),
            runtime_status::backoff);
  EXPECT_EQ(reported_status(spec(restart_policy::always), exited(1, 20), s),
            runtime_status::failed);
  s.max_restarts = 3;
  EXPECT_EQ(reported_status(spec(restart_policy::on_failure), exited(1, 3), s),
            runtime_status::failed);
}

TEST(RestartPolicy, CoolOffDoublesFromTenSecondsUpToFiveMinutes) {
  const restart_settings s;
  const std::int64_t expected[] = {10'000, 20'000, 40'000, 80'000, 160'000, 300'000, 300'000};
  for (std::uint32_t n = 0; n < 7; ++n) {
    EXPECT_EQ(cool_off_ms(n, s), expected[n]) << n;
  }
  EXPECT_EQ(cool_off_ms(1000, s), 300'000); // no overflow for huge counts
  restart_settings fast{20, 100, 1'000, 60'000};
  EXPECT_EQ(cool_off_ms(0, fast), 100);
  EXPECT_EQ(cool_off_ms(4, fast), 1'000);
}

TEST(RestartPolicy, RestartIsDueAfterTheCoolOffFromTheLastExit) {
  const restart_settings s;
  auto rt = exited(1, 2); // third restart: 40 s
  EXPECT_EQ(restart_due_ms(rt, 1'000'000, s), 1'040'000);
  // The clock went backwards: restart now.
  EXPECT_EQ(restart_due_ms(rt, 900'000, s), 900'000);
}

TEST(RestartPolicy, CountersClearAfterTenMinutesRunning) {
  const restart_settings s;
  module_runtime rt;
  rt.process = state::running;
  rt.last_start_ms = 0;
  rt.restart_count = 5;
  EXPECT_FALSE(restart_stats_expired(rt, 600'000, s));
  EXPECT_TRUE(restart_stats_expired(rt, 600'001, s));
  rt.restart_count = 0;
  EXPECT_FALSE(restart_stats_expired(rt, 10'000'000, s)); // nothing to clear
  rt.restart_count = 5;
  rt.process = state::exited;
  EXPECT_FALSE(restart_stats_expired(rt, 10'000'000, s));
}

} // namespace
} // namespace outpost::supervisor
