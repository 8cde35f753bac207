#include "actors/app/agent_setup.hpp"

#include "actors/agent/agent.hpp"
#include "actors/agent/agent_messages.hpp"
#include "actors/agent/agent_metrics.hpp"
#include "actors/common/messages.hpp"
#include "actors/workload/workload_api.hpp"
#include "protocols/iothub/encoding.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/http_server.hpp"
#include "storage/agent_store.hpp"
#include "storage/kv_store.hpp"
#include "supervisor/config/build_info.hpp"
#include "supervisor/runtime/confinement.hpp"
#include "supervisor/runtime/process_host.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <sys/stat.h>
#include <unistd.h>

namespace outpost::app {

namespace {

namespace fs = std::filesystem;

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// A secret made once and kept in the store (written by the storage writer; start-up waits for
/// it): the workload API's master key, the service API's policy key.
std::string stored_secret(caf::actor_system& sys, const actors::writer_actor& writer,
                          const std::optional<std::string>& stored,
                          storage::write_batch (*batch)(std::string_view), const char* what) {
  if (stored) {
    return *stored;
  }
  auto key = transport::random_bytes(storage::agent_records::master_key_size);
  caf::scoped_actor self{sys};
  self->request(writer, std::chrono::seconds(30), actors::records_atom::value, batch(key), true)
      .receive(
          [what](actors::records_reply& r) {
            if (r.error) {
              spdlog::error("[agent] cannot store the {}: {}", what, r.error.message());
            }
          },
          [what](caf::error& err) {
            spdlog::error("[agent] cannot store the {}: {}", what, to_string(err));
          });
  return key;
}

/// Where modules find the hub: `hostname`, with the MQTT/TLS port when it is not 8883.
std::string gateway_hostname(const daemon_config& cfg,
                             const std::vector<std::pair<std::string, std::string>>& ports) {
  for (const auto& [key, address] : ports) {
    if (key == "mqtt_tls") {
      const auto port = address.substr(address.rfind(':') + 1);
      return port == "8883" ? cfg.hostname : cfg.hostname + ":" + port;
    }
  }
  return cfg.hostname;
}

/// Sets `mode` on `dir` (created if missing), whatever the umask made of it.
void set_mode(const std::string& dir, mode_t mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), mode);
}

/// Lets module uids traverse to the workload socket and their private folders: `dir` keeps
/// its owner's bits, its group and others get search (x) only, never read or write.
void traversable(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    ::chmod(dir.c_str(), (st.st_mode & 07700) | 0011);
  }
}

/// A stable short id of this outpostd's storage folder (FNV-1a 64): names its cgroup folder,
/// so that two daemons never share one and a restart finds its predecessor's.
std::string instance_id(const std::string& storage_dir) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : fs::absolute(storage_dir).lexically_normal().string()) {
    h = (h ^ c) * 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

/// The cgroup folder for the modules, or "" (with the reason in `note`).
std::string module_cgroup_dir(const daemon_config& cfg, std::string& note) {
  if (cfg.agent.cgroup.empty()) {
    note = "no cgroups ([agent] cgroup = \"\")";
    return {};
  }
  std::string dir = cfg.agent.cgroup;
  if (dir == "auto") {
    const auto mount = supervisor::cgroup2_mount();
    if (mount.empty()) {
      note = "no cgroups (no cgroup v2 mounted)";
      return {};
    }
    dir = mount + "/outpost/" + instance_id(cfg.storage.dir);
  }
  if (auto why = supervisor::prepare_cgroup(dir + "/.probe"); !why.empty()) {
    note = "no cgroups (" + why + ")";
    return {};
  }
  std::error_code ec;
  fs::remove(dir + "/.probe", ec);
  note = "cgroups under " + dir;
  return dir;
}

} // namespace

std::string workload_socket_path(const daemon_config& cfg) {
  return cfg.listen.workload_socket.empty() ? cfg.storage.dir + "/run/workload/workload.sock"
                                            : cfg.listen.workload_socket;
}

agent_runtime::~agent_runtime() {
  stop();
}

void agent_runtime::stop() {
  if (!sys || !agent) {
    return;
  }
  caf::scoped_actor self{*sys};
  self->request(agent, stop_timeout, actors::shutdown_atom::value)
      .receive([](bool) {},
               [](caf::error& err) { spdlog::warn("[agent] shutdown: {}", to_string(err)); });
  if (workload) {
    workload->stop();
  }
  caf::anon_send_exit(agent, caf::exit_reason::user_shutdown);
  agent = nullptr;
  supervisor::remove_empty_cgroups(cgroup_dir); // a populated one stays (rmdir refuses)
}

std::unique_ptr<agent_runtime> start_agent(const daemon_config& cfg, agent_deps deps,
                                           std::string& why) {
  auto rt = std::make_unique<agent_runtime>();
  rt->sys = &deps.sys;
  rt->view = std::make_shared<actors::agent_view>();
  rt->host = std::make_shared<supervisor::process_host>(
      supervisor::log_limits{cfg.agent.log_max_bytes, static_cast<int>(cfg.agent.log_files)});
  rt->stop_timeout = std::chrono::seconds(cfg.agent.stop_grace_secs + 10);

  const auto socket = workload_socket_path(cfg);
  std::error_code ec;
  const auto socket_dir = fs::absolute(socket).lexically_normal().parent_path();
  const auto admin_dir = fs::absolute(admin_socket_path(cfg)).lexically_normal().parent_path();
  // Docker modules get the workload socket's folder bind-mounted: the admin socket must not be
  // in it (or below it).
  if (admin_dir.string().rfind(socket_dir.string(), 0) == 0) {
    why = "the workload socket's folder " + socket_dir.string()
          + " would also hold the admin socket (listen.workload_socket, listen.admin_socket): "
            "containers get that folder";
    return nullptr;
  }
  if (cfg.agent.module_uid_min > cfg.agent.module_uid_max) {
    why = "agent.module_uid_min is above agent.module_uid_max";
    return nullptr;
  }
  fs::create_directories(socket_dir, ec);
  // Module uids must reach the socket: every folder above it is searchable (not listable).
  set_mode(socket_dir.string(), 0755);
  const auto storage = fs::absolute(cfg.storage.dir).lexically_normal();
  if (socket_dir.string().rfind(storage.string() + "/", 0)
      == 0) { // ours; elsewhere: the operator's
    for (auto d = socket_dir.parent_path(); d.string().size() >= storage.string().size();
         d = d.parent_path()) {
      traversable(d.string());
    }
  }
  // Column `agent` is read once, here; from now on the agent keeps it and the writer writes it.
  const auto& writer = deps.writer;
  auto stored = storage::load_agent_records(*deps.kv);
  if (!stored) {
    why = "cannot read the agent's state from the store: " + stored.error().message();
    return nullptr;
  }
  actors::workload_config wl{
      cfg.device_id,
      deps.identities,
      rt->view,
      deps.ca_cert_file,
      deps.ca_key_file,
      stored_secret(deps.sys, writer, stored->master_key, storage::agent_batches::master_key,
                    "workload API's encryption key"),
      cfg.hostname};
  rt->service_key = iothub::base64_encode(stored_secret(deps.sys, writer, stored->service_key,
                                                        storage::agent_batches::service_key,
                                                        "service API's policy key"));
  auto server = transport::http_server::start_local(deps.io, socket,
                                                    actors::workload_routes(std::move(wl)), 0666);
  if (!server) {
    why = "cannot listen on " + socket + " (listen.workload_socket): " + server.error().message();
    return nullptr;
  }
  // Modules run as other users: the socket is 0666; the caller check (uid) guards it.
  rt->workload = std::move(*server);
  deps.ports.emplace_back("workload_socket", socket);
  spdlog::info("[http workload] listening on unix:{}", socket);

  actors::agent_config ac;
  ac.manifest_path = cfg.agent.manifest;
  ac.initial = std::move(deps.deployment);
  ac.modules_dir = fs::absolute(cfg.storage.dir + "/modules").lexically_normal().string();
  set_mode(ac.modules_dir, 0700); // module logs: outpostd only
  ac.homes_dir = fs::absolute(cfg.storage.dir + "/home").lexically_normal().string();
  set_mode(ac.homes_dir, 0711); // each module's own folder below is 0700, its uid's
  ac.run_dir = fs::absolute(cfg.storage.dir + "/run/modules").lexically_normal().string();
  set_mode(ac.run_dir, 0700);
  traversable(fs::absolute(cfg.storage.dir).lexically_normal().string());
  ac.confine = ::geteuid() == 0;
  ac.uid_min = cfg.agent.module_uid_min;
  ac.uid_max = cfg.agent.module_uid_max;
  std::string cgroup_note;
  ac.cgroup_dir = ac.confine ? module_cgroup_dir(cfg, cgroup_note) : std::string{};
  rt->cgroup_dir = ac.cgroup_dir;
  if (!ac.confine) {
    cgroup_note = "no cgroups (outpostd is not root)";
  }
  ac.confinement =
      ac.confine
          ? "process modules run as their own uid (" + std::to_string(ac.uid_min) + "-"
                + std::to_string(ac.uid_max) + "), own session, no_new_privs, " + cgroup_note
          : "outpostd is not root (uid " + std::to_string(::geteuid())
                + "): process modules run as outpostd's own user and can read its files, "
                  "including the store's keys; own session and no_new_privs only, "
                + cgroup_note;
  spdlog::info("[agent] confinement: {}", ac.confinement);
  { // known from the start, before the agent's first report (`outpost check`)
    auto initial = std::make_shared<actors::agent_view_data>(*rt->view->get());
    initial->confined = ac.confine;
    initial->confinement = ac.confinement;
    rt->view->set(std::move(initial));
  }
  ac.device_id = cfg.device_id;
  ac.iothub_hostname = cfg.iothub_hostname.empty() ? cfg.hostname : cfg.iothub_hostname;
  ac.gateway_hostname = gateway_hostname(cfg, deps.ports);
  ac.workload_uri = "unix://" + fs::absolute(socket).lexically_normal().string();
  ac.container_engine = cfg.agent.container_engine;
  ac.stored = std::move(*stored);
  ac.writer = writer;
  ac.identities = deps.id_registry;
  ac.identity_table = deps.identities;
  ac.restart.max_restarts = cfg.agent.max_restarts;
  ac.restart.cool_off_unit_ms = std::int64_t{cfg.agent.cool_off_secs} * 1000;
  ac.restart.intensive_care_ms = std::int64_t{cfg.agent.intensive_care_minutes} * 60'000;
  ac.stop_grace = std::chrono::seconds(cfg.agent.stop_grace_secs);
  ac.host = rt->host;
  ac.view = rt->view;
  ac.metrics = std::make_shared<actors::agent_metrics>(deps.registry, cfg.storage.dir);
  ac.now_ms = wall_ms;
  ac.version = build_version();
  ac.commit = build_commit();
  rt->agent = actors::spawn_agent(deps.sys, std::move(ac));
  return rt;
}

} // namespace outpost::app
