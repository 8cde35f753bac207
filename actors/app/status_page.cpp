#include "actors/app/status_page.hpp"

#include "actors/app/daemon_log.hpp"
#include "actors/common/messages.hpp"
#include "supervisor/config/build_info.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <chrono>

namespace outpost::app {

extern const char* const status_page_html;
extern const char* const status_page_css;
extern const char* const status_page_js;

namespace {

using nlohmann::json;

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

transport::http_response asset(const char* type, const char* body) {
  transport::http_response r{200, type, body};
  r.headers = {{"Content-Security-Policy",
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                "connect-src 'self'; frame-ancestors 'none'; form-action 'none'"},
               {"X-Content-Type-Options", "nosniff"},
               {"Cache-Control", "no-store"}};
  return r;
}

json queues_json(const status_page_sources& s) {
  json out = json::array();
  caf::scoped_actor self{*s.sys};
  const auto now = wall_ms();
  self->request(s.writer, std::chrono::seconds(2), actors::stats_atom::value)
      .receive(
          [&](actors::store_report& r) {
            for (const auto& q : r.queues) {
              out.push_back(
                  {{"endpoint", q.name.endpoint},
                   {"priority", q.name.priority},
                   {"length", q.stats.length},
                   {"bytes", q.stats.bytes},
                   {"oldestAgeSeconds", q.oldest_enqueued_ms == 0
                                            ? json(nullptr)
                                            : json((now - q.oldest_enqueued_ms) / 1000.0)}});
            }
          },
          [](caf::error&) {});
  return out;
}

json routes_json(const status_page_sources& s) {
  json list = json::array();
  if (auto bound = s.routes->get()) {
    const auto& table = bound->table();
    for (std::size_t i = 0; i < table.size(); ++i) {
      const auto& r = table.route(i);
      list.push_back({{"name", r.name},
                      {"route", r.text},
                      {"sink", r.sink.to_route_text()},
                      {"priority", r.priority},
                      {"ttlSecs", r.ttl_secs}});
    }
  }
  const auto st = s.hub_status->get();
  return {{"code", st->code}, {"description", st->description}, {"list", list}};
}

json status_json(const status_page_sources& s) {
  json modules = json::array();
  transport::http_request get_modules;
  get_modules.method = "GET";
  get_modules.target = "/modules";
  if (auto r = agent_admin(*s.sys, s.agent, get_modules); r && r->status == 200) {
    auto j = json::parse(r->body, nullptr, false);
    if (j.is_object() && j.contains("modules")) {
      for (const auto& m : j["modules"]) {
        modules.push_back({{"name", m.value("name", "")},
                           {"type", m.value("type", "")},
                           {"runtimeStatus", m.value("runtimeStatus", "")},
                           {"restartCount", m.value("restartCount", 0)},
                           {"description", m.value("statusDescription", "")}});
      }
    }
  }
  const auto up = s.upstream->get();
  json errors = json::array();
  for (const auto& line : daemon_log_lines(0, wall_ms() - 3600 * 1000)) {
    if (line.find(" warning ") != std::string::npos || line.find(" error ") != std::string::npos
        || line.find(" critical ") != std::string::npos) {
      errors.push_back(line);
    }
  }
  if (errors.size() > 20) {
    errors.erase(errors.begin(), errors.end() - 20);
  }
  return {
      {"device", s.device_id},
      {"version", build_version()},
      {"now", wall_ms()},
      {"modules", modules},
      {"queues", queues_json(s)},
      {"routes", routes_json(s)},
      {"upstream", {{"state", up->state}, {"parent", up->parent}, {"lastError", up->last_error}}},
      {"errors", errors}};
}

} // namespace

std::optional<transport::http_response> status_page(const status_page_sources& s,
                                                    const transport::http_request& req) {
  const auto path = req.target.substr(0, req.target.find('?'));
  if (req.method != "GET") {
    return std::nullopt;
  }
  if (path == "/" || path == "/index.html") {
    return asset("text/html; charset=utf-8", status_page_html);
  }
  if (path == "/status.css") {
    return asset("text/css; charset=utf-8", status_page_css);
  }
  if (path == "/status.js") {
    return asset("text/javascript; charset=utf-8", status_page_js);
  }
  if (path == "/status.json") {
    auto r = asset("application/json", "");
    r.body = status_json(s).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    return r;
  }
  return std::nullopt;
}

} // namespace outpost::app
