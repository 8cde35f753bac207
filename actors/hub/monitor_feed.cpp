#include "actors/hub/monitor_feed.hpp"

#include "protocols/common/iso_time.hpp"

#include <nlohmann/json.hpp>

namespace outpost::actors {

namespace {

using nlohmann::json;

std::string endpoint_text(const routing::endpoint& e) {
  return e.what == routing::endpoint::kind::upstream ? "$upstream" : e.to_route_text();
}

} // namespace

void monitor_feed::record(const routing::message& m, const std::vector<hub::bound_target>& targets,
                          std::int64_t now_ms) {
  json app = json::object();
  for (const auto& [k, v] : m.properties) {
    app[k] = v;
  }
  json sys = json::object();
  for (const auto& [p, v] : m.system_properties) {
    sys[std::string{routing::system_property_name(p)}] = v;
  }
  json endpoints = json::array();
  for (const auto& t : targets) {
    endpoints.push_back(endpoint_text(t.to->target));
  }
  const auto type = m.get(routing::system_property::content_type).value_or("");
  json payload = type == "application/json" ? json::parse(m.body, nullptr, false) : json{};
  if (payload.is_discarded() || payload.is_null()) {
    payload = m.body;
  }
  json event{
      {"origin", m.get(routing::system_property::connection_device_id).value_or("")},
      {"module", m.get(routing::system_property::connection_module_id).value_or("")},
      {"output", m.get(routing::system_property::output_name).value_or("")},
      {"routedTime", iso8601_ms(now_ms)},
      {"endpoints", endpoints},
      {"properties", {{"application", app}, {"system", sys}}},
      {"payload", payload},
  };
  // Bodies are bytes: invalid UTF-8 is shown replaced rather than failing the session.
  auto text = json{{"event", event}}.dump(-1, ' ', false, json::error_handler_t::replace);
  std::lock_guard<std::mutex> lock{mutex_};
  events_.emplace_back(next_++, std::move(text));
  while (events_.size() > capacity_) {
    events_.pop_front();
  }
}

std::string monitor_feed::poll(std::uint64_t after, std::size_t max, std::int64_t now_ms,
                               std::uint64_t& last) {
  last_poll_ms_.store(now_ms, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock{mutex_};
  if (after == 0) { // a new monitor starts from now, not from the ring's past
    last = next_ - 1;
    return "[]";
  }
  std::string out = "[";
  std::size_t n = 0;
  last = after;
  for (const auto& [seq, text] : events_) {
    if (seq <= after || n == max) {
      continue;
    }
    out += n++ ? "," : "";
    out += text;
    last = seq;
  }
  return out + "]";
}

} // namespace outpost::actors
