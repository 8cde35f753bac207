#include "actors/hub/route_watcher.hpp"

#include "actors/hub/mqtt_session.hpp"
#include "actors/hub/route_loader.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

namespace outpost::actors {

namespace {

using tick_watch_atom = caf::atom_constant<caf::atom("watch")>;

/// `$version` and `schemaVersion` of the `$edgeHub` desired properties in `text`, when present.
void read_versions(const std::string& text, edgehub_status& s) {
  auto doc = nlohmann::json::parse(text, nullptr, false);
  const nlohmann::json* desired = &doc;
  const auto ptr = nlohmann::json::json_pointer{"/modulesContent/$edgeHub/properties.desired"};
  if (doc.is_object() && doc.contains(ptr)) {
    desired = &doc[ptr];
  }
  if (!desired->is_object()) {
    return;
  }
  if (auto v = desired->find("$version"); v != desired->end() && v->is_number_integer()) {
    s.desired_version = v->get<std::int64_t>();
  }
  if (auto v = desired->find("schemaVersion"); v != desired->end() && v->is_string()) {
    s.schema_version = v->get<std::string>();
  }
}

} // namespace

std::string edgehub_reported_json(const edgehub_status& s) {
  nlohmann::json j{
      {"schemaVersion", s.schema_version},
      {"lastDesiredStatus", {{"code", s.code}, {"description", s.description}}},
      {"lastDesiredVersion", s.desired_version},
      {"routes", s.routes},
      {"manifest", s.manifest},
  };
  return j.dump();
}

std::optional<std::string> read_manifest(const std::string& path) {
  std::ifstream in{path};
  if (!in) {
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool apply_manifest(caf::actor_system& sys, const route_watcher_config& cfg,
                    const std::optional<std::string>& text) {
  const auto previous = cfg.status->get();
  edgehub_status next = *previous;
  next.manifest = cfg.manifest_path;
  // Without `$version` every document seen counts as the next version.
  next.desired_version = previous->desired_version + 1;
  auto reject = [&](int code, std::string why) {
    next.code = code;
    next.description = std::move(why);
    spdlog::error("[routes] {} rejected ({}), the previous routes stay: {}", cfg.manifest_path,
                  code, next.description);
    cfg.status->set(std::make_shared<const edgehub_status>(std::move(next)));
  };
  if (!text) {
    reject(400, "cannot read manifest " + cfg.manifest_path);
    return true;
  }
  read_versions(*text, next);
  auto table = routing::route_table::from_edgehub_desired(*text);
  if (auto* err = std::get_if<routing::route_error>(&table)) {
    reject(400, err->to_string());
    return true;
  }
  auto compiled = std::make_shared<const routing::route_table>(
      std::move(std::get<routing::route_table>(table)));
  const auto current = cfg.routes->get();
  auto bound = bind_routes(sys, cfg.writer, compiled, cfg.edge_device_id, cfg.delivery_window,
                           current.get());
  if (!bound) {
    reject(500, "cannot open the mailboxes of the routes: " + bound.error().message());
    return false;
  }
  cfg.routes->set(*bound);
  if (cfg.sessions) {
    caf::anon_send(cfg.sessions, routes_atom::value);
  }
  next.code = 200;
  next.description.clear();
  next.routes = compiled->size();
  spdlog::info("[routes] {} routes from {} (desired version {})", next.routes, cfg.manifest_path,
               next.desired_version);
  cfg.status->set(std::make_shared<const edgehub_status>(std::move(next)));
  return true;
}

namespace {

struct watcher_state {
  route_watcher_config cfg;
  std::optional<std::string> applied;
  static inline const char* name = "route_watcher";
};

caf::behavior watcher_behavior(caf::stateful_actor<watcher_state>* self, route_watcher_config cfg,
                               std::optional<std::string> applied) {
  self->state.cfg = std::move(cfg);
  self->state.applied = std::move(applied);
  self->delayed_send(self, self->state.cfg.interval, tick_watch_atom::value);
  return {
      [=](tick_watch_atom) {
        auto& st = self->state;
        auto text = read_manifest(st.cfg.manifest_path);
        if (text != st.applied) {
          // A storage failure is retried at the next look; a bad document waits for a change.
          if (apply_manifest(self->system(), st.cfg, text)) {
            st.applied = std::move(text);
          }
        }
        self->delayed_send(self, st.cfg.interval, tick_watch_atom::value);
      },
  };
}

} // namespace

caf::actor spawn_route_watcher(caf::actor_system& sys, route_watcher_config cfg,
                               std::optional<std::string> applied) {
  // Detached: applying blocks on the storage writer.
  return sys.spawn<caf::detached>(watcher_behavior, std::move(cfg), std::move(applied));
}

} // namespace outpost::actors
