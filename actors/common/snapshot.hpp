#pragma once

#include <memory>
#include <mutex>

namespace outpost::actors {

/// An immutable value swapped atomically: one writer publishes a new version, any number of
/// readers on any thread take the current one without messaging (ARCHITECTURE.md §2,
/// "configuration snapshots"). Readers keep the version they took for as long as they need.
template <class T>
class snapshot {
public:
  explicit snapshot(std::shared_ptr<const T> initial = std::make_shared<const T>())
      : current_(std::move(initial)) {}

  std::shared_ptr<const T> get() const {
    std::lock_guard<std::mutex> lock{mutex_};
    return current_;
  }

  void set(std::shared_ptr<const T> next) {
    std::lock_guard<std::mutex> lock{mutex_};
    current_.swap(next);
  } // the old version is released outside the lock, when `next` goes

private:
  mutable std::mutex mutex_;
  std::shared_ptr<const T> current_;
};

} // namespace outpost::actors
