#include "actors/app/hub_setup.hpp"

#include "actors/hub/amqp_session.hpp"
#include "actors/hub/c2d_queues.hpp"
#include "actors/hub/endpoint_link.hpp"
#include "actors/hub/hub_metrics.hpp"
#include "actors/hub/method_router.hpp"
#include "actors/hub/mqtt_listener.hpp"
#include "actors/hub/route_loader.hpp"
#include "actors/hub/scope_sync.hpp"
#include "actors/hub/session_directory.hpp"
#include "actors/hub/session_ticker.hpp"
#include "actors/hub/twin_registry.hpp"
#include "actors/hub/upstream_link.hpp"
#include "protocols/transport/http_client.hpp"
#include "protocols/transport/tls_context.hpp"

#include <caf/all.hpp>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include <sys/resource.h>

namespace outpost::app {

struct hub_runtime::parts {
  transport::tls_files tls;
  std::shared_ptr<actors::routes_snapshot> routes;
  actors::directory_actor directory;
  actors::twin_registry_actor twins;
  actors::method_router_actor methods;
  actors::c2d_actor c2d;
  caf::group sessions;
  caf::actor_system* sys = nullptr;
  actors::edgehub_config edgehub; ///< where a deployment's `$edgeHub` section goes
  std::shared_ptr<actors::monitor_feed> monitor = std::make_shared<actors::monitor_feed>();
  std::shared_ptr<actors::edgehub_status_snapshot> status =
      std::make_shared<actors::edgehub_status_snapshot>();
  std::shared_ptr<actors::live_count> live = std::make_shared<actors::live_count>();
  std::vector<std::unique_ptr<transport::stream_server>> listeners;
  std::shared_ptr<const actors::hub_services> services; ///< what every session runs on
  caf::actor upstream;                                  ///< the upstream link; null when standalone
  caf::actor scope_sync; ///< the child edge's scope sync; null when standalone
  /// Ends the scope sync's call in flight at stop (a silent parent would hold it 10 s).
  std::shared_ptr<transport::cancel_source> scope_cancel =
      std::make_shared<transport::cancel_source>();
  std::vector<caf::actor> endpoints; ///< one link per `[endpoints.<name>]`
  caf::actor ticker;                 ///< wakes the sessions at their deadlines (`session_ticker`)
  std::shared_ptr<actors::upstream_hooks_snapshot> upstream_hooks =
      std::make_shared<actors::upstream_hooks_snapshot>();
  std::shared_ptr<actors::upstream_status_snapshot> upstream_status =
      std::make_shared<actors::upstream_status_snapshot>();
  std::size_t max_connections = 0; ///< per listener
};

hub_runtime::hub_runtime(std::unique_ptr<parts> p) : parts_(std::move(p)) {}

hub_runtime::~hub_runtime() {
  stop();
}

const transport::tls_files& hub_runtime::tls() const {
  return parts_->tls;
}

std::shared_ptr<actors::edgehub_status_snapshot> hub_runtime::status() const {
  return parts_->status;
}

void hub_runtime::set_upstream_hooks(actors::upstream_hooks hooks) {
  parts_->upstream_hooks->set(std::make_shared<const actors::upstream_hooks>(std::move(hooks)));
}

std::shared_ptr<actors::routes_snapshot> hub_runtime::routes() const {
  return parts_->routes;
}

std::shared_ptr<actors::upstream_status_snapshot> hub_runtime::upstream() const {
  return parts_->upstream_status;
}

std::shared_ptr<actors::monitor_feed> hub_runtime::monitor() const {
  return parts_->monitor;
}

actors::twin_registry_actor hub_runtime::twins() const {
  return parts_->twins;
}

actors::method_router_actor hub_runtime::methods() const {
  return parts_->methods;
}

actors::c2d_actor hub_runtime::c2d() const {
  return parts_->c2d;
}

namespace {

/// A connection's handler that keeps `outpost_connections{protocol, transport}` while it is open.
class counted_handler final : public transport::stream_handler {
public:
  counted_handler(std::shared_ptr<transport::stream_handler> inner, prometheus::Gauge* open)
      : inner_(std::move(inner)),
        open_(open) {
    open_->Increment();
  }
  void on_data(std::string_view bytes) override { inner_->on_data(bytes); }
  void on_closed(std::error_code ec) override {
    open_->Decrement();
    inner_->on_closed(ec);
  }

private:
  std::shared_ptr<transport::stream_handler> inner_;
  prometheus::Gauge* open_;
};

transport::stream_server::accept_fn counted(transport::stream_server::accept_fn inner,
                                            actors::hub_metrics& metrics, const char* protocol,
                                            const char* over) {
  auto* open = &metrics.connections.Add({{"protocol", protocol}, {"transport", over}});
  return [inner = std::move(inner), open](std::shared_ptr<transport::stream_connection> conn)
             -> std::shared_ptr<transport::stream_handler> {
    auto handler = inner(std::move(conn));
    if (!handler) {
      return nullptr;
    }
    return std::make_shared<counted_handler>(std::move(handler), open);
  };
}

} // namespace

transport::websocket_options hub_runtime::websockets() const {
  transport::websocket_options ws;
  auto& metrics = *parts_->services->metrics;
  ws.protocols.emplace_back("mqtt", counted(actors::mqtt_acceptor(*parts_->sys, parts_->services),
                                            metrics, "mqtt", "websocket"));
  ws.protocols.emplace_back(
      "AMQPWSB10",
      counted(actors::amqp_acceptor(*parts_->sys, parts_->services), metrics, "amqp", "websocket"));
  ws.max_connections = parts_->max_connections;
  return ws;
}

std::function<bool(const actors::edgehub_deployment&)> hub_runtime::deployment_sink() const {
  return [sys = parts_->sys, cfg = parts_->edgehub](const actors::edgehub_deployment& d) {
    return actors::apply_edgehub(*sys, cfg, d);
  };
}

void hub_runtime::stop() {
  if (!parts_) {
    return;
  }
  for (auto& l : parts_->listeners) {
    l->stop();
  }
  // Sessions, mailboxes and the directory hold each other; exits break every cycle.
  caf::anon_send(parts_->sessions, actors::closed_atom::value);
  for (const auto& b : parts_->routes->get()->bindings()) {
    caf::anon_send_exit(actors::mailbox_of(b), caf::exit_reason::user_shutdown);
  }
  caf::anon_send_exit(parts_->directory, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(parts_->ticker, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(parts_->twins, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(parts_->methods, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(parts_->c2d, caf::exit_reason::user_shutdown); // and its mailboxes
  if (parts_->upstream) {
    caf::anon_send_exit(parts_->upstream, caf::exit_reason::user_shutdown);
    parts_->scope_cancel->cancel();
    caf::anon_send_exit(parts_->scope_sync, caf::exit_reason::user_shutdown);
  }
  for (const auto& e : parts_->endpoints) {
    caf::anon_send_exit(e, caf::exit_reason::user_shutdown);
  }
  // Sessions hold sockets and timers of the I/O runner, which the caller destroys next.
  if (const auto left = parts_->live->wait_zero(std::chrono::seconds{3}); left != 0) {
    spdlog::warn("[hub] {} sessions and mailboxes still running after 3 s", left);
  }
  parts_.reset();
}

namespace {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// `hub.max_connections`, or the fd limit minus what the daemon needs besides connections.
std::size_t max_connections(const daemon_config& cfg) {
  if (cfg.hub.max_connections != 0) {
    return cfg.hub.max_connections;
  }
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) {
    return 100000;
  }
  constexpr rlim_t reserve = 256; // RocksDB files, module pipes and pidfds, HTTP, logs
  return lim.rlim_cur > 2 * reserve ? static_cast<std::size_t>(lim.rlim_cur - reserve)
                                    : static_cast<std::size_t>(lim.rlim_cur / 2);
}

bool tls_files_for(const daemon_config& cfg, transport::tls_files& out, std::string& why) {
  if (!cfg.tls.cert.empty()) {
    out = {cfg.tls.cert, cfg.tls.key, cfg.tls.ca};
    return true;
  }
  auto generated = transport::ensure_edge_ca(cfg.storage.dir + "/certs", cfg.hostname, why);
  if (!generated) {
    why = "cannot create the edge CA under " + cfg.storage.dir + "/certs: " + why;
    return false;
  }
  out = *generated;
  return true;
}

/// `[upstream]`: the link to the parent (the trust bundle is read now: a bad one stops the
/// start with a clear message, not every later attempt).
bool start_upstream(const daemon_config& cfg, hub_runtime::parts& p, hub_deps& deps,
                    std::string& why) {
  const auto& u = cfg.upstream;
  actors::upstream_link_config link;
  link.websocket = u.protocol == "amqpws";
  auto address = u.parent_hostname.empty() ? u.hub_hostname + (link.websocket ? ":443" : ":5671")
                                           : u.parent_hostname;
  const auto colon = address.rfind(':');
  link.host = address.substr(0, colon);
  if (link.host.size() > 2 && link.host.front() == '[' && link.host.back() == ']') {
    link.host = link.host.substr(1, link.host.size() - 2);
  }
  link.port = static_cast<unsigned short>(std::stoi(address.substr(colon + 1)));
  link.hub_hostname = u.hub_hostname;
  link.device_id = u.device_id;
  link.key = u.key;
  std::string tls_why;
  auto tls = transport::tls_client_context::create(u.trust_bundle, tls_why);
  if (!tls) {
    why = "upstream.trust_bundle: " + tls_why;
    return false;
  }
  link.tls = *tls;
  link.hooks = p.upstream_hooks;
  link.on_state = [status = p.upstream_status, address, id = u.device_id](
                      const std::string& state, const std::string& error) {
    status->set(std::make_shared<const actors::upstream_status>(
        actors::upstream_status{state, error, address, id}));
  };
  p.upstream_status->set(std::make_shared<const actors::upstream_status>(
      actors::upstream_status{"trying", "", address, u.device_id}));
  actors::scope_sync_config scope;
  scope.https_address = u.parent_https.empty() ? link.host + ":443" : u.parent_https;
  if (u.parent_https.empty() && link.websocket) {
    scope.https_address = address; // amqpws: the same HTTPS listener
  } else if (u.parent_https.empty() && link.host.find(':') != std::string::npos) {
    scope.https_address = "[" + link.host + "]:443"; // an IPv6 literal
  }
  scope.hub_hostname = u.hub_hostname;
  scope.device_id = u.device_id;
  scope.key = u.key;
  scope.tls = link.tls;
  scope.registry = deps.id_registry;
  scope.identities = deps.identities;
  scope.interval = std::chrono::seconds(u.scope_refresh_secs);
  scope.now_ms = wall_ms;
  scope.cancel = p.scope_cancel;
  p.upstream = actors::spawn_upstream_link(deps.sys, p.services, std::move(link));
  p.scope_sync = actors::spawn_scope_sync(deps.sys, std::move(scope));
  spdlog::info("[upstream] {} forwards $upstream to {} as {}", cfg.device_id, address, u.device_id);
  return true;
}

/// `[endpoints.<name>]`: one link per broker (an `amqps://` trust bundle is read now, so a
/// bad one stops the start with a clear message).
bool start_endpoints(const daemon_config& cfg, hub_runtime::parts& p, hub_deps& deps,
                     std::string& why) {
  for (const auto& e : cfg.endpoints) {
    actors::endpoint_link_config link;
    link.name = e.name;
    link.host = e.host;
    link.port = e.port;
    link.user = e.user;
    link.password = e.password;
    link.address = e.address;
    if (e.tls) {
      std::string tls_why;
      auto tls = transport::tls_client_context::create(e.trust_bundle, tls_why);
      if (!tls) {
        why = "endpoints." + e.name + ".trust_bundle: " + tls_why;
        return false;
      }
      link.tls = *tls;
    }
    p.endpoints.push_back(actors::spawn_endpoint_link(deps.sys, p.services, std::move(link)));
    spdlog::info("[endpoint {}] routes to Endpoint(\"{}\") go to {}://{}:{} node {}", e.name,
                 e.name, e.tls ? "amqps" : "amqp", e.host, e.port, e.address);
  }
  return true;
}

} // namespace

std::unique_ptr<hub_runtime> start_hub(const daemon_config& cfg, hub_deps deps, std::string& why) {
  auto p = std::make_unique<hub_runtime::parts>();
  if (!tls_files_for(cfg, p->tls, why)) {
    return nullptr;
  }
  auto metrics =
      std::make_shared<actors::hub_metrics>(deps.registry, deps.summaries, deps.counters);
  p->routes = std::make_shared<actors::routes_snapshot>();
  p->sessions = deps.sessions;
  p->sys = &deps.sys;
  auto& edgehub = p->edgehub;
  const auto& writer = deps.writer;
  edgehub.manifest_path = cfg.agent.manifest;
  edgehub.edge_device_id = cfg.device_id;
  edgehub.mailboxes.writer = writer;
  edgehub.mailboxes.window = cfg.hub.delivery_window;
  edgehub.mailboxes.now_ms = wall_ms;
  edgehub.mailboxes.checkpoint_interval =
      std::chrono::milliseconds{cfg.storage.checkpoint_interval_ms};
  edgehub.mailboxes.live = p->live; // the stop waits for the route mailboxes' last checkpoints
  edgehub.routes = p->routes;
  edgehub.status = p->status;
  edgehub.sessions = p->sessions;
  for (const auto& e : cfg.endpoints) {
    edgehub.endpoint_names.push_back(e.name);
  }
  // A bad manifest leaves the hub running without routes and says so in its status (400);
  // the deployment source hands it the file once it is fixed.
  if (deps.deployment && !actors::apply_edgehub(deps.sys, edgehub, *deps.deployment)) {
    why = p->status->get()->description;
    return nullptr;
  }
  p->directory = actors::spawn_session_directory(deps.sys, writer, &metrics->connected_clients);
  p->twins = actors::spawn_twin_registry(deps.sys, {writer, deps.kv, wall_ms, deps.identities});
  p->methods = actors::spawn_method_router(deps.sys, wall_ms, metrics);
  p->c2d = actors::spawn_c2d_queues(
      deps.sys, {writer, cfg.hub.delivery_window, wall_ms, 50, deps.identities});

  auto hub = std::make_shared<actors::hub_services>();
  hub->writer = writer;
  hub->directory = p->directory;
  hub->twins = p->twins;
  hub->methods = p->methods;
  hub->c2d = p->c2d;
  hub->sessions = p->sessions;
  hub->live = p->live;
  hub->monitor = p->monitor;
  hub->identities = deps.identities;
  hub->routes = p->routes;
  hub->hostname = cfg.hostname;
  hub->hub_hostname = cfg.iothub_hostname.empty() ? cfg.hostname : cfg.iothub_hostname;
  hub->edge_device_id = cfg.device_id;
  hub->metrics = metrics;
  hub->limits.max_pending_in = cfg.hub.max_pending_in;
  hub->limits.max_inflight_out = 65535 - 1; // the mailboxes' windows bound what is in flight
  hub->limits.connect_timeout_ms = std::int64_t{cfg.hub.connect_timeout_secs} * 1000;
  hub->limits.max_keepalive_s = static_cast<std::uint16_t>(cfg.hub.max_keepalive_secs);
  hub->limits.max_subscriptions = cfg.hub.max_subscriptions;
  hub->max_output_bytes = cfg.hub.max_output_bytes;
  hub->output_stall_ms = std::int64_t{cfg.hub.output_stall_secs} * 1000;
  hub->now_ms = wall_ms;
  hub->service_key = deps.service_key;
  hub->core_settings = actors::core_settings(*hub); // after the fields it is made of
  hub->ticker = std::make_shared<actors::session_ticker>();
  hub->ticker_actor = actors::spawn_session_ticker(deps.sys, hub->ticker, hub->now_ms);
  p->ticker = hub->ticker_actor;
  p->services = hub;
  p->max_connections = max_connections(cfg);

  const std::pair<const char*, const std::string*> listeners[] = {
      {"mqtt_tls", &cfg.listen.mqtt_tls},
      {"mqtt", &cfg.listen.mqtt},
      {"amqp_tls", &cfg.listen.amqp_tls}};
  for (const auto& [key, address] : listeners) {
    if (address->empty()) {
      continue;
    }
    const std::string_view name{key};
    const bool tls = name != "mqtt";
    const bool amqp = name == "amqp_tls";
    transport::stream_options opts;
    opts.address = *address;
    opts.tls = tls ? &p->tls : nullptr;
    opts.handshake_timeout = std::chrono::seconds{cfg.hub.connect_timeout_secs};
    opts.max_connections = max_connections(cfg);
    opts.max_unauthenticated_per_source = cfg.hub.max_unauthenticated_per_source;
    auto accept =
        counted(amqp ? actors::amqp_acceptor(deps.sys, hub) : actors::mqtt_acceptor(deps.sys, hub),
                *metrics, amqp ? "amqp" : "mqtt", tls ? "tls" : "tcp");
    auto server = transport::stream_server::start(deps.io, opts, std::move(accept), why);
    if (!server) {
      why = std::string{"cannot listen on "} + *address + " (listen." + key
            + "): " + (why.empty() ? server.error().message() : why);
      hub_runtime cleanup{std::move(p)};
      return nullptr;
    }
    deps.ports.emplace_back(key, (*server)->bound_address());
    spdlog::info("[{}] listening on {}{}", amqp ? "amqp" : "mqtt", (*server)->bound_address(),
                 tls ? " (TLS)" : "");
    p->listeners.push_back(std::move(*server));
  }
  if ((cfg.upstream.enabled() && !start_upstream(cfg, *p, deps, why))
      || !start_endpoints(cfg, *p, deps, why)) {
    hub_runtime cleanup{std::move(p)};
    return nullptr;
  }
  return std::make_unique<hub_runtime>(std::move(p));
}

} // namespace outpost::app
