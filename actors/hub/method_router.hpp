#pragma once

#include "actors/hub/hub_metrics.hpp"
#include "actors/hub/method_interface.hpp"

#include <caf/fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace outpost::actors {

/// Spawns the direct-method router: glue over `hub::method_table` (protocols/hub), which keeps
/// the calls in flight. A call to a listening identity is sent to its session at once; to one
/// that does not listen, it waits up to its connect timeout; the caller is answered when the
/// target's session passes the answer on (only the target's own answer counts), or with 404
/// (404103) or 504 (504101) when time is up. Nothing waits on a thread: the calls are the
/// table's state and one timer covers the next deadline.
/// `metrics` (optional): edgehub_direct_methods_total and _duration_seconds, {from, to}.
method_router_actor spawn_method_router(caf::actor_system& sys,
                                        std::function<std::int64_t()> now_ms,
                                        std::shared_ptr<hub_metrics> metrics = nullptr);

} // namespace outpost::actors
