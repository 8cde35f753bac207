#include "actors/hub/scope_sync.hpp"

#include "protocols/iothub/sas.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/http_client.hpp"
#include "protocols/transport/tls_context.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <set>

namespace outpost::actors {

namespace {

using json = nlohmann::json;
using sync_atom = caf::atom_constant<caf::atom("scopesync")>;

struct sync_state {
  scope_sync_config cfg;
  std::string last_error; ///< logged once per distinct failure
  static inline const char* name = "scope_sync";
};

using sync_actor = caf::stateful_actor<sync_state>;

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

/// A registry entry of IoT Hub's shape as the local record (keys or thumbprints included).
std::optional<storage::identity> from_registry_json(const json& j) {
  if (!j.is_object()) {
    return std::nullopt;
  }
  storage::identity i;
  i.device_id = text(j, "deviceId");
  i.module_id = text(j, "moduleId");
  i.enabled = text(j, "status") != "disabled";
  const auto auth = j.value("authentication", json::object());
  const auto type = auth.is_object() ? text(auth, "type") : std::string{};
  if (type == "selfSigned") {
    i.auth = storage::auth_type::x509_thumbprint;
    const auto t = auth.value("x509Thumbprint", json::object());
    i.primary = text(t, "primaryThumbprint");
    i.secondary = text(t, "secondaryThumbprint");
  } else if (type == "certificateAuthority") {
    i.auth = storage::auth_type::x509_ca;
  } else {
    i.auth = storage::auth_type::sas;
    const auto k = auth.is_object() ? auth.value("symmetricKey", json::object()) : json::object();
    i.primary = text(k, "primaryKey");
    i.secondary = text(k, "secondaryKey");
  }
  const auto caps = j.value("capabilities", json::object());
  i.edge_enabled = caps.is_object() && caps.value("iotEdge", false);
  if (i.device_id.empty() || !storage::valid_identity_id(i.device_id)) {
    return std::nullopt;
  }
  return i;
}

transport::https_options call_options(const sync_state& st) {
  const auto now_s = st.cfg.now_ms() / 1000;
  auto token = iothub::make_sas_token(
      st.cfg.hub_hostname + "/devices/" + st.cfg.device_id, st.cfg.key, now_s + 3600,
      [](std::string_view k, std::string_view d) { return transport::hmac_sha256(k, d); });
  return {st.cfg.tls,
          st.cfg.hub_hostname,
          {{"Authorization", token}, {"x-ms-edge-moduleId", st.cfg.device_id + "/$edgeHub"}}};
}

int cancel_fd(const sync_state& st) {
  return st.cfg.cancel ? st.cfg.cancel->fd() : -1;
}

/// One round: the scope down, this edge's modules up. Returns what failed, or "".
std::string sync_once(sync_actor* self) {
  auto& st = self->state;
  const auto opts = call_options(st);
  const auto base = "/devices/" + st.cfg.device_id + "/modules";
  const json ask = {
      {"targetDeviceId", st.cfg.device_id}, {"targetModuleId", "$edgeHub"}, {"pageSize", 1000}};
  auto reply = transport::https_call(
      st.cfg.https_address, opts, "POST",
      base + "/$edgeHub/devicesAndModulesInTargetDeviceScope?api-version=2020-06-30-preview",
      ask.dump(), "application/json", std::chrono::seconds(10), cancel_fd(st));
  if (!reply) {
    return "reading the scope from " + st.cfg.https_address + ": " + reply.error().message();
  }
  if (reply->status != 200) {
    return "reading the scope: the parent answered " + std::to_string(reply->status) + " "
           + reply->body.substr(0, 200);
  }
  const auto body = json::parse(reply->body, nullptr, false);
  if (!body.is_object() || !body.contains("devices") || !body["devices"].is_array()) {
    return "reading the scope: not a scope result";
  }
  scope_devices devices;
  for (const auto& d : body["devices"]) {
    if (auto i = from_registry_json(d); i && i->module_id.empty()) {
      devices.push_back(std::move(*i));
    }
  }
  std::set<std::string> at_parent;
  if (body.contains("modules") && body["modules"].is_array()) {
    for (const auto& m : body["modules"]) {
      at_parent.insert(text(m, "moduleId"));
    }
  }
  caf::scoped_actor ask_registry{self->system()};
  ask_registry
      ->request(st.cfg.registry, std::chrono::seconds(30), identity_scope_atom::value,
                std::move(devices))
      .receive([](std::size_t) {},
               [&](caf::error& e) {
                 spdlog::warn("[upstream scope] the registry did not take the scope: {}",
                              self->system().render(e));
               });
  // This edge's modules, registered at the parent (edgeAgent does so with IoT Hub).
  std::set<std::string> local;
  for (const auto& [id, i] : *st.cfg.identities->get()) {
    if (i.device_id == st.cfg.device_id && !i.module_id.empty() && i.module_id[0] != '$') {
      local.insert(i.module_id);
    }
  }
  for (const auto& m : local) {
    if (at_parent.count(m) == 0) {
      const json put = {{"deviceId", st.cfg.device_id}, {"moduleId", m}};
      auto r = transport::https_call(st.cfg.https_address, opts, "PUT",
                                     base + "/" + m + "?api-version=2021-04-12", put.dump(),
                                     "application/json", std::chrono::seconds(10), cancel_fd(st));
      if (!r || r->status != 200) {
        return "registering module " + m + " at the parent: "
               + (r ? std::to_string(r->status) + " " + r->body.substr(0, 200)
                    : r.error().message());
      }
      spdlog::info("[upstream scope] module {}/{} registered at the parent", st.cfg.device_id, m);
    }
  }
  for (const auto& m : at_parent) {
    if (local.count(m) == 0 && !m.empty() && m[0] != '$') { // $edgeAgent/$edgeHub stay
      auto r = transport::https_call(st.cfg.https_address, opts, "DELETE",
                                     base + "/" + m + "?api-version=2021-04-12", {}, {},
                                     std::chrono::seconds(10), cancel_fd(st));
      if (r && (r->status == 204 || r->status == 200)) {
        spdlog::info("[upstream scope] module {}/{} removed at the parent", st.cfg.device_id, m);
      }
    }
  }
  return {};
}

caf::behavior scope_sync(sync_actor* self, scope_sync_config cfg) {
  self->state.cfg = std::move(cfg);
  self->send(self, sync_atom::value);
  return {
      [=](sync_atom) {
        auto& st = self->state;
        auto failed = sync_once(self);
        if (failed != st.last_error) {
          if (failed.empty()) {
            spdlog::info("[upstream scope] in sync with the parent");
          } else {
            spdlog::warn("[upstream scope] {}", failed);
          }
          st.last_error = failed;
        }
        self->delayed_send(self, st.cfg.interval, sync_atom::value);
      },
  };
}

} // namespace

caf::actor spawn_scope_sync(caf::actor_system& sys, scope_sync_config cfg) {
  return sys.spawn<caf::detached>(scope_sync, std::move(cfg));
}

} // namespace outpost::actors
