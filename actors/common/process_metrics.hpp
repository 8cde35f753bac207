#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

namespace outpost::actors {

/// The standard Prometheus process metrics (process_resident_memory_bytes,
/// process_cpu_seconds_total, process_open_fds, ...) read from /proc at scrape time.
/// Stateless, so any thread may collect.
class process_metrics final : public prometheus::Collectable {
public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

} // namespace outpost::actors
