#include "actors/app/service_api.hpp"

#include "actors/app/c2d_admin.hpp"
#include "actors/app/deployment_source.hpp"
#include "actors/app/iothub_response.hpp"
#include "actors/app/system_twins.hpp"
#include "actors/app/twin_admin.hpp"
#include "protocols/iothub/encoding.hpp"
#include "protocols/iothub/sas.hpp"
#include "protocols/transport/crypto.hpp"
#include "storage/errc.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <variant>
#include <vector>

namespace outpost::app {

namespace {

using json = nlohmann::json;
using transport::http_request;
using transport::http_response;

std::int64_t now_seconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

/// IoT Hub's error names (the REST body's `Message: "ErrorCode:<name>;..."`), which the SDKs
/// map to their error types (azure-iothub: DeviceNotFound, DeviceAlreadyExists, ...).
const char* error_name(std::int64_t code) {
  switch (code) {
    case 400004:
      return "ArgumentInvalid";
    case 401002:
      return "IotHubUnauthorizedAccess";
    case 403004:
      return "DeviceMaximumQueueDepthExceeded";
    case 404001:
      return "DeviceNotFound";
    case 404010:
      return "ModuleNotFound";
    case 404103:
      return "DeviceNotOnline";
    case 409001:
      return "DeviceAlreadyExists";
    case 409301:
      return "ModuleAlreadyExistsOnDevice";
    case 412001:
      return "PreconditionFailed";
    case 429001:
      return "ThrottlingException";
    case 504101:
      return "GatewayTimeout";
    default:
      return "ServerError";
  }
}

/// The admin API's IoT Hub errors (`{"errorCode", "message"}`) get IoT Hub's REST `Message`.
http_response as_rest_error(http_response r) {
  if (r.status < 400) {
    return r;
  }
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("errorCode") || !j["errorCode"].is_number_integer()) {
    return r;
  }
  const auto message = j.value("message", std::string{});
  j["Message"] = std::string{"ErrorCode:"} + error_name(j["errorCode"].get<std::int64_t>()) + ";"
                 + (message.empty() ? std::string{"error"} : message);
  j["ExceptionMessage"] = "";
  return iothub_response(static_cast<int>(r.status), j.dump());
}

http_response rest_error(int status, std::int32_t code, const std::string& message) {
  return as_rest_error(iothub_error(status, code, message));
}

http_response unauthorized(const std::string& why) {
  return rest_error(401, 401002, why);
}

/// The path's segments, percent-decoded (the query is dropped).
std::vector<std::string> segments(const std::string& target) {
  const auto path = target.substr(0, target.find('?'));
  std::vector<std::string> out;
  std::size_t at = 1;
  while (at <= path.size()) {
    const auto end = path.find('/', at);
    const auto part = path.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (!part.empty()) {
      out.push_back(iothub::percent_decode(part));
    }
    if (end == std::string::npos) {
      break;
    }
    at = end + 1;
  }
  return out;
}

/// `/twins/{d}/methods` or `/twins/{d}/modules/{m}/methods`.
bool is_method_call(const http_request& req, const std::vector<std::string>& s) {
  return req.method == "POST" && !s.empty() && s[0] == "twins"
         && ((s.size() == 3 && s[2] == "methods")
             || (s.size() == 5 && s[2] == "modules" && s[4] == "methods"));
}

/// A child edge's own calls (IoT Edge's nested registry API, facts §4.7): its scope, and the
/// registry entries of its own modules, nothing else.
bool is_edge_call(const http_request& req, const std::vector<std::string>& s,
                  const std::string& edge) {
  if (s.size() < 3 || s[0] != "devices" || s[1] != edge || s[2] != "modules") {
    return false;
  }
  if (s.size() == 5) {
    return req.method == "POST" && s[3] == "$edgeHub"
           && s[4] == "devicesAndModulesInTargetDeviceScope";
  }
  if (s.size() == 3) {
    return req.method == "GET";
  }
  return s.size() == 4 && (req.method == "GET" || req.method == "PUT" || req.method == "DELETE");
}

/// Who called: the service, a module of this edge device (its id, "edge/module"), or a child
/// edge device (its id).
struct caller {
  bool service = false;
  std::string module;
  std::string edge;
};

const iothub::hmac_sha256_fn hmac = [](std::string_view key, std::string_view data) {
  return transport::hmac_sha256(key, data);
};

std::string hub_host(const daemon_config& cfg) {
  return cfg.iothub_hostname.empty() ? cfg.hostname : cfg.iothub_hostname;
}

/// A child edge's hub (`x-ms-edge-moduleId: <edge>/$edgeHub`), with the edge device's own
/// token: an enabled, edge-enabled SAS device of this registry.
std::variant<caller, http_response> authenticate_edge(const service_api_deps& d,
                                                      const http_request& req,
                                                      const std::vector<std::string>& s,
                                                      const iothub::sas_token& token,
                                                      const std::string& edge) {
  auto table = d.identities->get();
  const auto found = table->find(edge);
  if (found == table->end() || !found->second.enabled || !found->second.edge_enabled
      || found->second.auth != storage::auth_type::sas) {
    return unauthorized(edge + " is not an enabled edge device");
  }
  const iothub::client_identity who{edge, ""};
  const auto hub = hub_host(d.cfg); // sas_check holds a view of it
  const iothub::sas_check check{
      hub, d.cfg.hostname, who, now_seconds(), {found->second.primary, found->second.secondary}};
  if (auto ok = iothub::verify_sas_token(token, check, hmac); !ok) {
    return unauthorized("edge device token refused: " + ok.error().message());
  }
  if (!is_edge_call(req, s, edge)) {
    return unauthorized("a child edge may only read its scope and register its own modules");
  }
  return caller{false, {}, edge};
}

/// Who is calling, or the 401 that says why nobody is.
std::variant<caller, http_response> authenticate(const service_api_deps& d, const http_request& req,
                                                 const std::vector<std::string>& s) {
  const auto authorization = req.header("Authorization");
  if (authorization.empty()) {
    return unauthorized("no Authorization header");
  }
  auto token = iothub::parse_sas_token(authorization);
  if (!token) {
    return unauthorized("the Authorization header is not a SharedAccessSignature");
  }
  const auto hub = hub_host(d.cfg);
  if (!token->key_name.empty()) {
    if (auto ok = iothub::verify_service_token(
            *token, {hub, d.cfg.hostname, service_policy_name, *d.policy_key->get(), now_seconds()},
            hmac);
        !ok) {
      return unauthorized("service token refused: " + ok.error().message());
    }
    return caller{true, {}};
  }
  // ModuleClient.invokeMethod: a module of this edge device, with its own token.
  const auto module_id = req.header("x-ms-edge-moduleId");
  if (module_id.empty()) {
    return unauthorized("a device or module token gives no access to the service API");
  }
  const auto slash = module_id.find('/');
  const iothub::client_identity who{module_id.substr(0, slash),
                                    slash == std::string::npos ? "" : module_id.substr(slash + 1)};
  if (who.module_id == "$edgeHub" && who.device_id != d.cfg.device_id) {
    return authenticate_edge(d, req, s, *token, who.device_id);
  }
  if (!is_method_call(req, s)) {
    return unauthorized("modules may only invoke direct methods here");
  }
  if (slash == std::string::npos || who.device_id != d.cfg.device_id || who.module_id.empty()) {
    return unauthorized("Only modules on the same device can invoke DirectMethods");
  }
  auto table = d.identities->get();
  const auto found = table->find(who.id());
  if (found == table->end() || !found->second.enabled
      || found->second.auth != storage::auth_type::sas) {
    return unauthorized("module " + who.id() + " is not an enabled SAS identity");
  }
  const iothub::sas_check check{
      hub, d.cfg.hostname, who, now_seconds(), {found->second.primary, found->second.secondary}};
  if (auto ok = iothub::verify_sas_token(*token, check, hmac); !ok) {
    return unauthorized("module token refused: " + ok.error().message());
  }
  return caller{false, who.id()};
}

// ---- the registry -------------------------------------------------------------------------

const char* auth_type_name(storage::auth_type a) {
  switch (a) {
    case storage::auth_type::sas:
      return "sas";
    case storage::auth_type::x509_thumbprint:
      return "selfSigned";
    case storage::auth_type::x509_ca:
      return "certificateAuthority";
  }
  return "none";
}

/// IoT Hub's etag of a registry entry: changes whenever what it shows changes.
std::string registry_etag(const storage::identity& i) {
  const auto h =
      std::hash<std::string>{}(i.primary + "|" + i.secondary + "|" + (i.enabled ? "1" : "0") + "|"
                               + std::to_string(i.created_ms));
  return iothub::base64_encode(std::to_string(h));
}

/// IoT Hub's scope of an edge device: "ms-azure-iot-edge://<id>-<generation id>".
std::string scope_of(const storage::identity& edge) {
  return "ms-azure-iot-edge://" + edge.device_id + "-" + std::to_string(edge.created_ms);
}

/// The registered device whose scope `scope` is (null if none).
const storage::identity* device_of_scope(const actors::identity_table& table,
                                         std::string_view scope) {
  constexpr std::string_view prefix = "ms-azure-iot-edge://";
  const auto dash = scope.rfind('-');
  if (scope.substr(0, prefix.size()) != prefix || dash == std::string_view::npos
      || dash < prefix.size()) {
    return nullptr;
  }
  const auto found = table.find(std::string{scope.substr(prefix.size(), dash - prefix.size())});
  return found != table.end() && found->second.module_id.empty() && scope_of(found->second) == scope
             ? &found->second
             : nullptr;
}

json registry_json(const storage::identity& i, const daemon_config& cfg,
                   const actors::identity_table& table) {
  const bool sas = i.auth == storage::auth_type::sas;
  const bool thumb = i.auth == storage::auth_type::x509_thumbprint;
  json j = {
      {"deviceId", i.device_id},
      {"generationId", std::to_string(i.created_ms)},
      {"etag", registry_etag(i)},
      {"status", i.enabled ? "enabled" : "disabled"},
      {"statusReason", nullptr},
      {"cloudToDeviceMessageCount", 0},
      {"authentication",
       {{"symmetricKey",
         {{"primaryKey", sas ? json(i.primary) : json(nullptr)},
          {"secondaryKey", sas ? json(i.secondary) : json(nullptr)}}},
        {"x509Thumbprint",
         {{"primaryThumbprint", thumb ? json(i.primary) : json(nullptr)},
          {"secondaryThumbprint",
           thumb && !i.secondary.empty() ? json(i.secondary) : json(nullptr)}}},
        {"type", auth_type_name(i.auth)}}},
  };
  if (i.module_id.empty()) {
    // An edge device has a scope of its own; a device in an edge's scope has the edge's, and
    // names it among its parents (IoT Hub's nested-edge registry fields).
    const bool edge = i.edge_enabled || i.device_id == cfg.device_id;
    const auto parent = i.parent.empty() ? table.end() : table.find(i.parent);
    j["capabilities"] = {{"iotEdge", edge}};
    if (edge) {
      j["deviceScope"] = scope_of(i);
    } else if (parent != table.end()) {
      j["deviceScope"] = scope_of(parent->second);
    }
    j["parentScopes"] =
        parent != table.end() ? json::array({scope_of(parent->second)}) : json::array();
  } else {
    j["moduleId"] = i.module_id;
    j["managedBy"] = i.device_id == cfg.device_id ? "IotEdge" : "";
  }
  return j;
}

http_response from_registry_error(std::error_code ec, bool module) {
  using storage::errc;
  if (ec == errc::invalid_identity) {
    return rest_error(400, 400004, ec.message());
  }
  if (ec == errc::identity_not_found) {
    return module ? rest_error(404, 404010, "the module's device is not registered")
                  : rest_error(404, 404001, "device not registered");
  }
  if (ec == errc::identity_exists) {
    return module ? rest_error(409, 409301, "the module already exists on the device")
                  : rest_error(409, 409001, "the device already exists");
  }
  return rest_error(500, 500001, ec.message());
}

/// One request to the registry, answered with the identity as IoT Hub shows it.
template <class... Ts>
result<storage::identity> ask_registry(const service_api_deps& d, http_response& failure,
                                       bool module, Ts&&... xs) {
  caf::scoped_actor self{*d.sys};
  result<storage::identity> out = std::make_error_code(std::errc::timed_out);
  failure = rest_error(503, 503001, "the identity registry does not answer");
  self->request(d.registry, std::chrono::seconds(10), std::forward<Ts>(xs)...)
      .receive(
          [&](actors::identity_reply& r) {
            if (r.error) {
              failure = from_registry_error(r.error, module);
              out = r.error;
            } else {
              out = std::move(r.value);
            }
          },
          [&](caf::error&) {});
  return out;
}

/// `obj[key]` when it is a string, else "" (absent, null, or the SDK's empty key).
std::string string_field(const json& obj, const char* key) {
  const auto v = obj.find(key);
  return v != obj.end() && v->is_string() ? v->get<std::string>() : std::string{};
}

/// A key given in a registry request: base64 of 16 to 64 bytes, as IoT Hub requires.
bool valid_key(const std::string& key) {
  const auto bytes = iothub::base64_decode(key);
  return bytes && bytes->size() >= 16 && bytes->size() <= 64;
}

/// `PUT /devices/{d}[/modules/{m}]`: creates the identity (keys generated unless given); with
/// an `If-Match` on an existing one, updates its status.
http_response put_identity(const service_api_deps& d, const http_request& req,
                           const std::string& device, const std::string& module) {
  const bool is_module = !module.empty();
  const auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object()) {
    return rest_error(400, 400004, "the body must be a JSON object");
  }
  const auto named = body.value(is_module ? "moduleId" : "deviceId", std::string{});
  if (!named.empty() && named != (is_module ? module : device)) {
    return rest_error(400, 400004, "the body's id differs from the path's");
  }
  const auto id = is_module ? device + "/" + module : device;
  const auto status = body.value("status", std::string{"enabled"});
  if (status != "enabled" && status != "disabled") {
    return rest_error(400, 400004, "status must be \"enabled\" or \"disabled\"");
  }
  auto table = d.identities->get();
  const auto existing = table->find(id);
  http_response failure;
  if (existing != table->end()) {
    const auto if_match = req.header("If-Match");
    if (if_match.empty()) {
      return from_registry_error(storage::errc::identity_exists, is_module);
    }
    auto etag = if_match;
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
      etag = etag.substr(1, etag.size() - 2);
    }
    if (etag != "*" && etag != registry_etag(existing->second)) {
      return rest_error(412, 412001, "the etag does not match the identity's");
    }
    // Registry.update sends the whole device: its keys must be the ones it has (new keys come
    // from the registry itself, never from a caller: `outpost identity rotate`).
    const auto auth = body.value("authentication", json::object());
    const auto keys = auth.is_object() ? auth.value("symmetricKey", json::object()) : json{};
    for (const auto& [name, have] :
         {std::pair<const char*, const std::string*>{"primaryKey", &existing->second.primary},
          {"secondaryKey", &existing->second.secondary}}) {
      const auto given = string_field(keys, name);
      if (!given.empty() && given != *have) {
        return rest_error(400, 400004,
                          "keys are not changed through the service API: outpost identity "
                          "rotate "
                              + id + " makes new ones");
      }
    }
    auto updated = ask_registry(d, failure, is_module, actors::identity_enable_atom::value, id,
                                status == "enabled");
    return updated
               ? iothub_response(200, registry_json(*updated, d.cfg, *d.identities->get()).dump())
               : failure;
  }
  storage::identity_request r;
  r.id = id;
  r.module = is_module;
  const auto auth = body.value("authentication", json::object());
  const auto type = auth.is_object() ? auth.value("type", std::string{"sas"}) : "sas";
  if (type == "sas") {
    r.auth = storage::auth_type::sas;
    const auto keys = auth.value("symmetricKey", json::object());
    if (!keys.is_object() && !keys.is_null()) {
      return rest_error(400, 400004, "authentication.symmetricKey must be an object");
    }
    if (keys.is_object()) {
      r.primary = string_field(keys, "primaryKey");
      r.secondary = string_field(keys, "secondaryKey");
    }
    if ((!r.primary.empty() && !valid_key(r.primary))
        || (!r.secondary.empty() && !valid_key(r.secondary))) {
      return rest_error(400, 400004, "a symmetric key must be base64 of 16 to 64 bytes");
    }
  } else if (type == "selfSigned") {
    r.auth = storage::auth_type::x509_thumbprint;
    const auto prints = auth.value("x509Thumbprint", json::object());
    if (!prints.is_object()) {
      return rest_error(400, 400004, "authentication.x509Thumbprint must be an object");
    }
    r.primary = string_field(prints, "primaryThumbprint");
    r.secondary = string_field(prints, "secondaryThumbprint");
  } else if (type == "certificateAuthority") {
    r.auth = storage::auth_type::x509_ca;
  } else {
    return rest_error(400, 400004,
                      "authentication.type must be sas, selfSigned or "
                      "certificateAuthority");
  }
  if (!is_module) {
    // Nested edges: `capabilities.iotEdge`, and the parent's scope as `deviceScope` (a leaf)
    // or `parentScopes[0]` (either).
    const auto caps = body.value("capabilities", json::object());
    r.edge_enabled = caps.is_object() && caps.value("iotEdge", false) == true;
    std::string parent_scope;
    if (const auto parents = body.value("parentScopes", json::array());
        parents.is_array() && !parents.empty() && parents[0].is_string()) {
      parent_scope = parents[0].get<std::string>();
    } else if (!r.edge_enabled) {
      parent_scope = string_field(body, "deviceScope");
    }
    if (!parent_scope.empty()) {
      const auto* parent = device_of_scope(*d.identities->get(), parent_scope);
      if (parent == nullptr) {
        return rest_error(400, 400004, "no edge device has the scope " + parent_scope);
      }
      r.parent = parent->device_id;
    }
  }
  auto made = ask_registry(d, failure, is_module, actors::identity_add_atom::value, std::move(r));
  if (!made) {
    return failure;
  }
  if (status == "disabled") {
    made = ask_registry(d, failure, is_module, actors::identity_enable_atom::value, id, false);
    if (!made) {
      return failure;
    }
  }
  spdlog::info("[service api] {} {} created", is_module ? "module" : "device", id);
  return iothub_response(200, registry_json(*made, d.cfg, *d.identities->get()).dump());
}

http_response registry_routes(const service_api_deps& d, const http_request& req,
                              const std::vector<std::string>& s) {
  // s[0] == "devices"
  auto table = d.identities->get();
  if (s.size() == 1 && req.method == "GET") {
    json list = json::array();
    for (const auto& [id, i] : *table) {
      if (i.module_id.empty()) {
        list.push_back(registry_json(i, d.cfg, *table));
      }
    }
    return iothub_response(200, list.dump());
  }
  const auto& device = s[1];
  if (s.size() == 3 && s[2] == "modules" && req.method == "GET") {
    if (device != d.cfg.device_id && table->find(device) == table->end()) {
      return rest_error(404, 404001, "device " + device + " is not registered");
    }
    json list = json::array();
    for (const auto& [id, i] : *table) {
      if (i.device_id == device && !i.module_id.empty()) {
        list.push_back(registry_json(i, d.cfg, *table));
      }
    }
    return iothub_response(200, list.dump());
  }
  if (s.size() != 2 && !(s.size() == 4 && s[2] == "modules")) {
    return rest_error(404, 404001, "no such resource");
  }
  const std::string module = s.size() == 4 ? s[3] : std::string{};
  const auto id = module.empty() ? device : device + "/" + module;
  if (req.method == "GET") {
    const auto found = table->find(id);
    if (found == table->end()) {
      return module.empty() ? rest_error(404, 404001, "device " + id + " is not registered")
                            : rest_error(404, 404010, "module " + id + " is not registered");
    }
    return iothub_response(200, registry_json(found->second, d.cfg, *table).dump());
  }
  if (req.method == "PUT") {
    return put_identity(d, req, device, module);
  }
  if (req.method == "DELETE") {
    http_response failure;
    auto gone = ask_registry(d, failure, !module.empty(), actors::identity_remove_atom::value, id);
    if (!gone) {
      return failure;
    }
    spdlog::info("[service api] {} removed", id);
    return http_response{204, "application/json", ""};
  }
  return rest_error(405, 405001, "method not allowed");
}

/// A child edge's deployment (nested edges, issue 12): the desired properties of its
/// `$edgeAgent` and `$edgeHub` twins here, which the child reads through its upstream link and
/// runs (its agent validates it there and reports the outcome in `$edgeAgent`'s reported
/// properties). Only for an edge device of this registry.
http_response deploy_child(const service_api_deps& d, const std::string& device,
                           const json& content) {
  auto table = d.identities->get();
  const auto found = table->find(device);
  if (found == table->end() || !found->second.edge_enabled) {
    return rest_error(400, 400004,
                      device + " is neither this edge device (" + d.cfg.device_id
                          + ") nor an edge device of its registry (outpost identity add device "
                          + device + " --edge-enabled)");
  }
  for (const char* section : {"$edgeAgent", "$edgeHub"}) {
    const auto s = content.value(section, json::object());
    const auto desired = s.is_object() ? s.value("properties.desired", json{}) : json{};
    if (!desired.is_object()) {
      return rest_error(400, 400004,
                        std::string{"modulesContent."} + section + " needs \"properties.desired\"");
    }
  }
  caf::scoped_actor self{*d.sys};
  for (const char* section : {"$edgeAgent", "$edgeHub"}) {
    const json twin = {{"properties", {{"desired", content[section]["properties.desired"]}}}};
    int status = 500;
    std::string why = "the twin registry does not answer";
    self->request(d.twins, std::chrono::seconds(30), actors::twin_update_atom::value,
                  device + "/" + section, twin.dump(), std::string{}, true)
        .receive([&](actors::twin_reply& r) { status = r.status, why = r.body; },
                 [&](caf::error&) {});
    if (status != 200) {
      return rest_error(status == 400 ? 400 : 500, status == 400 ? 400004 : 500001,
                        std::string{"storing "} + section + " of " + device + ": " + why);
    }
  }
  spdlog::info("[service api] applyConfigurationContent for child edge {}: in its twins", device);
  return http_response{204, "application/json", ""};
}

/// `POST /devices/{edge}/applyConfigurationContent`: the deployment source applies it.
http_response apply_configuration(const service_api_deps& d, const http_request& req,
                                  const std::string& device) {
  const auto body = json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("modulesContent")
      || !body["modulesContent"].is_object()) {
    return rest_error(400, 400004, "the body must be {\"modulesContent\": {...}}");
  }
  if (device != d.cfg.device_id) {
    return deploy_child(d, device, body["modulesContent"]);
  }
  std::string why = "the deployment source does not answer";
  caf::scoped_actor self{*d.sys};
  self->request(d.deployment_source, std::chrono::seconds(30), apply_deployment_atom::value,
                req.body)
      .receive([&](std::string& r) { why = std::move(r); }, [&](caf::error&) {});
  if (!why.empty()) {
    return rest_error(400, 400004, "deployment refused: " + why);
  }
  spdlog::info("[service api] applyConfigurationContent: the deployment is in force");
  return http_response{204, "application/json", ""};
}

void route_checked(const service_api_deps& d, const http_request& req,
                   const std::vector<std::string>& s, const caller& by,
                   const transport::http_responder& respond);

/// An authenticated request; `respond` is called once (a method call answers when its target
/// does, holding no thread meanwhile). A body whose fields have the wrong JSON types is 400.
void route(const service_api_deps& d, const http_request& req, const std::vector<std::string>& s,
           const caller& by, const transport::http_responder& respond) {
  try {
    route_checked(d, req, s, by, respond);
  } catch (const nlohmann::json::exception& e) {
    respond(rest_error(400, 400004, std::string{"malformed request body: "} + e.what()));
  }
}

/// `POST /devices/{edge}/modules/$edgeHub/devicesAndModulesInTargetDeviceScope`: the devices
/// whose parent `edge` is (with their keys: the child authenticates them while offline) and
/// the modules registered for it, in IoT Hub's ScopeResult shape, one page.
http_response device_scope(const service_api_deps& d, const std::string& edge) {
  auto table = d.identities->get();
  json devices = json::array();
  json modules = json::array();
  for (const auto& [id, i] : *table) {
    if (i.module_id.empty() && i.parent == edge) {
      devices.push_back(registry_json(i, d.cfg, *table));
    } else if (!i.module_id.empty() && i.device_id == edge) {
      modules.push_back(registry_json(i, d.cfg, *table));
    }
  }
  return iothub_response(
      200, json{{"devices", devices}, {"modules", modules}, {"continuationLink", nullptr}}.dump());
}

void route_checked(const service_api_deps& d, const http_request& req,
                   const std::vector<std::string>& s, const caller& by,
                   const transport::http_responder& respond) {
  const transport::http_responder answer = [respond](http_response r) {
    respond(as_rest_error(std::move(r)));
  };
  if (!by.edge.empty()) { // authenticate_edge checked the path
    return answer(s.size() == 5 ? device_scope(d, by.edge) : registry_routes(d, req, s));
  }
  const bool service = by.service;
  if (service) { // the agent's methods restart and read modules: not for modules
    if (auto handled = edge_agent_method(*d.sys, d.agent, d.cfg.device_id, req)) {
      return answer(std::move(*handled));
    }
    if (auto handled = system_twin({d.cfg.device_id, d.origin, d.agent, d.hub_status}, req)) {
      return answer(std::move(*handled));
    }
  }
  if (!service || (!s.empty() && s[0] == "twins")) {
    // A module reaches only the method routes (authenticate checked the path).
    if (twin_admin(*d.sys, d.twins, d.methods, d.identities, req,
                   service ? std::string{"service"} : by.module, answer)) {
      return;
    }
    return answer(rest_error(404, 404001, "no such resource"));
  }
  if (s.size() == 3 && s[0] == "devices" && s[2] == "applyConfigurationContent"
      && req.method == "POST") {
    return answer(apply_configuration(d, req, s[1]));
  }
  if (auto handled = c2d_admin(*d.sys, d.c2d, d.identities, req)) {
    return answer(std::move(*handled));
  }
  if (!s.empty() && s[0] == "devices") {
    return answer(registry_routes(d, req, s));
  }
  answer(rest_error(404, 404001, "no such resource"));
}

} // namespace

std::string service_connection_string(const daemon_config& cfg, const std::string& policy_key) {
  return "HostName=" + hub_host(cfg) + ";SharedAccessKeyName=" + service_policy_name
         + ";SharedAccessKey=" + policy_key;
}

transport::http_async_handler service_routes(service_api_deps deps) {
  return [d = std::move(deps)](const http_request& req, transport::http_responder respond) {
    const auto s = segments(req.target);
    auto who = authenticate(d, req, s);
    if (auto* refused = std::get_if<http_response>(&who)) {
      return respond(std::move(*refused));
    }
    route(d, req, s, std::get<caller>(who), respond);
  };
}

} // namespace outpost::app
