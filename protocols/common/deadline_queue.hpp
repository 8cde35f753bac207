#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace outpost {

/// The next deadline of many owners, for one timer to serve them all: each owner holds at most
/// one entry through a handle; setting it again moves the deadline; `take_due` hands over the
/// owners whose time has come, earliest first, and forgets them. A handle names one entry only:
/// once taken or cleared, its slot may serve another owner but the old handle no longer finds
/// it. Pure (time passed in); not thread-safe. ~40 bytes per owner.
template <class T>
class deadline_queue {
public:
  using handle = std::uint64_t; ///< 0: none
  static constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

  /// Moves `h`'s deadline to `at` if `h` is still queued, else queues `owner` at `at`. Returns
  /// the handle that now names the entry.
  handle set(handle h, std::int64_t at, T owner) {
    if (auto* e = find(h)) {
      e->at = at;
      push(at, slot_of(h), e->gen);
      return h;
    }
    std::uint32_t s = 0;
    if (!free_.empty()) {
      s = free_.back();
      free_.pop_back();
    } else {
      s = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    auto& e = slots_[s];
    e.at = at;
    e.owner = std::move(owner);
    e.used = true;
    e.gen = e.gen == std::numeric_limits<std::uint32_t>::max() ? 1 : e.gen + 1;
    ++live_;
    push(at, s, e.gen);
    return (static_cast<handle>(e.gen) << 32) | s;
  }

  /// Forgets `h`'s entry, if it is still queued.
  void clear(handle h) {
    if (find(h)) {
      release(slot_of(h));
    }
  }

  /// Calls `f(T&&)` for each entry whose deadline is at or before `now`, earliest first, and
  /// forgets them.
  template <class F>
  void take_due(std::int64_t now, F&& f) {
    while (!heap_.empty() && heap_.front().at <= now) {
      const auto top = heap_.front();
      std::pop_heap(heap_.begin(), heap_.end(), later);
      heap_.pop_back();
      auto& e = slots_[top.slot];
      if (!e.used || e.gen != top.gen || e.at != top.at) {
        continue; // moved or cleared since: a stale copy
      }
      T owner = std::move(e.owner);
      release(top.slot);
      f(std::move(owner));
    }
  }

  /// The earliest deadline queued (`never` when none). Stale copies are dropped on the way.
  std::int64_t next() {
    while (!heap_.empty()) {
      const auto& top = heap_.front();
      const auto& e = slots_[top.slot];
      if (e.used && e.gen == top.gen && e.at == top.at) {
        return top.at;
      }
      std::pop_heap(heap_.begin(), heap_.end(), later);
      heap_.pop_back();
    }
    return never;
  }

  std::size_t size() const noexcept { return live_; }
  /// Heap items, stale copies included (for tests: bounded by compaction).
  std::size_t heap_size() const noexcept { return heap_.size(); }

private:
  struct entry {
    std::int64_t at = 0;
    T owner{};
    std::uint32_t gen = 0;
    bool used = false;
  };
  struct item {
    std::int64_t at;
    std::uint32_t slot;
    std::uint32_t gen;
  };
  static bool later(const item& a, const item& b) { return a.at > b.at; }
  static std::uint32_t slot_of(handle h) { return static_cast<std::uint32_t>(h & 0xffffffffu); }

  entry* find(handle h) {
    if (h == 0 || slot_of(h) >= slots_.size()) {
      return nullptr;
    }
    auto& e = slots_[slot_of(h)];
    return e.used && e.gen == static_cast<std::uint32_t>(h >> 32) ? &e : nullptr;
  }

  void release(std::uint32_t s) {
    auto& e = slots_[s];
    e.used = false;
    e.owner = T{};
    free_.push_back(s);
    --live_;
  }

  void push(std::int64_t at, std::uint32_t s, std::uint32_t gen) {
    // Moved deadlines leave stale copies behind: rebuilt from the live entries before they
    // outnumber them, so the heap stays within twice the owners.
    if (heap_.size() >= 2 * live_ + 64) {
      heap_.clear();
      for (std::uint32_t i = 0; i < slots_.size(); ++i) {
        if (slots_[i].used && i != s) {
          heap_.push_back({slots_[i].at, i, slots_[i].gen});
        }
      }
      std::make_heap(heap_.begin(), heap_.end(), later);
    }
    heap_.push_back({at, s, gen});
    std::push_heap(heap_.begin(), heap_.end(), later);
  }

  std::vector<entry> slots_;
  std::vector<std::uint32_t> free_;
  std::vector<item> heap_;
  std::size_t live_ = 0;
};

} // namespace outpost
