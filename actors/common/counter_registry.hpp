#pragma once

#include <prometheus/collectable.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace outpost::actors {

/// Prometheus counters with a series per identity (IoT Edge's `edgehub_messages_received_total
/// {id}`, `edgehub_messages_sent_total{from, to, ...}`, ...), exposed like prometheus-cpp's
/// but stored compactly: a series is its label set encoded as one string (`encode_labels`) and
/// an integer. With 10k devices sending to a module, prometheus-cpp's `Family` held ~2 KB of
/// labels per device (a map node and two strings per label, per series); this holds ~0.3 KB.
/// Families and series are created by any thread and live as long as the registry; the daemon
/// collects it next to prometheus-cpp's registry.
class counter_registry final : public prometheus::Collectable {
public:
  /// One labelled counter. Increment() is thread-safe and lock-free.
  class counter {
  public:
    void Increment() noexcept { value_.fetch_add(1, std::memory_order_relaxed); }
    double Value() const noexcept {
      return static_cast<double>(value_.load(std::memory_order_relaxed));
    }

  private:
    std::atomic<std::uint64_t> value_{0};
  };

  /// The series of one metric name, by label set. The same calls as prometheus-cpp's
  /// `Family<Counter>`, so a family moves between the two without touching its users.
  class family {
  public:
    /// The series with these labels, created on first use; its address is stable.
    counter& Add(const prometheus::Labels& labels);

  private:
    friend class counter_registry;
    family(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
    std::string name_;
    std::string help_;
    mutable std::mutex mu_;
    std::map<std::string, counter, std::less<>> series_; ///< nodes: addresses are stable
  };

  /// The family of `name`, created on first use (`help` is kept from the first call).
  family& add_family(const std::string& name, const std::string& help);

  std::vector<prometheus::MetricFamily> Collect() const override;

private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<family>> families_;
};

} // namespace outpost::actors
