#include "actors/app/twin_admin.hpp"

#include "actors/app/iothub_response.hpp"
#include "protocols/iothub/encoding.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

namespace outpost::app {

namespace {

using transport::http_response;

/// `/twins/{d}` or `/twins/{d}/modules/{m}` -> `d` or `d/m` (percent-decoded); "" otherwise.
std::string twin_id(std::string_view path) {
  constexpr std::string_view prefix = "/twins/";
  if (path.substr(0, prefix.size()) != prefix) {
    return {};
  }
  path.remove_prefix(prefix.size());
  const auto slash = path.find('/');
  if (slash == std::string_view::npos) {
    return path.empty() ? std::string{} : iothub::percent_decode(path);
  }
  constexpr std::string_view modules = "/modules/";
  const auto rest = path.substr(slash);
  if (rest.substr(0, modules.size()) != modules || rest.size() == modules.size()
      || rest.find('/', modules.size()) != std::string_view::npos) {
    return {};
  }
  return iothub::percent_decode(path.substr(0, slash)) + "/"
         + iothub::percent_decode(rest.substr(modules.size()));
}

/// The IoT Hub method request body as a call to `target`; nullopt (and `why`) when it is bad.
std::optional<actors::method_call> method_request(const std::string& caller,
                                                  const std::string& target,
                                                  const std::string& body, std::string& why) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("methodName") || !j["methodName"].is_string()
      || j["methodName"].get<std::string>().empty()) {
    why = "the body must be a JSON object with a non-empty \"methodName\"";
    return std::nullopt;
  }
  actors::method_call c;
  c.from = caller;
  c.target = target;
  c.method = j["methodName"].get<std::string>();
  if (c.method.size() > 256 || c.method.find_first_of("/?#&") != std::string::npos) {
    why = "methodName must be at most 256 characters without '/', '?', '#' or '&'";
    return std::nullopt;
  }
  c.payload = j.contains("payload") ? j["payload"].dump() : "null";
  const auto seconds = [&](const char* key, std::int64_t fallback) -> std::optional<std::int64_t> {
    if (!j.contains(key)) {
      return fallback;
    }
    if (!j[key].is_number_integer() || j[key].get<std::int64_t>() < 0
        || j[key].get<std::int64_t>() > 300) {
      why = std::string{key} + " must be an integer from 0 to 300";
      return std::nullopt;
    }
    return j[key].get<std::int64_t>();
  };
  const auto response = seconds("responseTimeoutInSeconds", 30);
  const auto connect = seconds("connectTimeoutInSeconds", 0);
  if (!response || !connect) {
    return std::nullopt;
  }
  c.response_timeout_ms = *response * 1000;
  c.connect_timeout_ms = *connect * 1000;
  return c;
}

} // namespace

namespace {

/// Sends `call` to the method router from a one-shot actor that answers `respond` with the
/// outcome: the pending call is the router's state with its timer, no thread waits for it.
void invoke_async(caf::actor_system& sys, const actors::method_router_actor& methods,
                  actors::method_call call, const transport::http_responder& respond) {
  const auto wait =
      std::chrono::milliseconds(call.connect_timeout_ms + call.response_timeout_ms + 5000);
  sys.spawn([methods, call = std::move(call), respond, wait](caf::event_based_actor* self) mutable {
    self->request(methods, wait, actors::method_invoke_atom::value, std::move(call))
        .then(
            [respond](actors::method_call_reply& r) {
              respond(iothub_response(r.http_status, std::move(r.body)));
            },
            [respond](caf::error&) {
              respond(iothub_error(503, 503001, "the method router did not answer"));
            });
  });
}

/// The twin routes but the method calls.
http_response twin_routes(caf::actor_system& sys, const actors::twin_registry_actor& twins,
                          const std::string& id, const std::string& path,
                          const transport::http_request& req);

} // namespace

/// `<edge>/$edgeAgent` or `<edge>/$edgeHub` of a child edge device of this registry: they
/// exist with the device (IoT Hub creates them with it); the child's deployment and its
/// agent's status are in their twins.
bool runtime_module_of_edge(const actors::identity_table& table, const std::string& id) {
  const auto slash = id.find('/');
  if (slash == std::string::npos) {
    return false;
  }
  const auto module = id.substr(slash + 1);
  const auto device = table.find(id.substr(0, slash));
  return (module == "$edgeAgent" || module == "$edgeHub") && device != table.end()
         && device->second.edge_enabled;
}

bool twin_admin(caf::actor_system& sys, const actors::twin_registry_actor& twins,
                const actors::method_router_actor& methods,
                const std::shared_ptr<actors::identity_snapshot>& identities,
                const transport::http_request& req, const std::string& caller,
                const transport::http_responder& respond) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  if (path.rfind("/twins/", 0) != 0) {
    return false;
  }
  constexpr std::string_view methods_suffix = "/methods";
  const bool is_method =
      path.size() > methods_suffix.size()
      && path.compare(path.size() - methods_suffix.size(), methods_suffix.size(), methods_suffix)
             == 0;
  const auto id =
      twin_id(is_method ? std::string_view{path}.substr(0, path.size() - methods_suffix.size())
                        : std::string_view{path});
  if (id.empty()) {
    respond(iothub_error(404, 404001, "no such twin path: " + path));
    return true;
  }
  if (identities->get()->count(id) == 0 && !runtime_module_of_edge(*identities->get(), id)) {
    const bool module = id.find('/') != std::string::npos;
    respond(iothub_error(404, module ? 404010 : 404001,
                         std::string{module ? "module " : "device "} + id + " is not registered"));
    return true;
  }
  if (!is_method) {
    respond(twin_routes(sys, twins, id, path, req));
    return true;
  }
  if (req.method != "POST") {
    respond(iothub_error(405, 405001, "method not allowed on " + path));
    return true;
  }
  std::string why;
  auto call = method_request(caller, id, req.body, why);
  if (!call) {
    respond(iothub_error(400, 400004, why));
    return true;
  }
  invoke_async(sys, methods, std::move(*call), respond);
  return true;
}

namespace {

http_response twin_routes(caf::actor_system& sys, const actors::twin_registry_actor& twins,
                          const std::string& id, const std::string& path,
                          const transport::http_request& req) {
  caf::scoped_actor self{sys};
  http_response res = iothub_error(503, 503001, "the twin registry did not answer");
  auto answer = [&](actors::twin_reply& r) {
    res = iothub_response(r.status, std::move(r.body));
  };
  if (req.method == "GET") {
    self->request(twins, std::chrono::seconds(10), actors::twin_show_atom::value, id)
        .receive(answer, [](caf::error&) {});
    return res;
  }
  if (req.method == "PATCH" || req.method == "PUT") {
    self->request(twins, std::chrono::seconds(10), actors::twin_update_atom::value, id, req.body,
                  req.header("If-Match"), req.method == "PUT")
        .receive(answer, [](caf::error&) {});
    return res;
  }
  return iothub_error(405, 405001, "method not allowed on " + path);
}

} // namespace

} // namespace outpost::app
