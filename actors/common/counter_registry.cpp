#include "actors/common/counter_registry.hpp"

#include "actors/common/label_key.hpp"

#include <prometheus/client_metric.h>

namespace outpost::actors {

counter_registry::counter& counter_registry::family::Add(const prometheus::Labels& labels) {
  auto key = encode_labels(labels);
  std::lock_guard lock{mu_};
  // try_emplace builds the counter in its node: it is neither copied nor moved.
  return series_.try_emplace(std::move(key)).first->second;
}

counter_registry::family& counter_registry::add_family(const std::string& name,
                                                       const std::string& help) {
  std::lock_guard lock{mu_};
  auto& slot = families_[name];
  if (!slot) {
    slot.reset(new family(name, help));
  }
  return *slot;
}

std::vector<prometheus::MetricFamily> counter_registry::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  std::lock_guard lock{mu_};
  out.reserve(families_.size());
  for (const auto& [name, fam] : families_) {
    std::lock_guard family_lock{fam->mu_};
    if (fam->series_.empty()) {
      continue; // as prometheus-cpp's registry: a family shows once it has a series
    }
    prometheus::MetricFamily mf;
    mf.name = name;
    mf.help = fam->help_;
    mf.type = prometheus::MetricType::Counter;
    mf.metric.reserve(fam->series_.size());
    for (const auto& [key, c] : fam->series_) {
      prometheus::ClientMetric m;
      decode_labels(key, m.label);
      m.counter.value = c.Value();
      mf.metric.push_back(std::move(m));
    }
    out.push_back(std::move(mf));
  }
  return out;
}

} // namespace outpost::actors
