#pragma once

#include "protocols/hub/bound_routes.hpp"
#include "routing/model/message.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace outpost::actors {

/// What `outpost monitor` shows: the messages the hub routes, as they are routed (IoT Hub
/// users' `az iot hub monitor-events`). Costs nothing while nobody watches: sessions record
/// only while a monitor has polled within the last 15 s. A bounded ring of JSON events;
/// thread-safe (sessions record, the admin API polls).
class monitor_feed {
public:
  explicit monitor_feed(std::size_t capacity = 2000) : capacity_(capacity) {}

  /// Is someone watching? One atomic load: sessions call it for every batch.
  bool active(std::int64_t now_ms) const noexcept {
    return now_ms - last_poll_ms_.load(std::memory_order_relaxed) < 15'000;
  }

  /// Records one message with the endpoints it was routed to (empty: no route matched).
  void record(const routing::message& m, const std::vector<hub::bound_target>& targets,
              std::int64_t now_ms);

  /// Events after sequence `after` (at most `max`), as a JSON array text, and the last
  /// sequence in `last`. Marks the feed watched.
  std::string poll(std::uint64_t after, std::size_t max, std::int64_t now_ms, std::uint64_t& last);

private:
  std::size_t capacity_;
  std::atomic<std::int64_t> last_poll_ms_{-1'000'000};
  std::mutex mutex_;
  std::deque<std::pair<std::uint64_t, std::string>> events_;
  std::uint64_t next_ = 1;
};

} // namespace outpost::actors
