#include "actors/hub/edgehub_desired.hpp"

#include "actors/hub/mqtt_session.hpp"
#include "actors/hub/route_loader.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace outpost::actors {

namespace {

/// `$version` and `schemaVersion` of the `$edgeHub` desired properties in `text`, when present.
void read_versions(const std::string& text, edgehub_deployment& s) {
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
  if (!s.extension_routes.empty()) {
    j["extensionRoutes"] = s.extension_routes;
  }
  return j.dump();
}

edgehub_deployment edgehub_deployment_of(const std::optional<std::string>& text) {
  edgehub_deployment d;
  if (!text) {
    return d;
  }
  d.readable = true;
  read_versions(*text, d);
  auto table = routing::route_table::from_edgehub_desired(*text);
  if (auto* err = std::get_if<routing::route_error>(&table)) {
    d.error = err->to_string();
    return d;
  }
  d.routes = std::make_shared<const routing::route_table>(
      std::move(std::get<routing::route_table>(table)));
  return d;
}

bool apply_edgehub(caf::actor_system& sys, const edgehub_config& cfg, const edgehub_deployment& d) {
  const auto previous = cfg.status->get();
  edgehub_status next = *previous;
  next.manifest = cfg.manifest_path;
  // Without `$version` every document seen counts as the next version.
  next.desired_version = d.desired_version.value_or(previous->desired_version + 1);
  if (!d.schema_version.empty()) {
    next.schema_version = d.schema_version;
  }
  auto reject = [&](int code, std::string why) {
    next.code = code;
    next.description = std::move(why);
    spdlog::error("[routes] {} rejected ({}), the previous routes stay: {}", cfg.manifest_path,
                  code, next.description);
    cfg.status->set(std::make_shared<const edgehub_status>(std::move(next)));
  };
  if (!d.readable) {
    reject(400, "cannot read manifest " + cfg.manifest_path);
    return true;
  }
  if (!d.routes) {
    reject(400, d.error);
    return true;
  }
  std::vector<std::string> extensions;
  for (std::size_t i = 0; i < d.routes->size(); ++i) {
    const auto& r = d.routes->route(i);
    if (r.sink.what != routing::endpoint::kind::named) {
      continue;
    }
    extensions.push_back(r.name);
    if (std::find(cfg.endpoint_names.begin(), cfg.endpoint_names.end(), r.sink.name)
        == cfg.endpoint_names.end()) {
      reject(400, "route '" + r.name + "' sends to Endpoint(\"" + r.sink.name
                      + "\"), but the configuration has no [endpoints." + r.sink.name + "]");
      return true;
    }
  }
  const auto current = cfg.routes->get();
  auto bound = bind_routes(sys, cfg.mailboxes, d.routes, cfg.edge_device_id, current.get());
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
  next.extension_routes = std::move(extensions);
  next.routes = d.routes->size();
  spdlog::info("[routes] {} routes from {} (desired version {})", next.routes, cfg.manifest_path,
               next.desired_version);
  cfg.status->set(std::make_shared<const edgehub_status>(std::move(next)));
  return true;
}

} // namespace outpost::actors
