#pragma once

#include "actors/common/snapshot.hpp"
#include "routing/router/route_table.hpp"
#include "storage/message_store.hpp"

#include <caf/actor.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace outpost::actors {

/// One persistent mailbox: an endpoint at one priority, its queue and its actor.
struct endpoint_binding {
  routing::endpoint target;
  std::string endpoint_id; ///< "iothub" or "<edge>/<module>/<input>"
  std::uint32_t priority = routing::default_priority;
  storage::queue_handle queue = 0;
  caf::actor mailbox;
};

/// The compiled routes and the mailboxes they write to: an immutable snapshot that session
/// actors read on every publish (no actor hop), swapped whole when the routes change.
struct hub_routes {
  std::shared_ptr<const routing::route_table> table = std::make_shared<routing::route_table>();
  /// (endpoint id, priority) -> binding.
  std::map<std::pair<std::string, std::uint32_t>, endpoint_binding> bindings;

  const endpoint_binding* find(const std::string& endpoint_id, std::uint32_t priority) const {
    auto i = bindings.find({endpoint_id, priority});
    return i == bindings.end() ? nullptr : &i->second;
  }
  /// Every input mailbox of module client `client_id` ("<device>/<module>").
  std::vector<const endpoint_binding*> inputs_of(const std::string& client_id) const {
    std::vector<const endpoint_binding*> out;
    for (const auto& [key, b] : bindings) {
      if (b.target.what == routing::endpoint::kind::module_input
          && key.first.compare(0, client_id.size() + 1, client_id + "/") == 0
          && key.first.find('/', client_id.size() + 1) == std::string::npos) {
        out.push_back(&b);
      }
    }
    return out;
  }
};

using routes_snapshot = snapshot<hub_routes>;

} // namespace outpost::actors
