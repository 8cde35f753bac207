#pragma once

#include "actors/common/quantile_sketch.hpp"

#include <prometheus/collectable.h>
#include <prometheus/labels.h>
#include <prometheus/metric_family.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace outpost::actors {

/// Prometheus summaries (IoT Edge's per-message `edgehub_message_size_bytes`,
/// `edgehub_message_process_duration_seconds`, ...) exposed like prometheus-cpp's, but observed
/// at a constant cost through a `quantile_sketch` instead of CKMS streams. Quantiles cover the
/// values observed since the window last turned over; `_count` and `_sum` are cumulative.
/// Families and series are created by any thread and live as long as the registry; the daemon
/// collects it next to prometheus-cpp's registry.
class summary_registry final : public prometheus::Collectable {
public:
  /// A lock of one byte for sections of a few instructions (BasicLockable).
  class spin_lock {
  public:
    void lock() noexcept {
      while (flag_.test_and_set(std::memory_order_acquire)) {
        std::this_thread::yield();
      }
    }
    void unlock() noexcept { flag_.clear(std::memory_order_release); }

  private:
    std::atomic_flag flag_ = ATOMIC_FLAG_INIT;
  };

  using clock_fn = std::int64_t (*)(); ///< milliseconds, monotonic

  /// One labelled summary. observe() is thread-safe (one uncontended spin lock).
  class series {
  public:
    explicit series(std::int64_t now_ms) : window_start_ms_(now_ms) {}
    void observe(double v);

  private:
    friend class summary_registry;
    /// A spin lock, not a std::mutex: held for one sketch update by one session (or a
    /// scrape), and 40 bytes less per series put it in jemalloc's 112-byte class instead of
    /// 160 (a series per device and per sender: ~100 B per device with 10k devices).
    mutable spin_lock mu_;
    quantile_sketch sketch_;
    std::uint64_t count_ = 0;
    double sum_ = 0;
    std::int64_t window_start_ms_;
    const summary_registry* owner_ = nullptr;
  };

  /// The series of one metric name, by label set.
  class family {
  public:
    /// The series with these labels, created on first use; its address is stable.
    series& add(const prometheus::Labels& labels);

  private:
    friend class summary_registry;
    family(const summary_registry& owner, std::string name, std::string help)
        : owner_(owner),
          name_(std::move(name)),
          help_(std::move(help)) {}
    const summary_registry& owner_;
    std::string name_;
    std::string help_;
    mutable std::mutex mu_;
    /// By `encode_labels`: one string per series, not a map of strings.
    std::map<std::string, std::unique_ptr<series>, std::less<>> series_;
  };

  /// IoT Edge's quantiles (facts §8.1) over a 60 s window unless told otherwise.
  explicit summary_registry(std::vector<double> quantiles = {0.1, 0.5, 0.9, 0.99},
                            std::chrono::milliseconds window = std::chrono::seconds(60),
                            clock_fn clock = nullptr);

  /// The family of `name`, created on first use (`help` is kept from the first call).
  family& add_family(const std::string& name, const std::string& help);

  std::vector<prometheus::MetricFamily> Collect() const override;

private:
  std::int64_t now_ms() const;
  void turn_window(series& s, std::int64_t now) const; ///< under the series' lock

  std::vector<double> quantiles_;
  std::int64_t window_ms_;
  clock_fn clock_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<family>> families_;
};

} // namespace outpost::actors
