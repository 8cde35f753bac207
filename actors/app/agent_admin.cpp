#include "actors/app/agent_admin.hpp"

#include "actors/agent/agent_messages.hpp"
#include "actors/app/iothub_response.hpp"
#include "protocols/iothub/encoding.hpp"
#include "supervisor/runtime/process_host.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <chrono>

namespace outpost::app {

namespace {

using nlohmann::json;
using transport::http_response;

http_response reply(unsigned status, const json& body) {
  return {status, "application/json", body.dump() + "\n"};
}

http_response error(unsigned status, const std::string& what) {
  return reply(status, json{{"error", what}});
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

json module_json(const actors::module_view& m) {
  return {{"name", m.name},
          {"type", m.type},
          {"desiredStatus", m.desired_status},
          {"runtimeStatus", m.runtime_status},
          {"statusDescription", m.description},
          {"version", m.version},
          {"config", m.config},
          {"pid", m.pid},
          {"uid", m.uid},
          {"exitCode", m.exit_code},
          {"restartCount", m.restart_count},
          {"lastStartMs", m.last_start_ms},
          {"lastExitMs", m.last_exit_ms}};
}

http_response call_method(caf::actor_system& sys, const agent_handles& agent,
                          const std::string& name, const std::string& payload) {
  caf::scoped_actor self{sys};
  http_response res = error(503, "the agent does not answer");
  self->request(agent.agent, std::chrono::seconds(30), actors::method_atom::value, name, payload)
      .receive(
          [&](actors::method_reply& r) {
            auto body = json::parse(r.payload, nullptr, false);
            res = reply(
                200, json{{"status", r.status}, {"payload", body.is_discarded() ? json{} : body}});
          },
          [&](caf::error&) {});
  return res;
}

} // namespace

std::optional<http_response> agent_admin(caf::actor_system& sys, const agent_handles& agent,
                                         const transport::http_request& req) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  if (path == "/status/edgeagent" && req.method == "GET") {
    return http_response{200, "application/json", agent.view->get()->reported_json + "\n"};
  }
  if (path == "/modules" && req.method == "GET") {
    auto view = agent.view->get();
    json list = json::array();
    for (const auto& [name, m] : view->modules) {
      list.push_back(module_json(m));
    }
    return reply(
        200,
        json{{"modules", list},
             {"lastDesiredStatus", {{"code", view->code}, {"description", view->description}}},
             {"confinement", {{"confined", view->confined}, {"description", view->confinement}}}});
  }
  static const std::string methods = "/methods/";
  if (path.rfind(methods, 0) == 0 && req.method == "POST") {
    return call_method(sys, agent, path.substr(methods.size()), req.body);
  }
  static const std::string modules = "/modules/";
  if (path.rfind(modules, 0) != 0) {
    return std::nullopt;
  }
  const auto slash = path.find('/', modules.size());
  if (slash == std::string::npos) {
    return std::nullopt;
  }
  const auto name = iothub::percent_decode(path.substr(modules.size(), slash - modules.size()));
  const auto action = path.substr(slash + 1);
  auto view = agent.view->get();
  auto m = view->modules.find(name);
  if (m == view->modules.end()) {
    return error(404, "module '" + name + "' is not deployed");
  }
  if (action == "logs" && req.method == "GET") {
    const auto tail = iothub::query_parameter(req.target, "tail");
    const auto since =
        supervisor::parse_since(iothub::query_parameter(req.target, "since"), now_ms());
    if (since < 0 || (!tail.empty() && !std::all_of(tail.begin(), tail.end(), ::isdigit))) {
      return error(400, "tail must be a number; since: unix seconds, ISO 8601 or e.g. 10m");
    }
    std::string text;
    for (const auto& line :
         supervisor::read_log(m->second.log_path, tail.empty() ? 0 : std::stoul(tail), since)) {
      text += line + "\n";
    }
    return http_response{200, "text/plain; charset=utf-8", text};
  }
  if (action == "restart" && req.method == "POST") {
    return call_method(sys, agent, "RestartModule",
                       json{{"schemaVersion", "1.0"}, {"id", name}}.dump());
  }
  return error(404, "not found");
}

} // namespace outpost::app

namespace outpost::app {

std::optional<transport::http_response> edge_agent_method(caf::actor_system& sys,
                                                          const agent_handles& agent,
                                                          const std::string& edge_device_id,
                                                          const transport::http_request& req) {
  if (req.method != "POST"
      || iothub::percent_decode(req.target.substr(0, req.target.find('?')))
             != "/twins/" + edge_device_id + "/modules/$edgeAgent/methods") {
    return std::nullopt;
  }
  const auto call = json::parse(req.body, nullptr, false);
  if (!call.is_object() || !call.contains("methodName") || !call["methodName"].is_string()) {
    return iothub_error(400, 400004, "the body must have a methodName");
  }
  transport::http_request inner = req;
  inner.target = "/methods/" + iothub::percent_encode(call["methodName"].get<std::string>());
  inner.body = call.contains("payload") ? call["payload"].dump() : "null";
  return agent_admin(sys, agent, inner);
}

} // namespace outpost::app
