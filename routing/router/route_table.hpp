#pragma once

#include "routing/grammar/endpoint.hpp"
#include "routing/grammar/route_error.hpp"
#include "routing/model/message.hpp"
#include "routing/query/evaluation.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace outpost::routing {

/// The priority of a route that sets none: below every explicit one (RouteFactory).
inline constexpr std::uint32_t default_priority = 2000000000;
/// A TTL that never expires (a negative `timeToLiveSecs`).
inline constexpr std::int64_t ttl_forever = -1;

/// A route as configured: its text, priority 0-9 (0 highest, or `default_priority`) and TTL
/// (0 = the table's default; iotedge-facts §1.3, §5.4).
struct route_spec {
  std::string text;
  std::uint32_t priority = default_priority;
  std::int64_t ttl_secs = 0;
};

/// Where a matching message goes, with the priority and TTL it is stored with there.
struct route_target {
  endpoint target;
  std::uint32_t priority = default_priority;
  std::int64_t ttl_secs = ttl_forever; ///< seconds; < 0: never expires
  std::string route;                   ///< the name of the route that decided priority and TTL
};

/// A compiled route, for `outpost check`, the admin API and logs.
struct route_info {
  std::string name;
  std::string text;
  std::string source; ///< the normalised FROM prefix, e.g. "/messages/modules/filter/"
  endpoint sink;
  std::uint32_t priority = default_priority;
  std::int64_t ttl_secs = ttl_forever; ///< effective: the route's own or the default
};

/// The hub's routes, compiled: an immutable snapshot, cheap to copy (shared), swapped whole on
/// reconfiguration. `const` methods are thread-safe.
class route_table {
public:
  /// No routes: every message matches nothing.
  route_table();

  /// Compiles named routes. Fails on the first route (in the given order) that does not
  /// compile, on an empty or duplicate name, or on a priority outside 0-9 (except
  /// `default_priority`); the error names the route. `default_ttl_secs` < 0 means forever.
  static std::variant<route_table, route_error> compile(
      const std::vector<std::pair<std::string, route_spec>>& routes, std::int64_t default_ttl_secs);

  /// From the `$edgeHub` "properties.desired" JSON (iotedge-facts §1.3): schema 1.0 (string
  /// routes; blank ones skipped) and 1.1-1.3 (strings or `{route, priority, timeToLiveSecs}`,
  /// `storeAndForwardConfiguration` required). Also accepts the document wrapped as
  /// `{"properties.desired": {...}}` or a whole deployment manifest (`modulesContent`).
  /// Without `storeAndForwardConfiguration.timeToLiveSecs` the TTL is `default_ttl_secs`.
  static std::variant<route_table, route_error> from_edgehub_desired(
      std::string_view json, std::int64_t default_ttl_secs = ttl_forever);

  /// The endpoints `m` goes to, one entry per endpoint: of several matching routes to one
  /// endpoint the highest priority (lowest number) wins and brings its TTL (facts §5.4).
  /// Overwrites `out` (empty: no route matched). Reuses `out`'s elements, so a caller that
  /// keeps one vector does not allocate in steady state. Uses `thread_scratch()`.
  void match(const message& m, std::vector<route_target>& out) const;
  /// The same with an explicit scratch.
  void match(const message& m, std::vector<route_target>& out, evaluation_scratch& scratch) const;
  /// The same decision as `match`, as the indexes (`route(i)`) of the deciding routes, one per
  /// endpoint, in first-match order: the hot path of a hub whose bindings are resolved per
  /// route index once (no strings copied or compared). Overwrites `out`.
  void match_routes(const message& m, std::vector<std::uint32_t>& out,
                    evaluation_scratch& scratch) const;

  std::size_t size() const noexcept;
  bool empty() const noexcept { return size() == 0; }
  /// Route `i` in configuration order; `i` < `size()`.
  const route_info& route(std::size_t i) const;

  /// The default TTL for routes without their own (< 0: forever).
  std::int64_t default_ttl_secs() const noexcept;
  /// `storeAndForwardConfiguration.storeLimits.maxSizeBytes`, when configured.
  std::optional<std::uint64_t> max_store_size_bytes() const noexcept;
  /// The `schemaVersion` it was read from ("" for `compile`).
  const std::string& schema_version() const noexcept;

  struct impl;

private:
  explicit route_table(std::shared_ptr<const impl> p) : impl_(std::move(p)) {}

  std::shared_ptr<const impl> impl_;
};

} // namespace outpost::routing
