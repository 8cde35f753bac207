#include "actors/agent/agent.hpp"

#include "actors/agent/agent_messages.hpp"
#include "actors/agent/agent_metrics.hpp"
#include "actors/agent/docker_module_actor.hpp"
#include "actors/agent/module_actor.hpp"
#include "actors/common/messages.hpp"
#include "storage/agent_store.hpp"
#include "storage/errc.hpp"
#include "supervisor/model/deployment.hpp"
#include "supervisor/planner/agent_report.hpp"
#include "supervisor/planner/planner.hpp"
#include "supervisor/runtime/confinement.hpp"
#include "supervisor/runtime/docker_engine.hpp"
#include "supervisor/runtime/process_host.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <deque>
#include <filesystem>
#include <regex>

#include <unistd.h>

namespace outpost::actors {

namespace {

namespace fs = std::filesystem;
namespace sv = supervisor;
using nlohmann::json;

/// What the agent keeps per module beside the planner's view.
struct module_extra {
  caf::actor actor;
  std::shared_ptr<const sv::docker_engine> engine; ///< a docker module's, to cancel its calls
  pid_t pid = 0;
  std::string description;
  std::string generation_id;
  std::int64_t uid = -1; ///< what the running process runs as
  bool uid_exclusive = false;
};

struct agent_state {
  agent_config cfg;
  std::optional<sv::deployment> desired; ///< the deployment in force
  sv::deployment_status status{sv::deployment_code::unknown, "waiting for a deployment"};
  std::int64_t desired_version = 0;
  std::map<std::string, sv::current_module> current;
  std::map<std::string, module_extra> extra;
  std::deque<sv::command> queue;
  bool busy = false;
  bool pending = false; ///< reconcile again once the queue is done
  bool shutting_down = false;
  std::string failure; ///< the last command failure of this plan, for status 500
  std::map<std::string, std::uint32_t> uids; ///< allocated module uids (store: `uid/<module>`)
  static inline const char* name = "agent";
};

using agent_actor = caf::stateful_actor<agent_state>;

void reconcile(agent_actor* self);
void run_next(agent_actor* self);
void finish_remove(agent_actor* self, const std::string& name, bool recreated);

std::int64_t now(agent_actor* self) {
  return self->state.cfg.now_ms();
}

std::string module_dir(const agent_state& st, const std::string& name) {
  return st.cfg.modules_dir + "/" + name;
}

/// The module's private writable folder (HOME and default working folder): its logs stay
/// elsewhere (module_dir, outpostd's only), so that a module cannot swap its log for a link.
std::string home_dir(const agent_state& st, const std::string& name) {
  return st.cfg.homes_dir + "/" + name;
}

std::string log_path(const agent_state& st, const std::string& name) {
  return module_dir(st, name) + "/" + name + ".log";
}

/// Hands a change of column `agent` to the storage writer (the engine's only writer). No reply
/// is awaited: the writer logs a failure, and the agent keeps what it stored in memory.
void store(agent_state& st, storage::write_batch b, bool durable) {
  if (st.cfg.writer) {
    caf::anon_send(st.cfg.writer, records_atom::value, std::move(b), durable);
  }
}

/// Publishes the reported properties (view + store) after a change.
void publish(agent_actor* self) {
  auto& st = self->state;
  sv::agent_report_input in;
  in.version = st.cfg.version;
  in.commit = st.cfg.commit;
  in.desired = st.desired;
  in.status = st.status;
  in.desired_version = st.desired_version;
  in.restart = st.cfg.restart;
  in.agent_running = !st.shutting_down;
  auto data = std::make_shared<agent_view_data>();
  for (const auto& [name, cur] : st.current) {
    const auto& ex = st.extra[name];
    in.modules[name] = {cur, ex.description};
    module_view v;
    v.name = name;
    v.type = sv::to_string(cur.spec.type);
    v.desired_status = sv::to_string(cur.spec.status);
    v.runtime_status = sv::to_string(
        st.shutting_down ? sv::runtime_status::unknown
                         : sv::reported_status(cur.spec, cur.runtime, st.cfg.restart));
    v.description = ex.description;
    v.version = cur.spec.version;
    v.config =
        cur.spec.type == sv::module_type::process ? cur.spec.process.path : cur.spec.docker.image;
    v.pid = ex.pid;
    v.uid = ex.uid;
    v.uid_exclusive = ex.uid_exclusive;
    v.generation_id = ex.generation_id;
    v.log_path = log_path(st, name);
    v.last_start_ms = cur.runtime.last_start_ms;
    v.last_exit_ms = cur.runtime.last_exit_ms;
    v.exit_code = cur.runtime.exit_code;
    v.restart_count = cur.runtime.restart_count;
    data->modules.emplace(name, std::move(v));
  }
  data->reported_json = sv::agent_reported_json(in);
  data->code = st.shutting_down ? 406 : static_cast<int>(st.status.code);
  data->description = st.shutting_down ? "Agent is not running" : st.status.description;
  data->manifest = st.cfg.manifest_path;
  data->confined = st.cfg.confine;
  data->confinement = st.cfg.confinement;
  const auto previous = st.cfg.view->get();
  if (previous->reported_json != data->reported_json) {
    store(st, storage::agent_batches::reported(data->reported_json), false);
  }
  if (st.cfg.metrics) {
    st.cfg.metrics->observe(*data, now(self));
  }
  st.cfg.view->set(std::move(data));
}

/// Applies one read of the deployment (validated by the deployment source): a valid
/// deployment replaces the one in force and is kept in the store; anything else only changes
/// the status, the modules keep running. An unreadable manifest at start falls back on the
/// last good deployment in the store.
void apply_deployment(agent_actor* self, const agent_deployment& d) {
  auto& st = self->state;
  const sv::parse_result* parsed = &d.parsed;
  sv::parse_result saved_parsed;
  if (!d.text) {
    std::optional<std::string> saved;
    if (!st.desired) {
      saved = st.cfg.stored.deployment;
    }
    if (!saved) {
      st.status = {sv::deployment_code::empty,
                   "This device has an empty configuration for the edge agent. Please set a "
                   "deployment manifest. (cannot read "
                       + st.cfg.manifest_path + ")"};
      spdlog::error("[agent] {}", st.status.description);
      return;
    }
    spdlog::warn("[agent] cannot read {}: using the last good deployment from the store",
                 st.cfg.manifest_path);
    saved_parsed = sv::parse_deployment(*saved);
    parsed = &saved_parsed;
  }
  if (!parsed->value) {
    st.status = parsed->status;
    spdlog::error("[agent] deployment rejected ({}): {}", static_cast<int>(parsed->status.code),
                  parsed->status.description);
    return;
  }
  st.desired_version = parsed->value->version ? *parsed->value->version : st.desired_version + 1;
  st.desired = *parsed->value;
  st.status = {sv::deployment_code::ok, ""};
  if (d.text) {
    store(st, storage::agent_batches::deployment(*d.text), true);
  }
  spdlog::info("[agent] deployment version {}: {} modules", st.desired_version,
               st.desired->modules.size());
}

/// IoT Edge's ModuleState: restart counters survive a daemon restart (column `agent`,
/// key `state/<module>`).
void save_restart_state(agent_state& st, const std::string& name) {
  auto c = st.current.find(name);
  if (c == st.current.end()) {
    return;
  }
  const auto& rt = c->second.runtime;
  const storage::restart_record r{rt.restart_count, rt.last_restart_ms};
  st.cfg.stored.restarts[name] = r;
  store(st, storage::agent_batches::restart(name, r), false);
}

void load_restart_state(agent_state& st, sv::current_module& m) {
  auto r = st.cfg.stored.restarts.find(m.spec.name);
  if (r != st.cfg.stored.restarts.end()) {
    m.runtime.restart_count = r->second.restart_count;
    m.runtime.last_restart_ms = r->second.last_restart_ms;
  }
}

std::string generation_id(const agent_state& st, const std::string& name) {
  auto table = st.cfg.identity_table->get();
  auto i = table->find(st.cfg.device_id + "/" + name);
  return i == table->end() ? std::string{} : std::to_string(i->second.created_ms);
}

/// A command failed: the module says why, the deployment is 500 until a plan succeeds.
void fail(agent_actor* self, const std::string& module, const std::string& why) {
  auto& st = self->state;
  st.extra[module].description = why;
  st.failure = "module " + module + ": " + why;
  spdlog::error("[agent] {}", st.failure);
}

sv::spawn_spec spawn_spec_of(const agent_state& st, const sv::module_spec& m) {
  sv::spawn_spec s;
  s.path = m.process.path;
  s.args = m.process.args;
  s.working_dir = m.process.working_dir.empty() ? home_dir(st, m.name) : m.process.working_dir;
  s.log_path = log_path(st, m.name);
  std::map<std::string, std::string> env;
  if (m.type == sv::module_type::process) { // a container has its image's PATH and HOME
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    env["HOME"] = home_dir(st, m.name); // private: owned by the module's uid, 0700
  }
  for (const auto& [k, v] : m.env) {
    env[k] = v;
  }
  // IoT Edge's variables come last and win (CreateOrUpdateCommand.GetEnvVars).
  env["IOTEDGE_WORKLOADURI"] = st.cfg.workload_uri;
  env["IOTEDGE_DEVICEID"] = st.cfg.device_id;
  env["IOTEDGE_MODULEID"] = m.name;
  env["IOTEDGE_MODULEGENERATIONID"] = generation_id(st, m.name);
  env["IOTEDGE_IOTHUBHOSTNAME"] = st.cfg.iothub_hostname;
  env["IOTEDGE_GATEWAYHOSTNAME"] = st.cfg.gateway_hostname;
  env["IOTEDGE_AUTHSCHEME"] = "sasToken";
  env["IOTEDGE_APIVERSION"] = "2019-01-30";
  for (const auto& [k, v] : env) {
    s.env.push_back(k + "=" + v);
  }
  return s;
}

/// The uid/gid a process module runs as, its private folder and cgroup, filled into `s`;
/// false with `why` when it cannot run.
bool confine(agent_state& st, const sv::module_spec& m, sv::spawn_spec& s, module_extra& ex,
             std::string& why) {
  sv::module_credentials who;
  ex.uid_exclusive = false;
  if (!m.process.user.empty()) {
    auto u = sv::resolve_user(m.process.user, why);
    if (!u) {
      return false;
    }
    if (!st.cfg.confine && u->uid != static_cast<std::int64_t>(::geteuid())) {
      why = "settings.user " + m.process.user + ": outpostd is not root and cannot switch users";
      return false;
    }
    who = *u;
  } else if (st.cfg.confine) {
    auto a = st.uids.find(m.name);
    if (a != st.uids.end() && sv::system_id_taken(a->second)) {
      // A user or group with this id appeared since: never share it, take another one.
      spdlog::warn("[agent] uid {} of module {} now belongs to the system: reallocating", a->second,
                   m.name);
      st.uids.erase(a);
      a = st.uids.end();
    }
    if (a == st.uids.end()) {
      auto uid =
          sv::allocate_module_uid(m.name, st.cfg.uid_min, st.cfg.uid_max, [&](std::uint32_t u) {
            for (const auto& [n, v] : st.uids) {
              if (v == u) {
                return true;
              }
            }
            return false;
          });
      if (!uid) {
        why = "no free uid in [agent] module_uid_min..module_uid_max";
        return false;
      }
      a = st.uids.emplace(m.name, *uid).first;
      store(st, storage::agent_batches::uid(m.name, *uid), true);
      spdlog::info("[agent] module {} runs as uid/gid {}", m.name, *uid);
    }
    who = {a->second, a->second};
    ex.uid_exclusive = true;
  }
  if (auto e = sv::prepare_private_dir(home_dir(st, m.name), who); !e.empty()) {
    why = e;
    return false;
  }
  if (!st.cfg.cgroup_dir.empty()) {
    const auto dir = st.cfg.cgroup_dir + "/" + m.name;
    if (auto e = sv::prepare_cgroup(dir); !e.empty()) {
      why = e;
      return false;
    }
    s.cgroup = dir;
  }
  s.uid = who.uid;
  s.gid = who.gid;
  ex.uid = who.uid >= 0 ? who.uid : static_cast<std::int64_t>(::geteuid());
  return true;
}

/// create: the module's identity (kept across updates), folder and actor.
void do_create(agent_actor* self, const sv::module_spec& m) {
  auto& st = self->state;
  std::error_code ec;
  fs::create_directories(module_dir(st, m.name), ec);
  fs::permissions(module_dir(st, m.name), fs::perms::owner_all, ec); // its logs: outpostd only
  auto finish = [=](std::string why) {
    auto& s = self->state;
    auto& ex = s.extra[m.name];
    s.current[m.name] = {m, {}};
    load_restart_state(s, s.current[m.name]);
    ex.generation_id = generation_id(s, m.name);
    if (!why.empty()) {
      fail(self, m.name, why);
    } else if (m.type == sv::module_type::docker && s.cfg.container_engine.empty()) {
      fail(self, m.name, "docker modules need a container engine ([agent] container_engine)");
    } else if (m.type == sv::module_type::docker) {
      ex.description.clear();
      const auto socket_dir = fs::path{s.cfg.workload_uri.substr(7)}.parent_path().string();
      auto engine = std::make_shared<sv::docker_engine>(s.cfg.container_engine);
      ex.engine = engine;
      ex.actor =
          spawn_docker_module_actor(self->system(), {m.name,
                                                     m.docker.image,
                                                     m.docker.create_options,
                                                     m.docker.digest,
                                                     m.pull == sv::image_pull_policy::on_create,
                                                     {socket_dir + ":" + socket_dir},
                                                     std::move(engine),
                                                     caf::actor{self},
                                                     s.cfg.now_ms});
      self->link_to(ex.actor);
    } else {
      ex.description.clear();
      ex.actor = spawn_module_actor(
          self->system(), {m.name, m.process.digest, s.cfg.host, caf::actor{self}, s.cfg.now_ms});
      self->link_to(ex.actor); // module actors go with the agent (the daemon's shutdown)
    }
    run_next(self);
  };
  if (!generation_id(st, m.name).empty()) {
    return finish({});
  }
  storage::identity_request req;
  req.id = m.name;
  req.module = true;
  self->request(st.cfg.identities, std::chrono::seconds(30), identity_add_atom::value, req)
      .then(
          [=](identity_reply& r) {
            finish(r.error && r.error != storage::errc::identity_exists
                       ? "cannot create its identity: " + r.error.message()
                       : std::string{});
          },
          [=](caf::error& err) { finish("cannot create its identity: " + to_string(err)); });
}

void do_start(agent_actor* self, const std::string& name, bool counts) {
  auto& st = self->state;
  auto& ex = st.extra[name];
  auto cur = st.current.find(name);
  if (cur == st.current.end() || !ex.actor) {
    fail(self, name, ex.description.empty() ? "not created" : ex.description);
    if (cur != st.current.end()) { // cannot even be created: failed, retried with back-off
      cur->second.runtime.process = sv::module_runtime::state::exited;
      cur->second.runtime.exit_code = 127;
      cur->second.runtime.last_exit_ms = now(self);
      if (counts) {
        cur->second.runtime.restart_count++;
        save_restart_state(st, name);
      }
    }
    return run_next(self);
  }
  const auto started_at = now(self);
  auto spec = spawn_spec_of(st, cur->second.spec);
  if (std::string why; cur->second.spec.type == sv::module_type::process
                       && !confine(st, cur->second.spec, spec, ex, why)) {
    fail(self, name, "not started: " + why);
    cur->second.runtime.process = sv::module_runtime::state::exited;
    cur->second.runtime.exit_code = 127;
    cur->second.runtime.last_exit_ms = now(self);
    if (counts) {
      cur->second.runtime.restart_count++;
      save_restart_state(st, name);
    }
    return run_next(self);
  }
  self->request(ex.actor, std::chrono::seconds(30), start_atom::value, std::move(spec))
      .then(
          [=](start_reply& r) {
            auto& s = self->state;
            auto c = s.current.find(name);
            if (c != s.current.end()) {
              auto& rt = c->second.runtime;
              if (counts) {
                rt.restart_count++;
                rt.last_restart_ms = now(self);
                save_restart_state(s, name);
              }
              if (r.error.empty()) {
                rt.process = sv::module_runtime::state::running;
                rt.last_start_ms = r.at_ms;
                s.extra[name].pid = r.pid;
                if (c->second.spec.type == sv::module_type::process && !s.cfg.run_dir.empty()) {
                  sv::record_started(s.cfg.run_dir, name, r.pid); // for the next start's cleanup
                }
                publish(self); // the workload API knows the module from now on
                s.extra[name].description.clear();
                if (s.cfg.metrics) {
                  s.cfg.metrics->module_started(name, c->second.spec.version,
                                                now(self) - started_at);
                }
              } else {
                // Not started (verification, exec): failed, retried with the back-off.
                rt.process = sv::module_runtime::state::exited;
                rt.exit_code = 127;
                rt.last_exit_ms = now(self);
                fail(self, name, r.error);
              }
            }
            run_next(self);
          },
          [=](caf::error& err) {
            fail(self, name, "start: " + to_string(err));
            run_next(self);
          });
}

void do_stop(agent_actor* self, const std::string& name) {
  auto& st = self->state;
  auto& ex = st.extra[name];
  if (!ex.actor || ex.pid == 0) {
    return run_next(self);
  }
  const auto started_at = now(self);
  self->request(ex.actor, st.cfg.stop_grace + std::chrono::seconds(10), stop_atom::value,
                st.cfg.stop_grace)
      .then(
          [=](int code) {
            auto& s = self->state;
            if (auto c = s.current.find(name); c != s.current.end() && code >= 0) {
              c->second.runtime.process = sv::module_runtime::state::exited;
              c->second.runtime.exit_code = code;
              c->second.runtime.last_exit_ms = now(self);
              s.extra[name].pid = 0;
              s.extra[name].description = "stopped";
              if (!s.cfg.run_dir.empty()) {
                sv::forget_started(s.cfg.run_dir, name);
              }
            }
            if (auto c = s.current.find(name); s.cfg.metrics && c != s.current.end()) {
              s.cfg.metrics->module_stopped(name, c->second.spec.version, now(self) - started_at);
            }
            run_next(self);
          },
          [=](caf::error& err) {
            fail(self, name, "stop: " + to_string(err));
            run_next(self);
          });
}

void do_remove(agent_actor* self, const std::string& name) {
  auto& st = self->state;
  const bool recreated = std::any_of(st.queue.begin(), st.queue.end(), [&](const sv::command& c) {
    return c.module == name && c.kind == sv::command_kind::create;
  });
  auto ex = st.extra.find(name);
  caf::actor actor = ex != st.extra.end() ? ex->second.actor : caf::actor{};
  if (ex != st.extra.end()) {
    st.extra.erase(ex);
  }
  st.current.erase(name);
  auto gone = [=] {
    if (actor) {
      self->unlink_from(actor); // its exit must not take the agent along
      caf::anon_send_exit(actor, caf::exit_reason::user_shutdown);
    }
  };
  if (actor) { // a container is removed by the engine before its actor goes
    self->request(actor, std::chrono::seconds(60), remove_atom::value)
        .then(
            [=](bool) {
              gone();
              finish_remove(self, name, recreated);
            },
            [=](caf::error&) {
              gone();
              finish_remove(self, name, recreated);
            });
    return;
  }
  finish_remove(self, name, recreated);
}

void finish_remove(agent_actor* self, const std::string& name, bool recreated) {
  auto& st = self->state;
  if (!recreated) {
    st.cfg.stored.restarts.erase(name);
    store(st, storage::agent_batches::forget_restart(name), false);
  }
  if (!recreated) { // gone from the deployment: its identity goes too (IoT Edge does)
    self->request(st.cfg.identities, std::chrono::seconds(30), identity_remove_atom::value,
                  st.cfg.device_id + "/" + name)
        .then([](identity_reply&) {}, [](caf::error&) {});
  }
  run_next(self);
}

void run_next(agent_actor* self) {
  auto& st = self->state;
  if (st.queue.empty() || st.shutting_down) {
    st.queue.clear();
    st.busy = false;
    if (st.status.code == sv::deployment_code::ok
        || st.status.code == sv::deployment_code::failed) {
      st.status = st.failure.empty()
                      ? sv::deployment_status{sv::deployment_code::ok, ""}
                      : sv::deployment_status{sv::deployment_code::failed, st.failure};
    }
    publish(self);
    if (st.pending && !st.shutting_down) {
      st.pending = false;
      reconcile(self);
    }
    return;
  }
  const auto cmd = st.queue.front();
  st.queue.pop_front();
  spdlog::debug("[agent] {} {}", sv::to_string(cmd.kind), cmd.module);
  switch (cmd.kind) {
    case sv::command_kind::create:
      return do_create(self, st.desired->modules.at(cmd.module));
    case sv::command_kind::start:
      return do_start(self, cmd.module, false);
    case sv::command_kind::restart:
      return do_start(self, cmd.module, true);
    case sv::command_kind::stop:
      return do_stop(self, cmd.module);
    case sv::command_kind::remove:
      return do_remove(self, cmd.module);
    case sv::command_kind::clear_stats:
      if (auto c = st.current.find(cmd.module); c != st.current.end()) {
        c->second.runtime.restart_count = 0;
        c->second.runtime.last_restart_ms = 0;
        save_restart_state(st, cmd.module);
      }
      return run_next(self);
  }
}

void reconcile(agent_actor* self) {
  auto& st = self->state;
  if (st.busy || st.shutting_down) {
    st.pending = !st.shutting_down;
    return;
  }
  if (!st.desired) {
    return;
  }
  auto cmds = sv::plan(st.desired->modules, st.current, now(self), st.cfg.restart);
  // A status-only change is carried out by the plan's start/stop: from now on the module's
  // spec is the desired one (the planner needed the old status to see the change).
  for (auto& [name, cur] : st.current) {
    auto want = st.desired->modules.find(name);
    if (want != st.desired->modules.end() && want->second.same_config(cur.spec)) {
      cur.spec.status = want->second.status;
    }
  }
  if (cmds.empty()) {
    return;
  }
  st.busy = true;
  st.failure.clear();
  st.queue.assign(cmds.begin(), cmds.end());
  run_next(self);
}

method_reply restart_module(agent_actor* self, const std::string& name) {
  auto& st = self->state;
  if (!st.current.count(name)) {
    return {404, json{{"message", "module '" + name + "' is not deployed"}}.dump()};
  }
  // Regardless of its restart policy (IoT Edge's RestartModule).
  st.queue.push_back({sv::command_kind::stop, name, 0});
  st.queue.push_back({sv::command_kind::start, name, 0});
  if (!st.busy) {
    st.busy = true;
    st.failure.clear();
    run_next(self);
  }
  return {200, "null"};
}

method_reply get_module_logs(agent_actor* self, const json& req) {
  auto& st = self->state;
  if (req.value("encoding", "none") != "none") {
    return {400, json{{"message", "encoding: only \"none\" is supported"}}.dump()};
  }
  const bool as_json = req.value("contentType", "text") == "json";
  json out = json::array();
  for (const auto& item : req.value("items", json::array())) {
    std::regex id_re;
    try {
      id_re = std::regex{item.value("id", ".*")};
    } catch (const std::regex_error&) {
      return {400, json{{"message", "items.id is not a valid regular expression"}}.dump()};
    }
    const auto filter = item.value("filter", json::object());
    const auto tail = filter.value("tail", 0);
    const auto& since_v = filter.contains("since") ? filter["since"] : json{};
    const auto since =
        since_v.is_number_integer()
            ? since_v.get<std::int64_t>() * 1000
            : sv::parse_since(since_v.is_string() ? since_v.get<std::string>() : "", now(self));
    if (since < 0) {
      return {400, json{{"message", "filter.since: unix seconds, ISO 8601 or e.g. 10m"}}.dump()};
    }
    for (const auto& [name, cur] : st.current) {
      if (!std::regex_match(name, id_re)) {
        continue;
      }
      auto lines =
          sv::read_log(log_path(st, name), static_cast<std::size_t>(std::max(0, tail)), since);
      if (as_json) {
        json arr = json::array();
        for (const auto& l : lines) {
          arr.push_back({{"timestamp", l.substr(0, std::min<std::size_t>(24, l.size()))},
                         {"log", l.size() > 25 ? l.substr(25) : std::string{}}});
        }
        out.push_back({{"id", name}, {"logs", arr}});
      } else {
        std::string text;
        for (const auto& l : lines) {
          text += l + "\n";
        }
        out.push_back({{"id", name}, {"logs", text}});
      }
    }
  }
  return {200, out.dump()};
}

method_reply invoke_method(agent_actor* self, const std::string& name, const std::string& payload) {
  auto req = json::parse(payload.empty() ? "null" : payload, nullptr, false);
  if (req.is_discarded()) {
    return {400, json{{"message", "the payload is not JSON"}}.dump()};
  }
  if (name == "ping") {
    return {200, "null"};
  }
  if (name == "RestartModule") {
    if (!req.is_object() || !req.contains("id") || !req["id"].is_string()) {
      return {400, json{{"message",
                         "RestartModule needs {\"schemaVersion\": \"1.0\", \"id\": "
                         "\"<module>\"}"}}
                       .dump()};
    }
    return restart_module(self, req["id"].get<std::string>());
  }
  if (name == "GetModuleLogs") {
    if (!req.is_object() || !req.contains("items") || !req["items"].is_array()) {
      return {400, json{{"message",
                         "GetModuleLogs needs {\"schemaVersion\", \"items\": [{\"id\", "
                         "\"filter\"}]}"}}
                       .dump()};
    }
    return get_module_logs(self, req);
  }
  return {404, json{{"message", "unknown method '" + name + "'"}}.dump()};
}

void on_exit_of(agent_actor* self, const module_exit& e) {
  auto& st = self->state;
  auto c = st.current.find(e.name);
  auto& ex = st.extra[e.name];
  if (c == st.current.end() || ex.pid != e.pid) {
    return;
  }
  auto& rt = c->second.runtime;
  rt.process = sv::module_runtime::state::exited;
  rt.exit_code = e.exit_code;
  rt.last_exit_ms = e.at_ms;
  ex.pid = 0;
  if (!st.cfg.run_dir.empty()) {
    sv::forget_started(st.cfg.run_dir, e.name);
  }
  ex.description = "exited with code " + std::to_string(e.exit_code);
  publish(self);
  reconcile(self);
}

/// Before anything starts: what a previous outpostd left running goes (it died without
/// stopping its modules), and the module uids allocated before are loaded.
void end_previous_run(agent_state& st) {
  for (const auto& what : sv::end_leftovers(st.cfg.run_dir, st.cfg.cgroup_dir)) {
    spdlog::warn("[agent] ended a module left running by a previous outpostd: {}", what);
  }
  st.uids = st.cfg.stored.uids;
}

caf::behavior agent_behavior(agent_actor* self, agent_config cfg) {
  self->state.cfg = std::move(cfg);
  end_previous_run(self->state);
  if (self->state.cfg.initial) {
    apply_deployment(self, *self->state.cfg.initial);
    self->state.cfg.initial.reset();
  }
  reconcile(self);
  publish(self);
  self->delayed_send(self, self->state.cfg.interval, tick_agent_atom::value);
  return {
      [=](tick_agent_atom) {
        auto& st = self->state;
        if (st.shutting_down) {
          return;
        }
        reconcile(self); // back-off restarts and counters fall due with time
        if (!st.busy) {
          publish(self);
        }
        self->delayed_send(self, st.cfg.interval, tick_agent_atom::value);
      },
      [=](deployment_atom, const agent_deployment& d) {
        if (self->state.shutting_down) {
          return;
        }
        apply_deployment(self, d);
        publish(self);
        reconcile(self);
      },
      [=](const module_exit& e) { on_exit_of(self, e); },
      [=](restart_atom, const std::string& module) { return restart_module(self, module); },
      [=](method_atom, const std::string& name, const std::string& payload) {
        return invoke_method(self, name, payload);
      },
      [=](shutdown_atom) -> caf::result<bool> {
        auto& st = self->state;
        st.shutting_down = true;
        st.queue.clear();
        auto rp = self->make_response_promise<bool>();
        auto left = std::make_shared<std::size_t>(0);
        for (auto& [name, ex] : st.extra) {
          if (ex.actor && ex.pid != 0) {
            ++*left;
          } else if (ex.engine) {
            ex.engine->cancel(); // a container being started: the start gives up
          }
        }
        // The module actors are detached and block in their engine calls: once the stops are
        // answered (or timed out), what still waits on a hung engine ends, or the daemon's
        // exit would wait for it.
        auto done = [=]() mutable {
          for (auto& [name, ex] : self->state.extra) {
            if (ex.engine) {
              ex.engine->cancel();
            }
          }
          publish(self);
          rp.deliver(true);
        };
        if (*left == 0) {
          done();
          return rp;
        }
        for (auto& [name, ex] : st.extra) {
          if (!ex.actor || ex.pid == 0) {
            continue;
          }
          self->request(ex.actor, st.cfg.stop_grace + std::chrono::seconds(5), stop_atom::value,
                        st.cfg.stop_grace)
              .then(
                  [=](int) mutable {
                    if (--*left == 0) {
                      done();
                    }
                  },
                  [=](caf::error&) mutable {
                    if (--*left == 0) {
                      done();
                    }
                  });
        }
        return rp;
      },
  };
}

} // namespace

caf::actor spawn_agent(caf::actor_system& sys, agent_config cfg) {
  // Detached: the agent prepares module folders and cgroups, records what runs, ends a dead
  // predecessor's leftovers and reads module logs (GetModuleLogs): file-system work that must
  // not hold a thread of the shared scheduler.
  return sys.spawn<caf::detached>(agent_behavior, std::move(cfg));
}

} // namespace outpost::actors
