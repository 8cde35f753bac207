#pragma once

// Private to routing/router: the shared state behind a route_table.

#include "routing/query/condition.hpp"
#include "routing/router/message_source.hpp"
#include "routing/router/route_table.hpp"

#include <optional>
#include <string>
#include <vector>

namespace outpost::routing {

struct route_table::impl {
  struct entry {
    route_info info;
    source_filter source;
    condition cond;
    /// Dense number of `info.sink`: routes to one endpoint share it, so matching compares
    /// integers instead of endpoint strings.
    std::uint32_t sink = 0;
  };

  std::vector<entry> routes;
  std::int64_t default_ttl_secs = ttl_forever;
  std::optional<std::uint64_t> max_store_size_bytes;
  std::string schema_version;
};

} // namespace outpost::routing
