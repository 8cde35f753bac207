#include "actors/common/quantile_sketch.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace outpost::actors {

namespace {
constexpr double smallest = 1e-9; ///< below this a value is 0 (a nanosecond, a byte's fraction)
} // namespace

quantile_sketch::quantile_sketch(double relative_accuracy, std::size_t max_buckets)
    : gamma_((1 + relative_accuracy) / (1 - relative_accuracy)),
      log_gamma_(std::log(gamma_)),
      max_buckets_(std::max<std::size_t>(max_buckets, 2)) {}

std::int32_t quantile_sketch::index_of(double v) const {
  return static_cast<std::int32_t>(std::ceil(std::log(v) / log_gamma_));
}

double quantile_sketch::value_of(std::int32_t index) const {
  // The middle of (gamma^(i-1), gamma^i] in relative terms: within the accuracy of both ends.
  return 2 * std::pow(gamma_, index) / (gamma_ + 1);
}

void quantile_sketch::add(double v) {
  ++count_;
  if (!(v >= smallest)) { // NaN, negative, zero, tiny
    ++zeros_;
    return;
  }
  const auto i = index_of(v);
  if (last_ < buckets_.size() && buckets_[last_].first == i) {
    ++buckets_[last_].second;
    return;
  }
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), i,
                             [](const auto& b, std::int32_t key) { return b.first < key; });
  if (it != buckets_.end() && it->first == i) {
    ++it->second;
    last_ = static_cast<std::size_t>(it - buckets_.begin());
    return;
  }
  it = buckets_.insert(it, {i, 1u});
  last_ = static_cast<std::size_t>(it - buckets_.begin());
  if (buckets_.size() > max_buckets_) {
    // Collapse the lowest two: the low tail loses precision, nothing is lost from the count.
    buckets_[1].second += buckets_[0].second;
    buckets_.erase(buckets_.begin());
    last_ = 0;
  }
}

double quantile_sketch::quantile(double q) const {
  if (count_ == 0) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the q-quantile, 0-based: the value below which q of the values lie.
  const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1));
  if (rank < zeros_) {
    return 0;
  }
  std::uint64_t seen = zeros_;
  for (const auto& [index, n] : buckets_) {
    seen += n;
    if (seen > rank) {
      return value_of(index);
    }
  }
  return value_of(buckets_.back().first);
}

void quantile_sketch::clear() {
  zeros_ = 0;
  count_ = 0;
  buckets_.clear();
  last_ = 0;
}

} // namespace outpost::actors
