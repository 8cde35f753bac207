#include "actors/hub/route_loader.hpp"

#include "actors/common/mailbox.hpp"
#include "actors/common/messages.hpp"

#include <caf/all.hpp>

#include <chrono>

namespace outpost::actors {

namespace {

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace

result<std::shared_ptr<const hub_routes>> bind_routes(
    caf::actor_system& sys, const caf::actor& writer,
    std::shared_ptr<const routing::route_table> table, const std::string& edge_device_id,
    std::uint32_t delivery_window, const hub_routes* previous) {
  auto routes = std::make_shared<hub_routes>();
  routes->table = table;
  caf::scoped_actor self{sys};
  for (std::size_t i = 0; i < table->size(); ++i) {
    const auto& r = table->route(i);
    const auto id = r.sink.id(edge_device_id);
    if (routes->bindings.count({id, r.priority})) {
      continue;
    }
    if (const auto* old = previous ? previous->find(id, r.priority) : nullptr) {
      routes->bindings.emplace(std::make_pair(id, r.priority), *old);
      continue;
    }
    std::error_code err;
    storage::queue_handle q = 0;
    self->request(writer, std::chrono::seconds(30), open_atom::value,
                  storage::queue_name{id, r.priority})
        .receive([&](open_reply& rep) { err = rep.error, q = rep.queue; },
                 [&](caf::error&) { err = std::make_error_code(std::errc::timed_out); });
    if (err) {
      return err;
    }
    endpoint_binding b{r.sink, id, r.priority, q, {}};
    b.mailbox = spawn_mailbox(sys, {writer, q, delivery_window, 4096, wall_ms});
    routes->bindings.emplace(std::make_pair(id, r.priority), std::move(b));
  }
  return std::shared_ptr<const hub_routes>{std::move(routes)};
}

} // namespace outpost::actors
