#include "routing/router/route_table.hpp"

#include "routing/router/compiled_route.hpp"
#include "routing/router/detail/route_table_impl.hpp"

#include <string_view>

namespace outpost::routing {

namespace {

bool blank(std::string_view s) noexcept {
  for (const char c : s) {
    if (c != ' ' && (c < '\t' || c > '\r')) {
      return false;
    }
  }
  return true;
}

std::shared_ptr<const route_table::impl> empty_impl() {
  static const auto instance = std::make_shared<const route_table::impl>();
  return instance;
}

} // namespace

route_table::route_table() : impl_(empty_impl()) {}

std::variant<route_table, route_error> route_table::compile(
    const std::vector<std::pair<std::string, route_spec>>& routes, std::int64_t default_ttl_secs) {
  auto table = std::make_shared<impl>();
  table->default_ttl_secs = default_ttl_secs < 0 ? ttl_forever : default_ttl_secs;
  table->routes.reserve(routes.size());
  for (const auto& [name, spec] : routes) {
    if (blank(name)) {
      return route_error{name, 0, "a route name must not be empty", errc::invalid_config, {}};
    }
    for (const auto& e : table->routes) {
      if (e.info.name == name) {
        return route_error{name, 0, "two routes have this name", errc::duplicate_route, {}};
      }
    }
    if (spec.priority > 9 && spec.priority != default_priority) {
      return route_error{name,
                         0,
                         "priority " + std::to_string(spec.priority)
                             + " is out of range: expected 0 (highest) to 9",
                         errc::invalid_config,
                         {}};
    }
    auto compiled = compile_route(spec.text);
    if (auto* err = std::get_if<route_error>(&compiled)) {
      err->route = name;
      return std::move(*err);
    }
    auto& r = std::get<compiled_route>(compiled);
    route_info info;
    info.name = name;
    info.text = spec.text;
    info.source = r.source.prefix();
    info.sink = r.sink;
    info.priority = spec.priority;
    // Route TTL 0 inherits the global one; negative means forever (facts §1.3, §5.4).
    const std::int64_t ttl = spec.ttl_secs != 0 ? spec.ttl_secs : table->default_ttl_secs;
    info.ttl_secs = ttl < 0 ? ttl_forever : ttl;
    std::uint32_t sink = 0;
    while (sink < table->routes.size() && table->routes[sink].info.sink != info.sink) {
      ++sink;
    }
    sink = sink < table->routes.size() ? table->routes[sink].sink
                                       : static_cast<std::uint32_t>(table->routes.size());
    table->routes.push_back({std::move(info), std::move(r.source), std::move(r.cond), sink});
  }
  return route_table(std::move(table));
}

void route_table::match(const message& m, std::vector<route_target>& out) const {
  match(m, out, thread_scratch());
}

void route_table::match(const message& m, std::vector<route_target>& out,
                        evaluation_scratch& scratch) const {
  thread_local std::vector<std::uint32_t> winners;
  match_routes(m, winners, scratch);
  out.resize(winners.size());
  for (std::size_t i = 0; i < winners.size(); ++i) {
    const auto& info = impl_->routes[winners[i]].info;
    route_target& t = out[i];
    // Assignments reuse the capacity of strings left in `out` by a previous call.
    t.target.what = info.sink.what;
    t.target.module = info.sink.module;
    t.target.input = info.sink.input;
    t.target.name = info.sink.name;
    t.priority = info.priority;
    t.ttl_secs = info.ttl_secs;
    t.route = info.name;
  }
}

void route_table::match_routes(const message& m, std::vector<std::uint32_t>& out,
                               evaluation_scratch& scratch) const {
  out.clear();
  if (impl_->routes.empty()) {
    return;
  }
  const message_source source = source_of(m);
  eval_context ctx(m, scratch); // the body is parsed at most once, on first use
  const auto& routes = impl_->routes;
  for (std::uint32_t i = 0; i < routes.size(); ++i) {
    const auto& r = routes[i];
    if (!r.source.matches(source) || !r.cond.matches(ctx)) {
      continue;
    }
    std::size_t j = 0;
    while (j < out.size() && routes[out[j]].sink != r.sink) {
      ++j;
    }
    if (j == out.size()) {
      out.push_back(i);
    } else if (r.info.priority < routes[out[j]].info.priority) {
      // One copy per endpoint, with the highest priority (lowest number) and its TTL.
      out[j] = i;
    }
  }
}

std::size_t route_table::size() const noexcept {
  return impl_->routes.size();
}

const route_info& route_table::route(std::size_t i) const {
  return impl_->routes[i].info; // precondition: i < size()
}

std::int64_t route_table::default_ttl_secs() const noexcept {
  return impl_->default_ttl_secs;
}

std::optional<std::uint64_t> route_table::max_store_size_bytes() const noexcept {
  return impl_->max_store_size_bytes;
}

const std::string& route_table::schema_version() const noexcept {
  return impl_->schema_version;
}

} // namespace outpost::routing
