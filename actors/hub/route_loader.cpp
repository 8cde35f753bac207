#include "actors/hub/route_loader.hpp"

#include "actors/common/mailbox.hpp"
#include "actors/common/messages.hpp"

#include <caf/all.hpp>

namespace outpost::actors {

result<std::shared_ptr<const hub_routes>> bind_routes(
    caf::actor_system& sys, const mailbox_config& mailboxes,
    std::shared_ptr<const routing::route_table> table, const std::string& edge_device_id,
    const hub_routes* previous) {
  const auto& writer = mailboxes.writer;
  caf::scoped_actor self{sys};
  auto bound = hub_routes::bind(
      std::move(table), edge_device_id,
      [&](const std::string& id, std::uint32_t priority,
          const routing::endpoint&) -> result<hub::binding> {
        if (const auto* old = previous ? previous->find(id, priority) : nullptr) {
          return *old; // the same queue and mailbox: nothing in flight is lost or sent twice
        }
        std::error_code err;
        storage::queue_handle q = 0;
        self->request(writer, std::chrono::seconds(30), open_atom::value,
                      storage::queue_name{id, priority})
            .receive([&](open_reply& rep) { err = rep.error, q = rep.queue; },
                     [&](caf::error&) { err = std::make_error_code(std::errc::timed_out); });
        if (err) {
          return err;
        }
        hub::binding b;
        b.queue = q;
        auto cfg = mailboxes;
        cfg.queue = q;
        b.handle = std::make_shared<const mailbox_actor>(spawn_mailbox(sys, std::move(cfg)));
        return b;
      });
  if (!bound) {
    return bound.error();
  }
  return std::shared_ptr<const hub_routes>{std::make_shared<hub_routes>(std::move(*bound))};
}

} // namespace outpost::actors
