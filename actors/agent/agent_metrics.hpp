#pragma once

#include "actors/workload/agent_view.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/summary.h>

#include <cstdint>
#include <map>
#include <string>

namespace prometheus {
class Registry;
}

namespace outpost::actors {

/// The edge agent's metrics with IoT Edge's names (facts §8.3), measured on real execution
/// (IoT Edge counts commands when it plans them; we count them when they happened):
/// edgeAgent_module_start_total / _stop_total {module_name, module_version},
/// edgeAgent_command_latency_seconds {command}, edgeAgent_total_time_running_correctly_seconds
/// and _expected_running_seconds {module_name}, edgeAgent_used_memory_bytes and
/// edgeAgent_used_cpu_percent {module_name} from /proc (plus `host`), edgeAgent_total_memory_bytes
/// {module_name="host"}, edgeAgent_available/total_disk_space_bytes {disk_name, ...} of the
/// storage folder. Used by the agent actor only.
struct agent_metrics {
  agent_metrics(prometheus::Registry& r, std::string storage_dir);

  void module_started(const std::string& name, const std::string& version, std::int64_t ms);
  void module_stopped(const std::string& name, const std::string& version, std::int64_t ms);
  /// Availability and resources, from the view the agent just published.
  void observe(const agent_view_data& view, std::int64_t now_ms);

private:
  struct cpu_sample {
    std::uint64_t ticks = 0;
    std::int64_t at_ms = 0;
  };

  prometheus::Family<prometheus::Counter>& starts_;
  prometheus::Family<prometheus::Counter>& stops_;
  prometheus::Family<prometheus::Summary>& latency_;
  prometheus::Family<prometheus::Gauge>& running_correctly_;
  prometheus::Family<prometheus::Gauge>& expected_running_;
  prometheus::Family<prometheus::Gauge>& used_memory_;
  prometheus::Family<prometheus::Gauge>& total_memory_;
  prometheus::Family<prometheus::Summary>& used_cpu_;
  prometheus::Family<prometheus::Gauge>& disk_available_;
  prometheus::Family<prometheus::Gauge>& disk_total_;
  std::string storage_dir_;
  std::int64_t last_observed_ms_ = 0;
  std::int64_t last_resources_ms_ = 0;
  std::map<std::string, cpu_sample> cpu_;
};

} // namespace outpost::actors
