#pragma once

#include <cstdint>

namespace outpost::routing {

/// Exponential back-off with a cap, IoT Edge's store-and-forward policy for endpoints
/// (iotedge-facts §6.3: ExponentialBackoff(retries = int.MaxValue, min 1 s, max 60 s,
/// delta 1 s)). The n-th consecutive retry waits `min + (2^(n-1) - 1) * delta`, capped at
/// `max`: 1, 2, 4, 8, 16, 32, 60, 60, ... s with the defaults. Retries never run out: an entry
/// leaves a queue acknowledged or expired (its TTL), never because a consumer kept failing.
/// Deterministic (IoT Edge adds ±20% jitter to delta): a caller that wants jitter adds it.
struct retry_policy {
  std::int64_t min_backoff_ms = 1000;
  std::int64_t max_backoff_ms = 60000;
  std::int64_t delta_ms = 1000;

  /// The wait before retry number `attempt` (1 = the first retry after a failure).
  std::int64_t delay_ms(std::uint32_t attempt) const noexcept;
};

} // namespace outpost::routing
