// The $edgeAgent reported properties document (iotedge-facts §2.4).
#include "supervisor/planner/agent_report.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace outpost::supervisor {
namespace {

using nlohmann::json;

agent_report_input input() {
  agent_report_input in;
  in.version = "0.1.0";
  in.commit = "abc";
  in.status = {deployment_code::ok, ""};
  in.desired_version = 7;
  module_spec m;
  m.name = "sensor";
  m.version = "1.0";
  m.startup_order = 1;
  m.restart = restart_policy::on_failure;
  m.env["THRESHOLD"] = "25";
  module_report r;
  r.module.spec = m;
  r.module.runtime.process = module_runtime::state::exited;
  r.module.runtime.exit_code = 2;
  r.module.runtime.last_start_ms = 1'700'000'000'123;
  r.module.runtime.last_exit_ms = 1'700'000'010'000;
  r.module.runtime.restart_count = 3;
  r.status_description = "exited with code 2";
  in.modules["sensor"] = r;
  return in;
}

TEST(AgentReport, HasIotEdgesShapeAndValues) {
  auto j = json::parse(agent_reported_json(input()));
  EXPECT_EQ(j["schemaVersion"], "1.0");
  EXPECT_EQ(j["lastDesiredVersion"], 7);
  EXPECT_EQ(j["lastDesiredStatus"]["code"], 200);
  EXPECT_EQ(j["version"]["commit"], "abc");
  EXPECT_EQ(j["systemModules"]["edgeAgent"]["runtimeStatus"], "running");
  EXPECT_EQ(j["systemModules"]["edgeHub"]["runtimeStatus"], "running");
  const auto& m = j["modules"]["sensor"];
  EXPECT_EQ(m["runtimeStatus"], "backoff"); // on-failure, exit 2, 3 of 20 restarts spent
  EXPECT_EQ(m["exitCode"], 2);
  EXPECT_EQ(m["restartCount"], 3);
  EXPECT_EQ(m["restartPolicy"], "on-failure");
  EXPECT_EQ(m["status"], "running");
  EXPECT_EQ(m["startupOrder"], 1);
  EXPECT_EQ(m["env"]["THRESHOLD"]["value"], "25");
  EXPECT_EQ(m["lastStartTimeUtc"], "2023-11-14T22:13:20.1230000");
  EXPECT_EQ(m["lastRestartTimeUtc"], "0001-01-01T00:00:00");
  EXPECT_EQ(m["statusDescription"], "exited with code 2");
}

TEST(AgentReport, ShutdownReportsUnknownAnd406) {
  auto in = input();
  in.agent_running = false;
  auto j = json::parse(agent_reported_json(in));
  EXPECT_EQ(j["lastDesiredStatus"]["code"], 406);
  EXPECT_EQ(j["lastDesiredStatus"]["description"], "Agent is not running");
  EXPECT_EQ(j["modules"]["sensor"]["runtimeStatus"], "unknown");
}

} // namespace
} // namespace outpost::supervisor
