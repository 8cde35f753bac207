#pragma once

#include "routing/router/route_table.hpp"
#include "storage/message_store.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::hub {

/// One persistent mailbox: an endpoint at one priority, and its queue.
struct binding {
  routing::endpoint target;
  std::string endpoint_id; ///< "iothub" or "<edge>/<module>/<input>"
  std::uint32_t priority = routing::default_priority;
  storage::queue_handle queue = 0;
  /// The mailbox's handle in the shell that owns it (an actor), opaque here; kept alive by
  /// the snapshot, so a session that still holds the snapshot can still reach it.
  std::shared_ptr<const void> handle;
  /// A device's cloud-to-device queue (not a route's): deliveries go out as C2D messages.
  bool device_bound = false;
};

/// Where one matched message goes: the mailbox and the TTL of the route that decided.
struct bound_target {
  const binding* to = nullptr;
  std::int64_t ttl_ms = -1; ///< < 0: never expires
};

/// A compiled route table bound to its mailboxes once, when the routes change: route `i` of
/// the table writes to `bindings()[of_route(i)]`. The per-message path (`match`) does no string
/// building and no map lookup. An immutable snapshot; `const` methods are thread-safe.
class bound_routes {
public:
  /// No routes, no mailboxes.
  bound_routes();

  /// Binds `table`: `open(endpoint_id, priority, sink)` returns the binding of each distinct
  /// (endpoint, priority) the routes name (the shell opens the queue and its mailbox, or reuses
  /// the one it had); an error ends the binding. Bindings are ordered by (endpoint_id,
  /// priority).
  template <class Open>
  static result<bound_routes> bind(std::shared_ptr<const routing::route_table> table,
                                   const std::string& edge_device_id, Open&& open);

  /// The mailboxes `m` goes to (overwrites `out`; reuses its capacity).
  void match(const routing::message& m, std::vector<bound_target>& out) const;

  const routing::route_table& table() const noexcept { return *table_; }
  const std::shared_ptr<const routing::route_table>& table_ptr() const noexcept { return table_; }
  const std::vector<binding>& bindings() const noexcept { return bindings_; }
  /// The binding of (endpoint id, priority), or null (not on the per-message path).
  const binding* find(std::string_view endpoint_id, std::uint32_t priority) const;
  /// The input mailboxes of module client `client_id` ("<device>/<module>"), ordered by
  /// (input, priority).
  std::vector<const binding*> inputs_of(std::string_view client_id) const;

private:
  void add(binding b, std::size_t route);
  void finish();

  std::shared_ptr<const routing::route_table> table_;
  std::vector<binding> bindings_;
  std::vector<std::uint32_t> of_route_; ///< route index -> index into bindings_
  std::vector<std::int64_t> ttl_ms_;    ///< route index -> TTL in ms (< 0: forever)
};

template <class Open>
result<bound_routes> bound_routes::bind(std::shared_ptr<const routing::route_table> table,
                                        const std::string& edge_device_id, Open&& open) {
  bound_routes out;
  out.table_ = std::move(table);
  const auto n = out.table_->size();
  out.of_route_.assign(n, 0);
  out.ttl_ms_.assign(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& r = out.table_->route(i);
    auto id = r.sink.id(edge_device_id);
    if (const auto* known = out.find(id, r.priority)) {
      out.of_route_[i] = static_cast<std::uint32_t>(known - out.bindings_.data());
    } else {
      result<binding> b = open(id, r.priority, r.sink);
      if (!b) {
        return b.error();
      }
      b->target = r.sink;
      b->endpoint_id = std::move(id);
      b->priority = r.priority;
      out.add(std::move(*b), i);
    }
    out.ttl_ms_[i] = r.ttl_secs < 0 ? -1 : r.ttl_secs * 1000;
  }
  out.finish();
  return out;
}

} // namespace outpost::hub
