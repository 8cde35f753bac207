#include "routing/endpoint/retry_policy.hpp"

#include <algorithm>

namespace outpost::routing {

std::int64_t retry_policy::delay_ms(std::uint32_t attempt) const noexcept {
  const std::int64_t lo = std::max<std::int64_t>(min_backoff_ms, 0);
  const std::int64_t hi = std::max(max_backoff_ms, lo);
  if (attempt <= 1 || delta_ms <= 0) {
    return std::min(lo, hi);
  }
  // (2^(attempt-1) - 1) * delta, saturating: past 2^40 ms (35 years) every policy is capped.
  const std::uint32_t shift = attempt - 1;
  if (shift >= 40) {
    return hi;
  }
  const std::int64_t factor = (std::int64_t{1} << shift) - 1;
  if (factor > (hi - lo) / delta_ms) {
    return hi;
  }
  return std::min(lo + factor * delta_ms, hi);
}

} // namespace outpost::routing
