#include "actors/app/agent_setup.hpp"

#include "actors/agent/agent.hpp"
#include "actors/agent/agent_messages.hpp"
#include "actors/agent/agent_metrics.hpp"
#include "actors/agent/workload_api.hpp"
#include "actors/app/build_info.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/http_server.hpp"
#include "storage/kv_store.hpp"
#include "supervisor/runtime/process_host.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

namespace outpost::app {

namespace {

namespace fs = std::filesystem;

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// The key encrypt/decrypt derive their per-module keys from: made once, kept in the store.
std::string master_key(storage::kv_store& kv) {
  if (auto k = kv.get(storage::column::agent, "master_key"); k && *k && (*k)->size() == 32) {
    return **k;
  }
  auto key = transport::random_bytes(32);
  storage::write_batch b;
  b.put(storage::column::agent, "master_key", key);
  if (auto w = kv.write(b, storage::write_mode::durable); !w) {
    spdlog::error("[workload] cannot store the encryption key: {}", w.error().message());
  }
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

} // namespace

std::string workload_socket_path(const daemon_config& cfg) {
  return cfg.listen.workload_socket.empty() ? cfg.storage.dir + "/run/workload.sock"
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
  fs::create_directories(fs::path{socket}.parent_path(), ec);
  actors::workload_config wl{cfg.device_id,     deps.identities,  rt->view,
                             deps.ca_cert_file, deps.ca_key_file, master_key(*deps.kv)};
  auto server =
      transport::http_server::start_local(deps.io, socket, actors::workload_routes(std::move(wl)));
  if (!server) {
    why = "cannot listen on " + socket + " (listen.workload_socket): " + server.error().message();
    return nullptr;
  }
  // Modules run as other users too: they must reach the socket; the peer check guards it.
  fs::permissions(socket,
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read
                      | fs::perms::group_write | fs::perms::others_read | fs::perms::others_write,
                  ec);
  rt->workload = std::move(*server);
  deps.ports.emplace_back("workload_socket", socket);
  spdlog::info("[http workload] listening on unix:{}", socket);

  actors::agent_config ac;
  ac.manifest_path = cfg.agent.manifest;
  ac.modules_dir = fs::absolute(cfg.storage.dir + "/modules").lexically_normal().string();
  ac.device_id = cfg.device_id;
  ac.iothub_hostname = cfg.iothub_hostname.empty() ? cfg.hostname : cfg.iothub_hostname;
  ac.gateway_hostname = gateway_hostname(cfg, deps.ports);
  ac.workload_uri = "unix://" + fs::absolute(socket).lexically_normal().string();
  ac.container_engine = cfg.agent.container_engine;
  ac.kv = deps.kv;
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
