#pragma once

#include <cstddef>
#include <iterator>
#include <utility>
#include <vector>

namespace outpost {

/// A FIFO on one growable circular buffer. Unlike std::deque (libstdc++ allocates a 64-byte map
/// and a 512-byte node in its default constructor), an empty ring_queue owns no memory, which is
/// what ten thousand idle connections need from their sessions' queues. It grows by doubling and
/// gives its buffer back when it empties out of a large size.
template <class T>
class ring_queue {
public:
  template <class Ring, class Value>
  class basic_iterator {
  public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = Value*;
    using reference = Value&;

    basic_iterator(Ring* ring, std::size_t i) : ring_(ring), i_(i) {}
    reference operator*() const { return (*ring_)[i_]; }
    pointer operator->() const { return &(*ring_)[i_]; }
    basic_iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const basic_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const basic_iterator& o) const { return i_ != o.i_; }

  private:
    Ring* ring_;
    std::size_t i_;
  };
  using iterator = basic_iterator<ring_queue, T>;
  using const_iterator = basic_iterator<const ring_queue, const T>;

  /// Capacity kept when the queue empties; above it the buffer is released.
  static constexpr std::size_t kept_capacity = 64;

  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  T& front() { return slots_[head_]; }
  const T& front() const { return slots_[head_]; }
  T& back() { return (*this)[size_ - 1]; }
  T& operator[](std::size_t i) { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  const T& operator[](std::size_t i) const { return slots_[(head_ + i) & (slots_.size() - 1)]; }

  template <class... Args>
  T& emplace_back(Args&&... args) {
    if (size_ == slots_.size()) {
      grow();
    }
    T& slot = (*this)[size_];
    slot = T{std::forward<Args>(args)...};
    ++size_;
    return slot;
  }
  void push_back(T v) { emplace_back(std::move(v)); }

  void pop_front() {
    slots_[head_] = T{}; // what the entry held goes now, not when the slot is reused
    head_ = (head_ + 1) & (slots_.size() - 1);
    if (--size_ == 0) {
      head_ = 0;
      if (slots_.size() > kept_capacity) {
        std::vector<T>{}.swap(slots_);
      }
    }
  }

  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, size_}; }

private:
  /// Doubles the buffer (a power of two, so an index wraps with a mask), oldest entry first.
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 4 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) {
      bigger[i] = std::move((*this)[i]);
    }
    slots_.swap(bigger);
    head_ = 0;
  }

  std::vector<T> slots_; ///< size() is 0 or a power of two
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

} // namespace outpost
