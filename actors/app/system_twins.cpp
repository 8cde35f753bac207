#include "actors/app/system_twins.hpp"

#include "actors/app/iothub_response.hpp"
#include "actors/workload/agent_view.hpp"
#include "protocols/iothub/encoding.hpp"

#include <nlohmann/json.hpp>

#include <functional>

namespace outpost::app {

namespace {

using json = nlohmann::json;

/// The `properties.desired` of module `module` in manifest text, or {} when there is none.
json desired_of(const std::string& manifest, const std::string& module) {
  const auto j = json::parse(manifest, nullptr, false);
  if (!j.is_object() || !j.contains("modulesContent") || !j["modulesContent"].is_object()) {
    return json::object();
  }
  const auto& content = j["modulesContent"];
  if (!content.contains(module) || !content[module].is_object()
      || !content[module].contains("properties.desired")
      || !content[module]["properties.desired"].is_object()) {
    return json::object();
  }
  return content[module]["properties.desired"];
}

} // namespace

std::optional<transport::http_response> system_twin(const system_twin_sources& s,
                                                    const transport::http_request& req) {
  const auto path = iothub::percent_decode(req.target.substr(0, req.target.find('?')));
  const auto prefix = "/twins/" + s.edge_device_id + "/modules/";
  if (path.rfind(prefix, 0) != 0) {
    return std::nullopt;
  }
  const auto module = path.substr(prefix.size());
  if (module != "$edgeAgent" && module != "$edgeHub") {
    return std::nullopt;
  }
  if (req.method != "GET") {
    return iothub_error(400, 400004,
                        "the desired properties of " + module
                            + " are the deployment's: apply one with applyConfigurationContent "
                              "or the manifest file");
  }
  const auto origin = s.origin->get();
  auto desired = desired_of(origin->text, module);
  if (!desired.contains("$version") || !desired["$version"].is_number_integer()) {
    desired["$version"] = origin->number;
  }
  auto reported =
      json::parse(module == "$edgeAgent" ? s.agent.view->get()->reported_json
                                         : actors::edgehub_reported_json(*s.hub_status->get()),
                  nullptr, false);
  if (!reported.is_object()) {
    reported = json::object();
  }
  if (!reported.contains("$version")) {
    reported["$version"] = 1;
  }
  const auto version =
      desired["$version"].get<std::int64_t>() + reported["$version"].get<std::int64_t>();
  const json twin = {
      {"deviceId", s.edge_device_id},
      {"moduleId", module},
      {"etag", iothub::base64_encode(
                   std::to_string(std::hash<std::string>{}(desired.dump() + reported.dump())))},
      {"version", version},
      {"status", "enabled"},
      {"properties", {{"desired", desired}, {"reported", reported}}},
  };
  return iothub_response(200, twin.dump());
}

} // namespace outpost::app
