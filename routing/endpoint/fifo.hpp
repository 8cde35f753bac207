#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace outpost::routing::detail {

/// A FIFO over one vector: push at the back, pop at the front, random access in between
/// (sorted contents can be binary-searched). Popped slots are reclaimed by sliding the live
/// elements down once at least half of the vector is popped, so a queue that stays within its
/// high-water mark allocates nothing (std::deque allocates a block every few elements, std::map
/// a node per element).
template <class T>
class fifo {
public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }

  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& back() { return items_.back(); }
  const T& back() const { return items_.back(); }

  T* begin() noexcept { return items_.data() + head_; }
  T* end() noexcept { return items_.data() + items_.size(); }
  const T* begin() const noexcept { return items_.data() + head_; }
  const T* end() const noexcept { return items_.data() + items_.size(); }

  void push_back(T&& v) {
    make_room();
    items_.push_back(std::move(v));
  }
  void push_back(const T& v) {
    make_room();
    items_.push_back(v);
  }

  /// Releases what the element owns now (a body the caller did not move out), not at the
  /// next compaction.
  void pop_front() {
    items_[head_] = T{};
    if (++head_ == items_.size()) {
      clear();
    }
  }

  void clear() noexcept {
    items_.clear(); // keeps the capacity
    head_ = 0;
  }

  /// Removes the elements matching `pred`, keeping the order of the others.
  template <class Pred>
  void erase_if(Pred pred) {
    auto* out = begin();
    for (auto* in = begin(); in != end(); ++in) {
      if (pred(*in)) {
        continue;
      }
      if (out != in) {
        *out = std::move(*in);
      }
      ++out;
    }
    items_.erase(items_.begin() + (out - items_.data()), items_.end());
    if (head_ == items_.size()) {
      clear();
    }
  }

private:
  void make_room() {
    if (head_ != 0 && items_.size() == items_.capacity() && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  std::vector<T> items_;
  std::size_t head_ = 0;
};

} // namespace outpost::routing::detail
