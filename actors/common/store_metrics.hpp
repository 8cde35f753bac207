#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <utility>

namespace outpost::actors {

/// The store's Prometheus series, declared once. IoT Edge names where IoT Edge has one
/// (`edgehub_queue_length`, `edgehub_messages_dropped_total`), `outpost_store_*` otherwise.
/// Counters and gauges are thread-safe; the label map is touched only by the writer actor.
struct store_metrics {
  explicit store_metrics(prometheus::Registry& registry);

  prometheus::Gauge& queue_length(const std::string& endpoint, std::uint32_t priority);
  prometheus::Gauge& queue_bytes(const std::string& endpoint, std::uint32_t priority);
  prometheus::Counter& ttl_dropped(const std::string& endpoint);

  prometheus::Family<prometheus::Gauge>& queue_length_family;
  prometheus::Family<prometheus::Gauge>& queue_bytes_family;
  prometheus::Family<prometheus::Counter>& dropped_family;
  prometheus::Gauge& used_bytes;
  prometheus::Gauge& quota_bytes;
  prometheus::Gauge& full;
  prometheus::Gauge& disk_full;
  prometheus::Gauge& disk_free_bytes;
  prometheus::Gauge& reserve_bytes;
  prometheus::Counter& appends;
  prometheus::Counter& append_failures;
  prometheus::Counter& commits;
  prometheus::Counter& acks;

private:
  std::map<std::pair<std::string, std::uint32_t>, prometheus::Gauge*> lengths_;
  std::map<std::pair<std::string, std::uint32_t>, prometheus::Gauge*> bytes_;
  std::map<std::string, prometheus::Counter*> dropped_;
};

} // namespace outpost::actors
