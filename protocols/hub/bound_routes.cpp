#include "protocols/hub/bound_routes.hpp"

#include "routing/query/evaluation.hpp"

#include <algorithm>
#include <numeric>

namespace outpost::hub {

bound_routes::bound_routes() : table_(std::make_shared<routing::route_table>()) {}

void bound_routes::add(binding b, std::size_t route) {
  of_route_[route] = static_cast<std::uint32_t>(bindings_.size());
  bindings_.push_back(std::move(b));
}

/// Sorts the bindings by (endpoint id, priority) and renumbers the routes' indexes.
void bound_routes::finish() {
  std::vector<std::uint32_t> order(bindings_.size());
  std::iota(order.begin(), order.end(), 0u);
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    const auto& x = bindings_[a];
    const auto& y = bindings_[b];
    return x.endpoint_id != y.endpoint_id ? x.endpoint_id < y.endpoint_id : x.priority < y.priority;
  });
  std::vector<std::uint32_t> position(order.size());
  std::vector<binding> sorted;
  sorted.reserve(order.size());
  for (std::uint32_t k = 0; k < order.size(); ++k) {
    position[order[k]] = k;
    sorted.push_back(std::move(bindings_[order[k]]));
  }
  bindings_ = std::move(sorted);
  for (auto& b : of_route_) {
    b = position[b];
  }
}

void bound_routes::match(const routing::message& m, std::vector<bound_target>& out) const {
  thread_local std::vector<std::uint32_t> routes;
  table_->match_routes(m, routes, routing::thread_scratch());
  out.resize(routes.size());
  for (std::size_t i = 0; i < routes.size(); ++i) {
    out[i] = {&bindings_[of_route_[routes[i]]], ttl_ms_[routes[i]]};
  }
}

const binding* bound_routes::find(std::string_view endpoint_id, std::uint32_t priority) const {
  for (const auto& b : bindings_) {
    if (b.endpoint_id == endpoint_id && b.priority == priority) {
      return &b;
    }
  }
  return nullptr;
}

std::vector<const binding*> bound_routes::inputs_of(std::string_view client_id) const {
  std::vector<const binding*> out;
  for (const auto& b : bindings_) {
    const std::string_view id = b.endpoint_id;
    if (b.target.what == routing::endpoint::kind::module_input && id.size() > client_id.size()
        && id.compare(0, client_id.size(), client_id) == 0 && id[client_id.size()] == '/'
        && id.find('/', client_id.size() + 1) == std::string_view::npos) {
      out.push_back(&b);
    }
  }
  return out;
}

} // namespace outpost::hub
