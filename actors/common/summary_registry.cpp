#include "actors/common/summary_registry.hpp"

#include "actors/common/label_key.hpp"

#include <prometheus/client_metric.h>

#include <ctime>

namespace outpost::actors {

// A series per device (message sizes) and per sender (process durations): 112 bytes is
// jemalloc's size class below 128 and 160.
static_assert(sizeof(summary_registry::series) <= 112, "a summary series grew a size class");

namespace {

std::int64_t coarse_monotonic_ms() {
  // The coarse clock: a few nanoseconds per read, and a window of a minute needs no better.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

} // namespace

summary_registry::summary_registry(std::vector<double> quantiles, std::chrono::milliseconds window,
                                   clock_fn clock)
    : quantiles_(std::move(quantiles)),
      window_ms_(window.count()),
      clock_(clock ? clock : &coarse_monotonic_ms) {}

std::int64_t summary_registry::now_ms() const {
  return clock_();
}

void summary_registry::turn_window(series& s, std::int64_t now) const {
  if (now - s.window_start_ms_ >= window_ms_) {
    s.sketch_.clear();
    s.window_start_ms_ = now;
  }
}

void summary_registry::series::observe(double v) {
  const auto now = owner_->now_ms();
  std::lock_guard lock{mu_};
  owner_->turn_window(*this, now);
  sketch_.add(v);
  ++count_;
  sum_ += v;
}

summary_registry::series& summary_registry::family::add(const prometheus::Labels& labels) {
  auto key = encode_labels(labels);
  std::lock_guard lock{mu_};
  auto& slot = series_[std::move(key)];
  if (!slot) {
    slot = std::make_unique<series>(owner_.now_ms());
    slot->owner_ = &owner_;
  }
  return *slot;
}

summary_registry::family& summary_registry::add_family(const std::string& name,
                                                       const std::string& help) {
  std::lock_guard lock{mu_};
  auto& slot = families_[name];
  if (!slot) {
    slot.reset(new family(*this, name, help));
  }
  return *slot;
}

std::vector<prometheus::MetricFamily> summary_registry::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  const auto now = now_ms();
  std::lock_guard lock{mu_};
  for (const auto& [name, fam] : families_) {
    prometheus::MetricFamily mf;
    mf.name = name;
    mf.help = fam->help_;
    mf.type = prometheus::MetricType::Summary;
    std::lock_guard family_lock{fam->mu_};
    for (const auto& [key, s] : fam->series_) {
      prometheus::ClientMetric m;
      decode_labels(key, m.label);
      std::lock_guard series_lock{s->mu_};
      turn_window(*s, now);
      m.summary.sample_count = s->count_;
      m.summary.sample_sum = s->sum_;
      for (double q : quantiles_) {
        m.summary.quantile.push_back({q, s->sketch_.quantile(q)});
      }
      mf.metric.push_back(std::move(m));
    }
    out.push_back(std::move(mf)); // declared even before a series exists, as prometheus-cpp does
  }
  return out;
}

} // namespace outpost::actors
