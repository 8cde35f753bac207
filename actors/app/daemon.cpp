#include "actors/app/daemon.hpp"

#include "actors/app/admin_api.hpp"
#include "actors/app/agent_setup.hpp"
#include "actors/app/deployment_source.hpp"
#include "actors/app/hub_setup.hpp"
#include "actors/app/io_scheduler.hpp"
#include "actors/app/service_api.hpp"
#include "actors/app/status_page.hpp"
#include "actors/common/counter_registry.hpp"
#include "actors/common/messages.hpp"
#include "actors/common/process_metrics.hpp"
#include "actors/common/storage_writer.hpp"
#include "actors/common/store_metrics.hpp"
#include "actors/common/summary_registry.hpp"
#include "actors/workload/identity_registry.hpp"
#include "protocols/iothub/encoding.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/http_server.hpp"
#include "protocols/transport/tls_context.hpp"
#include "storage/agent_store.hpp"
#include "storage/errc.hpp"
#include "storage/memory_kv_store.hpp"
#include "storage/rocksdb/rocksdb_kv_store.hpp"
#include "supervisor/config/build_info.hpp"
#include "supervisor/config/data_dir.hpp"

#include <caf/all.hpp>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include <sys/resource.h>

namespace outpost::app {

namespace fs = std::filesystem;

namespace {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Waits up to `timeout` for SIGTERM/SIGINT (blocked in every thread); true if one came.
bool stop_requested_within(std::chrono::seconds timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  timespec ts{static_cast<time_t>(timeout.count()), 0};
  return ::sigtimedwait(&set, nullptr, &ts) > 0;
}

/// Opens the configured engine; nullptr (after logging why) when it cannot, or when asked to
/// stop while waiting for disk space (`stopped`). `quota` gets storage.max_size_bytes, or its
/// automatic value from the filesystem when that is 0 (storage/README.md, "Disk space").
std::shared_ptr<storage::kv_store> open_engine(const daemon_config& cfg, std::uint64_t& quota,
                                               bool& stopped) {
  quota = cfg.storage.max_size_bytes;
  if (cfg.storage.mode == durability::memory) {
    return std::make_shared<storage::memory_kv_store>();
  }
  const auto path = fs::path{cfg.storage.dir} / "db";
  storage::rocksdb_options o;
  o.path = path.string();
  o.sync = cfg.storage.mode == durability::fsync;
  o.log = [](std::string_view line) {
    spdlog::warn("[rocksdb] {}", line);
  };
  for (;;) {
    std::string why;
    auto kv = storage::rocksdb_kv_store::open(o, why);
    if (kv) {
      const auto& plan = (*kv)->plan();
      if (quota > plan.auto_quota_bytes) {
        spdlog::warn(
            "[storage] max_size_bytes {} is above the automatic quota {} of this {}-byte "
            "filesystem: the disk's headroom may refuse appends first (storage/README.md)",
            quota, plan.auto_quota_bytes, plan.filesystem_bytes);
      }
      if (quota == 0) {
        quota = plan.auto_quota_bytes;
        spdlog::info(
            "[storage] quota {} bytes: (filesystem {} - reserve {} - headroom {}) / 2 "
            "(storage.max_size_bytes = 0)",
            quota, plan.filesystem_bytes, plan.reserve_bytes, plan.headroom_bytes);
      }
      return std::shared_ptr<storage::kv_store>{std::move(*kv)};
    }
    if (kv.error() != storage::errc::disk_full) {
      spdlog::critical("[storage] cannot open RocksDB at {}: {}", path.string(), why);
      return nullptr;
    }
    // Not a crash loop: wait here for space (or SIGTERM); `outpost check` shows the disk.
    spdlog::error(
        "[storage] the disk under {} is full, cannot open the store ({}): retrying "
        "in 5 s",
        path.string(), why);
    if (stop_requested_within(std::chrono::seconds(5))) {
      stopped = true;
      return nullptr;
    }
  }
}

/// Writes `{"<listen key>": "host:port", ...}` atomically (write, then rename).
bool write_ports(const fs::path& file,
                 const std::vector<std::pair<std::string, std::string>>& ports) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream out{tmp, std::ios::trunc};
    out << "{";
    for (std::size_t i = 0; i < ports.size(); ++i) {
      out << (i ? ", " : "") << '"' << ports[i].first << "\": \"" << ports[i].second << '"';
    }
    out << "}\n";
    if (!out) {
      return false;
    }
  }
  // Addresses only: readable by the CLI of any user, as before the umask of 077.
  fs::permissions(tmp,
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read
                      | fs::perms::others_read,
                  ec);
  fs::rename(tmp, file, ec);
  return !ec;
}

/// The HTTP surface: /metrics (Prometheus text), /healthz (the store answers) and the status
/// page (`/`, `status.*`).
transport::http_handler http_routes(caf::actor_system& sys, actors::writer_actor writer,
                                    std::shared_ptr<prometheus::Registry> registry,
                                    std::shared_ptr<actors::summary_registry> summaries,
                                    std::shared_ptr<actors::counter_registry> counters,
                                    std::shared_ptr<const status_page_sources> page) {
  auto process = std::make_shared<actors::process_metrics>();
  return [&sys, writer, registry, summaries, counters, process,
          page](const transport::http_request& req) {
    const auto path = req.target.substr(0, req.target.find('?'));
    if (req.method != "GET") {
      return transport::http_response{405, "text/plain", "method not allowed\n"};
    }
    if (path == "/metrics") {
      auto families = registry->Collect();
      for (auto more : {counters->Collect(), summaries->Collect(), process->Collect()}) {
        families.insert(families.end(), more.begin(), more.end());
      }
      return transport::http_response{200, "text/plain; version=0.0.4; charset=utf-8",
                                      prometheus::TextSerializer{}.Serialize(families)};
    }
    if (path == "/healthz") {
      caf::scoped_actor self{sys};
      transport::http_response res{503, "application/json",
                                   "{\"status\":\"unavailable\",\"reason\":\"store\"}\n"};
      self->request(writer, std::chrono::seconds(2), actors::stats_atom::value)
          .receive(
              [&](actors::store_report& r) {
                // 503 while publishers are not acknowledged for want of space.
                const std::string status = r.disk_full ? "disk_full" : r.full ? "full" : "ok";
                res = {status == "ok" ? 200u : 503u, "application/json",
                       "{\"status\":\"" + status
                           + "\",\"store_used_bytes\":" + std::to_string(r.used_bytes)
                           + ",\"store_quota_bytes\":" + std::to_string(r.max_size_bytes)
                           + ",\"disk_free_bytes\":" + std::to_string(r.disk_free_bytes)
                           + ",\"queues\":" + std::to_string(r.queues.size()) + "}\n"};
              },
              [&](caf::error&) {});
      return res;
    }
    if (auto r = status_page(*page, req)) {
      return *r;
    }
    return transport::http_response{404, "text/plain", "not found\n"};
  };
}

int wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

/// What the listeners need from the daemon's start-up.
struct core_actors {
  actors::writer_actor writer;
  actors::registry_actor id_registry;
  caf::group sessions; ///< the hub's sessions; the registry announces changes to it
  std::shared_ptr<storage::kv_store> kv;
  std::shared_ptr<actors::identity_snapshot> identities;
  std::shared_ptr<prometheus::Registry> registry;
  /// The hub's per-message summaries (constant-cost quantiles), collected with `registry`.
  std::shared_ptr<actors::summary_registry> summaries;
  /// The hub's counters with a series per identity, collected with `registry`.
  std::shared_ptr<actors::counter_registry> counters;
};

/// Starts the HTTP surfaces and the hub, writes ports.json, waits for SIGTERM/SIGINT, then
/// closes everything it started. Returns the exit code.
int serve(const daemon_config& cfg, caf::actor_system& sys, transport::io_runner& io,
          core_actors core) {
  std::vector<std::pair<std::string, std::string>> ports;
  std::string why;
  // The deployment is read once here and handed to both; afterwards the deployment source is
  // its only reader.
  // The manifest file and the service API's applyConfigurationContent: the newer is in force.
  const auto applied_path = (fs::path{cfg.storage.dir} / "deployment" / "applied.json").string();
  deployment_origin origin;
  std::optional<deployment_read> deployment =
      read_initial_deployment(cfg.agent.manifest, applied_path, origin);
  // The service API's policy key: read by every HTTPS request and by AMQP service callers,
  // replaced by a rotation once the new one is durable (column `agent`); known once the agent
  // has started.
  auto service_key = std::make_shared<service_key_snapshot>();
  auto hub = start_hub(cfg,
                       {sys, io, core.writer, core.identities, core.kv, core.sessions,
                        *core.registry, *core.summaries, *core.counters, ports,
                        deployment ? &deployment->hub : nullptr, service_key, core.id_registry},
                       why);
  if (!hub) {
    spdlog::critical("[hub] {}", why);
    return exit_failure;
  }
  const auto ca_key = (fs::path{hub->tls().ca}.parent_path() / "edge-ca.key.pem").string();
  auto agent = start_agent(
      cfg,
      {sys, io, core.kv, core.writer, core.id_registry, core.identities, *core.registry,
       hub->tls().ca, ca_key, ports, deployment ? std::optional{deployment->agent} : std::nullopt},
      why);
  core.kv.reset(); // read at start-up only; the writer owns the engine now
  if (!agent) {
    spdlog::critical("[agent] {}", why);
    return exit_failure;
  }
  auto origin_snapshot = std::make_shared<deployment_origin_snapshot>();
  caf::actor source =
      spawn_deployment_source(sys,
                              {cfg.agent.manifest, applied_path, std::chrono::milliseconds{1000},
                               agent->agent, hub->deployment_sink(), origin_snapshot, wall_ms},
                              deployment, origin);
  struct stop_source { // every return below ends it
    caf::actor& a;
    ~stop_source() {
      if (a) {
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      }
    }
  } source_guard{source};
  hub->set_upstream_hooks({source, [view = agent->view] {
                             return view->get()->reported_json;
                           }});
  std::unique_ptr<transport::http_server> http;
  if (!cfg.listen.metrics.empty()) {
    auto s = transport::http_server::start(
        io, cfg.listen.metrics,
        http_routes(sys, core.writer, core.registry, core.summaries, core.counters,
                    std::make_shared<const status_page_sources>(
                        status_page_sources{&sys,
                                            core.writer,
                                            {agent->agent, agent->view},
                                            hub->status(),
                                            hub->routes(),
                                            hub->upstream(),
                                            cfg.device_id})));
    if (!s) {
      spdlog::critical("[http] cannot listen on {} (listen.metrics): {}", cfg.listen.metrics,
                       s.error().message());
      return exit_failure;
    }
    http = std::move(*s);
    ports.emplace_back("metrics", http->bound_address());
    spdlog::info("[http metrics] listening on {}", http->bound_address());
  }
  const auto path = admin_socket_path(cfg);
  std::error_code ec;
  fs::create_directories(fs::path{path}.parent_path(), ec);
  if (!secure_admin_dir(fs::path{path}.parent_path().string(), cfg.listen.admin_group, why)) {
    spdlog::critical("[http admin] {}", why);
    return exit_failure;
  }
  service_key->set(std::make_shared<const std::string>(agent->service_key));
  std::function<result<std::string>()> rotate_service_key = [&sys, writer = core.writer,
                                                             service_key]() -> result<std::string> {
    const auto raw = transport::random_bytes(storage::agent_records::master_key_size);
    std::error_code failed = std::make_error_code(std::errc::timed_out);
    caf::scoped_actor self{sys};
    self->request(writer, std::chrono::seconds(30), actors::records_atom::value,
                  storage::agent_batches::service_key(raw), true)
        .receive([&](actors::records_reply& r) { failed = r.error; }, [](caf::error&) {});
    if (failed) {
      return failed;
    }
    auto key = iothub::base64_encode(raw);
    service_key->set(std::make_shared<const std::string>(key));
    spdlog::info("[service api] the iothubowner key was rotated");
    return key;
  };
  auto admin = transport::http_server::start_local(
      io, path,
      admin_routes(sys, core.id_registry, core.identities, cfg, hub->tls().ca, hub->status(),
                   {agent->agent, agent->view}, hub->monitor(), hub->twins(), hub->methods(),
                   hub->c2d(), service_key, rotate_service_key, origin_snapshot, hub->upstream()));
  if (!admin) {
    spdlog::critical("[http admin] cannot listen on {} (listen.admin_socket): {}", path,
                     admin.error().message());
    return exit_failure;
  }
  ports.emplace_back("admin_socket", path);
  spdlog::info("[http admin] listening on {}", (*admin)->bound_address());
  std::unique_ptr<transport::http_server> https;
  if (!cfg.listen.https.empty()) {
    service_api_deps sd;
    sd.sys = &sys;
    sd.registry = core.id_registry;
    sd.identities = core.identities;
    sd.cfg = cfg;
    sd.policy_key = service_key;
    sd.agent = {agent->agent, agent->view};
    sd.twins = hub->twins();
    sd.methods = hub->methods();
    sd.c2d = hub->c2d();
    sd.deployment_source = source;
    sd.origin = origin_snapshot;
    sd.hub_status = hub->status();
    // The hub's certificate; no client certificates asked for (the API takes SAS tokens).
    // Asks for a client certificate (optional): X.509 devices over MqttWs and AmqpWs present
    // theirs here; the service API's callers present none.
    auto tls = transport::tls_server_context::create(hub->tls(), true, why);
    if (!tls) {
      spdlog::critical("[https] {}", why);
      return exit_failure;
    }
    // IoT Hub's port 443 also carries MQTT over WebSockets.
    auto s =
        transport::http_server::start_tls(io, cfg.listen.https, std::move(*tls),
                                          service_routes(std::move(sd)), 1024, hub->websockets());
    if (!s) {
      spdlog::critical("[https] cannot listen on {} (listen.https): {}", cfg.listen.https,
                       s.error().message());
      return exit_failure;
    }
    https = std::move(*s);
    ports.emplace_back("https", https->bound_address());
    spdlog::info("[https] listening on {} (IoT Hub's HTTPS API)", https->bound_address());
  }
  const auto ports_file = fs::path{cfg.storage.dir} / "run" / "ports.json";
  if (!write_ports(ports_file, ports)) {
    spdlog::critical("[outpostd] cannot write {}", ports_file.string());
    return exit_failure;
  }
  spdlog::info("[outpostd {}] ready", cfg.device_id);
  const int sig = wait_for_signal();
  spdlog::info("[outpostd {}] {} received, shutting down", cfg.device_id,
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
  fs::remove(ports_file, ec);
  if (source) { // no deployment change while shutting down
    caf::anon_send_exit(source, caf::exit_reason::user_shutdown);
    source = nullptr;
  }
  agent->stop(); // modules first: they are clients of the hub
  return exit_ok;
} // servers stop, then the hub (reverse order of construction); the I/O threads outlive the
  // actor system (its actors may run on them)

/// Connections are file descriptors: the soft limit (often 1024) goes up to the hard one.
void raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      spdlog::warn("[outpostd] cannot raise the fd limit to {}", lim.rlim_max);
    }
  }
}

} // namespace

int run_daemon(const daemon_config& cfg) {
  raise_fd_limit();
  spdlog::info("[outpostd {}] starting version {} ({}), durability {}, storage {}", cfg.device_id,
               build_version(), build_commit(), to_string(cfg.storage.mode), cfg.storage.dir);
  std::vector<app::loose_path> tightened;
  std::string why;
  if (!secure_data_dir(cfg.storage.dir, tightened, why)) {
    spdlog::critical("[storage] cannot create or secure {}: {}", cfg.storage.dir, why);
    return exit_failure;
  }
  for (const auto& t : tightened) { // left by an older version, or by hand
    spdlog::warn("[storage] {} was {:o}, readable beyond outpostd: now at most {:o}", t.path,
                 t.mode, t.wanted);
  }
  std::uint64_t quota = 0;
  bool stopped = false;
  auto kv = open_engine(cfg, quota, stopped);
  if (!kv) {
    return stopped ? exit_ok : exit_failure;
  }

  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildGauge()
      .Name("outpost_build_info")
      .Help("Version and commit of the running outpostd (always 1)")
      .Register(*registry)
      .Add({{"version", build_version()}, {"commit", build_commit()}})
      .Set(1);
  auto metrics = std::make_shared<actors::store_metrics>(*registry);

  // One I/O thread fewer than the cores: the storage writer's syncs and RocksDB's flushes need
  // a core of their own. On 2 cores, two I/O threads (one io_context) mostly woke each other
  // (Asio's leader/follower) and competed with the writer: 10k msgs/s cost 56-65 instead of
  // 44-47 µs of CPU per message (README, "I/O threads").
  const auto cores = std::max(1u, std::thread::hardware_concurrency());
  const auto io_threads = cfg.runtime.io_threads ? cfg.runtime.io_threads : std::max(1u, cores - 1);
  // Declared before the actor system, so it is destroyed after it: with the "io" scheduler
  // the actors run on these threads until the system has waited for them.
  transport::io_runner io{io_threads};
  const bool actors_on_io = cfg.runtime.scheduler == "io";
  caf::actor_system_config sys_cfg;
  if (actors_on_io) {
    actors::use_io_scheduler(sys_cfg, io);
  } else {
    sys_cfg.set("scheduler.max-threads",
                static_cast<std::size_t>(cfg.runtime.threads ? cfg.runtime.threads : cores));
    sys_cfg.set("scheduler.policy", caf::atom_from_string(cfg.runtime.scheduler));
  }
  caf::actor_system sys{sys_cfg};

  actors::storage_writer_config wcfg;
  wcfg.kv = kv;
  wcfg.max_size_bytes = quota;
  wcfg.now_ms = wall_ms;
  wcfg.cleanup_interval = std::chrono::milliseconds{cfg.storage.cleanup_interval_ms};
  wcfg.cleanup_budget = cfg.storage.cleanup_budget;
  if (cfg.storage.mode == durability::fsync) {
    wcfg.group_commit = std::chrono::microseconds{cfg.storage.group_commit_us};
  }
  wcfg.metrics = metrics;
  auto writer = actors::spawn_storage_writer(sys, std::move(wcfg));
  if (!writer) {
    spdlog::critical("[storage] cannot load the message store: {}", writer.error().message());
    return exit_failure;
  }
  auto identities = std::make_shared<actors::identity_snapshot>();
  auto sessions = sys.groups().anonymous();
  auto id_registry = actors::spawn_identity_registry(
      sys, {kv, *writer, identities, cfg.device_id,
            [] { return iothub::base64_encode(transport::random_bytes(32)); }, wall_ms, sessions});
  if (!id_registry) {
    spdlog::critical("[identities] cannot load the identity registry: {}",
                     id_registry.error().message());
    caf::anon_send_exit(*writer, caf::exit_reason::user_shutdown);
    return exit_failure;
  }
  const int code = serve(
      cfg, sys, io,
      {*writer, *id_registry, sessions, kv, identities, registry,
       std::make_shared<actors::summary_registry>(), std::make_shared<actors::counter_registry>()});
  // Threads that spawned actors or used scoped actors hold CAF's logger until they end, and
  // the actor system's destructor waits for the logger: they end first. With the "io"
  // scheduler the I/O threads still run the actors until the system has waited for them (its
  // scheduler releases their references); otherwise they are done now.
  if (actors_on_io) {
    io.stop_handlers();
  } else {
    io.stop();
  }
  // Every actor is told to exit; the actor system's destructor then waits for them.
  caf::anon_send_exit(*writer, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(*id_registry, caf::exit_reason::user_shutdown);
  return code;
}

} // namespace outpost::app
