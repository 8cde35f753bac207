#include "actors/app/admin_api.hpp"

#include "actors/app/c2d_admin.hpp"
#include "actors/app/daemon_log.hpp"
#include "actors/app/iothub_response.hpp"
#include "actors/app/system_twins.hpp"
#include "actors/app/twin_admin.hpp"
#include "protocols/iothub/encoding.hpp"
#include "storage/errc.hpp"
#include "supervisor/runtime/process_host.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

namespace outpost::app {

namespace {

std::int64_t wall_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

using json = nlohmann::json;
using transport::http_request;
using transport::http_response;

http_response reply(unsigned status, const json& body) {
  return {status, "application/json", body.dump() + "\n"};
}

http_response error(unsigned status, const std::string& what) {
  return reply(status, json{{"error", what}});
}

const char* auth_name(storage::auth_type a) {
  switch (a) {
    case storage::auth_type::sas:
      return "sas";
    case storage::auth_type::x509_thumbprint:
      return "x509_thumbprint";
    case storage::auth_type::x509_ca:
      return "x509_ca";
  }
  return "?";
}

json summary(const storage::identity& i) {
  return {{"id", i.id()},
          {"deviceId", i.device_id},
          {"moduleId", i.module_id},
          {"type", i.module_id.empty() ? "device" : "module"},
          {"auth", auth_name(i.auth)},
          {"status", i.enabled ? "enabled" : "disabled"},
          {"createdMs", i.created_ms},
          {"edgeEnabled", i.edge_enabled},
          {"parent", i.parent}};
}

json detail(const storage::identity& i, const daemon_config& cfg) {
  auto j = summary(i);
  if (i.auth == storage::auth_type::sas) {
    j["primaryKey"] = i.primary;
    j["secondaryKey"] = i.secondary;
    j["connectionString"] = connection_string(i, cfg);
  } else if (i.auth == storage::auth_type::x509_thumbprint) {
    j["primaryThumbprint"] = i.primary;
    j["secondaryThumbprint"] = i.secondary;
  }
  return j;
}

http_response from_error(std::error_code ec) {
  using storage::errc;
  if (ec == errc::invalid_identity) {
    return error(400, ec.message());
  }
  if (ec == errc::identity_not_found) {
    return error(404, ec.message());
  }
  if (ec == errc::identity_exists) {
    return error(409, ec.message());
  }
  if (ec == std::errc::operation_not_supported) {
    return error(400, "only SAS identities have keys to rotate");
  }
  return error(500, ec.message());
}

/// Sends one request to the registry and waits (the admin API is rare and local).
template <class... Ts>
http_response ask(caf::actor_system& sys, const actors::registry_actor& registry,
                  const daemon_config& cfg, unsigned ok_status, Ts&&... xs) {
  caf::scoped_actor self{sys};
  http_response res = error(503, "identity registry did not answer");
  self->request(registry, std::chrono::seconds(10), std::forward<Ts>(xs)...)
      .receive(
          [&](actors::identity_reply& r) {
            if (r.error) {
              res = from_error(r.error);
            } else {
              auto j = detail(r.value, cfg);
              j["removed"] = r.removed;
              res = reply(ok_status, j);
            }
          },
          [&](caf::error&) {});
  return res;
}

http_response add(caf::actor_system& sys, const actors::registry_actor& registry,
                  const daemon_config& cfg, const http_request& req) {
  auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("id") || !body["id"].is_string()) {
    return error(400, "expected a JSON object with \"id\"");
  }
  storage::identity_request r;
  r.id = body["id"].get<std::string>();
  const auto type = body.value("type", std::string{"device"});
  const auto auth = body.value("auth", std::string{"sas"});
  if (type != "device" && type != "module") {
    return error(400, "type must be \"device\" or \"module\"");
  }
  r.module = type == "module";
  if (auth == "sas") {
    r.auth = storage::auth_type::sas;
  } else if (auth == "x509_thumbprint") {
    r.auth = storage::auth_type::x509_thumbprint;
  } else if (auth == "x509_ca") {
    r.auth = storage::auth_type::x509_ca;
  } else {
    return error(400, "auth must be \"sas\", \"x509_thumbprint\" or \"x509_ca\"");
  }
  r.primary = body.value("primaryThumbprint", std::string{});
  r.secondary = body.value("secondaryThumbprint", std::string{});
  if (body.contains("edgeEnabled") && !body["edgeEnabled"].is_boolean()) {
    return error(400, "edgeEnabled must be true or false");
  }
  if (body.contains("parent") && !body["parent"].is_string()) {
    return error(400, "parent must be a device id");
  }
  r.edge_enabled = body.value("edgeEnabled", false);
  r.parent = body.value("parent", std::string{});
  return ask(sys, registry, cfg, 201, actors::identity_add_atom::value, std::move(r));
}

http_response patch(caf::actor_system& sys, const actors::registry_actor& registry,
                    const daemon_config& cfg, const std::string& id, const http_request& req) {
  auto body = json::parse(req.body, nullptr, false);
  const auto status = body.is_object() ? body.value("status", std::string{}) : std::string{};
  if (status != "enabled" && status != "disabled") {
    return error(400, "expected {\"status\": \"enabled\"|\"disabled\"}");
  }
  return ask(sys, registry, cfg, 200, actors::identity_enable_atom::value, id, status == "enabled");
}

/// `POST /identities/{id}` `{"rotate": "primary"|"secondary"|"both"}`: new SAS keys; the
/// sessions that used a replaced key end.
http_response rotate(caf::actor_system& sys, const actors::registry_actor& registry,
                     const daemon_config& cfg, const std::string& id, const http_request& req) {
  auto body = json::parse(req.body, nullptr, false);
  const auto which = body.is_object() ? body.value("rotate", std::string{}) : std::string{};
  actors::key_slot slot = actors::key_slot::both;
  if (which == "primary") {
    slot = actors::key_slot::primary;
  } else if (which == "secondary") {
    slot = actors::key_slot::secondary;
  } else if (which != "both") {
    return error(400, "expected {\"rotate\": \"primary\"|\"secondary\"|\"both\"}");
  }
  return ask(sys, registry, cfg, 200, actors::identity_rotate_atom::value, id, slot);
}

/// `[listen] admin_group`'s gid, or -1.
long long admin_gid(const daemon_config& cfg) {
  if (cfg.listen.admin_group.empty()) {
    return -1;
  }
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  ::getgrnam_r(cfg.listen.admin_group.c_str(), &gr, buf.data(), buf.size(), &found);
  return found ? static_cast<long long>(found->gr_gid) : -1;
}

/// Does the process `pid` have `gid` among its supplementary groups (/proc/<pid>/status)?
bool has_group(int pid, long long gid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/status"};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Groups:", 0) == 0) {
      std::istringstream ids{line.substr(7)};
      for (long long g = 0; ids >> g;) {
        if (g == gid) {
          return true;
        }
      }
    }
  }
  return false;
}

/// The admin API holds every identity's keys: root, outpostd's own user, or a member of the
/// admin group (SO_PEERCRED at connect), nobody else.
bool admin_peer(const http_request& req, long long gid) {
  if (req.peer_uid < 0) {
    return false;
  }
  if (req.peer_uid == 0 || req.peer_uid == static_cast<long long>(::geteuid())) {
    return true;
  }
  return gid >= 0 && (req.peer_gid == gid || has_group(req.peer_pid, gid));
}

} // namespace

bool secure_admin_dir(const std::string& dir, const std::string& group, std::string& why) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    why = "the admin socket's folder " + dir + " is not a folder";
    return false;
  }
  if (st.st_uid != ::geteuid()) {
    why = "the admin socket's folder " + dir + " belongs to uid " + std::to_string(st.st_uid)
          + ", not to outpostd's user";
    return false;
  }
  gid_t gid = ::getegid();
  mode_t mode = 0700;
  if (!group.empty()) {
    daemon_config cfg;
    cfg.listen.admin_group = group;
    const auto g = admin_gid(cfg);
    if (g < 0) {
      why = "listen.admin_group: no group '" + group + "'";
      return false;
    }
    gid = static_cast<gid_t>(g);
    mode = 02750; // setgid: the socket made inside gets the group too (0660: members connect)
  }
  if (::chown(dir.c_str(), ::geteuid(), gid) != 0 || ::chmod(dir.c_str(), mode) != 0) {
    why = "cannot restrict " + dir + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

std::string connection_string(const storage::identity& i, const daemon_config& cfg) {
  std::string s = "HostName=" + (cfg.iothub_hostname.empty() ? cfg.hostname : cfg.iothub_hostname)
                  + ";DeviceId=" + i.device_id;
  if (!i.module_id.empty()) {
    s += ";ModuleId=" + i.module_id;
  }
  s += ";SharedAccessKey=" + i.primary;
  if (!cfg.iothub_hostname.empty()) {
    s += ";GatewayHostName=" + cfg.hostname;
  }
  return s;
}

transport::http_async_handler admin_routes(
    caf::actor_system& sys, actors::registry_actor registry,
    std::shared_ptr<actors::identity_snapshot> identities, const daemon_config& cfg,
    std::string ca_file, std::shared_ptr<actors::edgehub_status_snapshot> hub_status,
    agent_handles agent, std::shared_ptr<actors::monitor_feed> monitor,
    actors::twin_registry_actor twins, actors::method_router_actor methods, actors::c2d_actor c2d,
    std::shared_ptr<service_key_snapshot> service_key,
    std::function<result<std::string>()> rotate_service_key,
    std::shared_ptr<deployment_origin_snapshot> origin,
    std::shared_ptr<actors::upstream_status_snapshot> upstream) {
  const auto gid = admin_gid(cfg);
  auto sync = [&sys, registry, identities, cfg, ca_file, hub_status, agent, monitor, c2d,
               service_key, rotate_service_key, origin,
               upstream](const http_request& req) -> http_response {
    if (req.target.rfind("/monitor", 0) == 0 && req.method == "GET") {
      const auto at = req.target.find("after=");
      std::uint64_t after = 0;
      if (at != std::string::npos) {
        after = std::strtoull(req.target.c_str() + at + 6, nullptr, 10);
      }
      std::uint64_t last = 0;
      const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      auto events = monitor->poll(after, 500, now, last);
      return http_response{200, "application/json",
                           "{\"events\":" + events + ",\"last\":" + std::to_string(last) + "}\n"};
    }
    if (auto handled = agent_admin(sys, agent, req)) {
      return *handled;
    }
    if (auto handled = c2d_admin(sys, c2d, identities, req)) {
      return *handled;
    }
    const std::string path = req.target.substr(0, req.target.find('?'));
    if (path == "/service/rotate-key" && req.method == "POST") {
      auto rotated = rotate_service_key();
      if (!rotated) {
        return error(500, "cannot store the new key: " + rotated.error().message());
      }
      return reply(200, json{{"connectionString", service_connection_string(cfg, *rotated)},
                             {"https", !cfg.listen.https.empty()}});
    }
    if (path == "/service/connection-string" && req.method == "GET") {
      return reply(200,
                   json{{"connectionString", service_connection_string(cfg, *service_key->get())},
                        {"https", !cfg.listen.https.empty()}});
    }
    if (path == "/deployment" && req.method == "GET") {
      const auto o = origin->get();
      return reply(
          200,
          json{
              {"source", o->source}, {"path", o->path}, {"number", o->number}, {"atMs", o->at_ms}});
    }
    if (path == "/status/edgehub" && req.method == "GET") {
      return http_response{200, "application/json",
                           actors::edgehub_reported_json(*hub_status->get())};
    }
    if (path == "/status/upstream" && req.method == "GET") {
      const auto u = upstream->get();
      return http_response{200, "application/json",
                           json{{"state", u->state},
                                {"lastError", u->last_error},
                                {"parent", u->parent},
                                {"deviceId", u->device_id}}
                               .dump()};
    }
    if (path == "/logs/outpostd" && req.method == "GET") {
      const auto tail = iothub::query_parameter(req.target, "tail");
      const auto since =
          supervisor::parse_since(iothub::query_parameter(req.target, "since"), wall_now_ms());
      if (since < 0 || (!tail.empty() && !std::all_of(tail.begin(), tail.end(), ::isdigit))
          || tail.size() > 9) {
        return error(400, "tail must be a number; since: unix seconds, ISO 8601 or e.g. 10m");
      }
      std::string text;
      for (const auto& line : daemon_log_lines(tail.empty() ? 0 : std::stoul(tail), since)) {
        text += line + "\n";
      }
      return http_response{200, "text/plain; charset=utf-8", text};
    }
    if (path == "/ca" && req.method == "GET") {
      std::ifstream in{ca_file};
      std::stringstream pem;
      pem << in.rdbuf();
      return in ? http_response{200, "application/x-pem-file", pem.str()}
                : error(404, "no CA certificate at " + ca_file);
    }
    static const std::string prefix = "/identities";
    if (path == prefix || path == prefix + "/") {
      if (req.method == "GET") {
        json list = json::array();
        for (const auto& [id, i] : *identities->get()) {
          list.push_back(summary(i));
        }
        return reply(200, list);
      }
      if (req.method == "POST") {
        return add(sys, registry, cfg, req);
      }
      return error(405, "method not allowed");
    }
    if (path.rfind(prefix + "/", 0) != 0) {
      return error(404, "not found");
    }
    const auto id = iothub::percent_decode(path.substr(prefix.size() + 1));
    if (req.method == "GET") {
      auto table = identities->get();
      auto i = table->find(id);
      return i == table->end() ? error(404, "identity not found")
                               : reply(200, detail(i->second, cfg));
    }
    if (req.method == "DELETE") {
      return ask(sys, registry, cfg, 200, actors::identity_remove_atom::value, id);
    }
    if (req.method == "PATCH") {
      return patch(sys, registry, cfg, id, req);
    }
    if (req.method == "POST") {
      return rotate(sys, registry, cfg, id, req);
    }
    return error(405, "method not allowed");
  };
  return [&sys, sync = std::move(sync), identities, cfg, hub_status, agent, twins, methods, gid,
          origin](const http_request& req, transport::http_responder respond) {
    if (!admin_peer(req, gid)) {
      return respond(error(403, "uid " + std::to_string(req.peer_uid)
                                    + " may not use the admin API (root, outpostd's user or a "
                                      "member of [listen] admin_group only)"));
    }
    // Under /twins: the agent's methods and the runtime's own twins, then every other twin
    // route (a method call answers when its target does, holding no thread).
    if (auto handled = edge_agent_method(sys, agent, cfg.device_id, req)) {
      return respond(std::move(*handled));
    }
    if (auto handled = system_twin({cfg.device_id, origin, agent, hub_status}, req)) {
      return respond(std::move(*handled));
    }
    if (twin_admin(sys, twins, methods, identities, req, "admin", respond)) {
      return;
    }
    respond(sync(req));
  };
}

} // namespace outpost::app
