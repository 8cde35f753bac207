#include "supervisor/planner/agent_report.hpp"

#include "protocols/common/iso_time.hpp"

#include <nlohmann/json.hpp>

namespace outpost::supervisor {

namespace {

using nlohmann::json;

json settings_of(const module_spec& m) {
  if (m.type == module_type::process) {
    return {{"path", m.process.path},
            {"args", m.process.args},
            {"workingDir", m.process.working_dir},
            {"digest", m.process.digest}};
  }
  json s{{"image", m.docker.image}, {"createOptions", m.docker.create_options}};
  if (!m.docker.digest.empty()) {
    s["digest"] = m.docker.digest;
  }
  return s;
}

json env_of(const module_spec& m) {
  json env = json::object();
  for (const auto& [k, v] : m.env) {
    env[k] = {{"value", v}};
  }
  return env;
}

json module_json(const module_report& r, const agent_report_input& in) {
  const auto& spec = r.module.spec;
  const auto& rt = r.module.runtime;
  const auto status =
      in.agent_running ? reported_status(spec, rt, in.restart) : runtime_status::unknown;
  json j{
      {"version", spec.version},
      {"type", to_string(spec.type)},
      {"status", to_string(spec.status)},
      {"restartPolicy", to_string(spec.restart)},
      {"imagePullPolicy", to_string(spec.pull)},
      {"settings", settings_of(spec)},
      {"env", env_of(spec)},
      {"exitCode", rt.exit_code},
      {"statusDescription", r.status_description},
      {"lastStartTimeUtc", iotedge_time(rt.last_start_ms)},
      {"lastExitTimeUtc", iotedge_time(rt.last_exit_ms)},
      {"restartCount", rt.restart_count},
      {"lastRestartTimeUtc", iotedge_time(rt.last_restart_ms)},
      {"runtimeStatus", to_string(status)},
  };
  if (spec.startup_order != last_startup_order) {
    j["startupOrder"] = spec.startup_order;
  }
  return j;
}

} // namespace

std::string iotedge_time(std::int64_t ms) {
  if (ms <= 0) {
    return "0001-01-01T00:00:00";
  }
  // .NET's round-trip format without offset: seven fraction digits, no Z.
  return iso8601_ms(ms).substr(0, 23) + "0000";
}

std::string agent_reported_json(const agent_report_input& in) {
  const bool up = in.agent_running;
  json j{
      {"schemaVersion", "1.0"},
      {"version", {{"version", in.version}, {"build", in.version}, {"commit", in.commit}}},
      {"lastDesiredVersion", in.desired_version},
      {"lastDesiredStatus",
       up ? json{{"code", static_cast<int>(in.status.code)}, {"description", in.status.description}}
          : json{{"code", 406}, {"description", "Agent is not running"}}},
      {"runtime",
       {{"type", in.desired ? in.desired->runtime_type : std::string{"process"}},
        {"platform", {{"os", "linux"}, {"architecture", "x86_64"}, {"version", in.version}}}}},
  };
  json system{
      {"edgeAgent",
       {{"type", "process"},
        {"runtimeStatus", up ? "running" : "unknown"},
        {"exitCode", 0},
        {"statusDescription", up ? "running in outpostd" : "outpostd is stopping"}}},
      {"edgeHub",
       {{"type", "process"},
        {"status", "running"},
        {"restartPolicy", "always"},
        {"runtimeStatus", up ? "running" : "unknown"},
        {"exitCode", 0},
        {"statusDescription", up ? "running in outpostd" : "outpostd is stopping"}}},
  };
  j["systemModules"] = std::move(system);
  json modules = json::object();
  for (const auto& [name, r] : in.modules) {
    modules[name] = module_json(r, in);
  }
  j["modules"] = std::move(modules);
  return j.dump();
}

} // namespace outpost::supervisor
