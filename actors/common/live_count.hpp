#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>

namespace outpost::actors {

/// Counts live objects of one kind (e.g. session actors) so that an owner can wait until the
/// last one is gone before it tears down what they use. CAF's actor system only waits for actors
/// when it is destroyed; the I/O runner whose sockets and timers the sessions hold must go
/// before that, so the hub waits on this count instead. Thread-safe.
class live_count : public std::enable_shared_from_this<live_count> {
public:
  /// Held by one live object; the count drops when the token is destroyed.
  class token {
  public:
    explicit token(std::shared_ptr<live_count> owner) : owner_(std::move(owner)) {}
    token(const token&) = delete;
    token& operator=(const token&) = delete;
    ~token() { owner_->leave(); }

  private:
    std::shared_ptr<live_count> owner_;
  };

  std::unique_ptr<token> enter() {
    {
      std::lock_guard<std::mutex> lock{mutex_};
      ++count_;
    }
    return std::make_unique<token>(shared_from_this());
  }

  /// Waits until the count is zero or `timeout` passes; returns the count left.
  std::size_t wait_zero(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock{mutex_};
    zero_.wait_for(lock, timeout, [this] { return count_ == 0; });
    return count_;
  }

private:
  void leave() {
    std::lock_guard<std::mutex> lock{mutex_};
    if (--count_ == 0) {
      zero_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable zero_;
  std::size_t count_ = 0;
};

} // namespace outpost::actors
