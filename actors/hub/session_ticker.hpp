#pragma once

#include "protocols/common/deadline_queue.hpp"

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace outpost::actors {

/// One timer for the next deadline of every client session (keepalive, token expiry, store
/// retry, output checks). A delayed message per session in CAF's clock cost ~200 bytes each (a
/// mailbox element and two entries of the clock's own): 2 MB for 10k connections. Here a
/// session costs ~40 bytes: its entry, which names it by a weak address, so an ended session
/// that did not clear its entry is not kept alive by it. Sessions call set/clear from any
/// thread; the ticker actor (`spawn_session_ticker`) takes what is due and sends each its
/// `tick_atom`.
class session_ticker {
public:
  using handle = deadline_queue<caf::actor_addr>::handle; ///< 0: none

  struct set_result {
    handle h;
    /// The deadline comes before the ticker's next wake-up: send the ticker actor
    /// `(tick_atom, 0)` so it plans an earlier one.
    bool wake;
  };
  /// Sets or moves the deadline of `who` (`h` from an earlier call; a handle whose tick has
  /// fired is simply replaced).
  set_result set(handle h, std::int64_t at_ms, caf::actor_addr who);
  void clear(handle h);

  /// The owners whose deadline is at or before `now_ms`, earliest first (forgotten here).
  std::vector<caf::actor_addr> take_due(std::int64_t now_ms);
  /// When the ticker should wake next, at `granularity_ms` past the earliest deadline (never
  /// before `now_ms`): recorded as its plan, or `never` when nothing is queued.
  std::int64_t plan(std::int64_t now_ms, std::int64_t granularity_ms);

  static constexpr std::int64_t never = deadline_queue<caf::actor_addr>::never;

private:
  std::mutex mu_;
  deadline_queue<caf::actor_addr> queue_;
  std::int64_t planned_ = never; ///< the ticker's next wake-up
};

struct hub_services;

/// Arranges one `tick_atom` for `self` at `at_ms` (the hub's clock): through the hub's ticker
/// when it has one (`h` keeps the entry), else as a delayed message of the session's own (hubs
/// that tests build by hand).
void schedule_session_tick(caf::event_based_actor* self, const hub_services& hub,
                           session_ticker::handle& h, std::int64_t at_ms);
/// The session ends: its entry goes (a delayed message, if that was the way, just arrives late).
void cancel_session_tick(const hub_services& hub, session_ticker::handle& h);

/// The actor that wakes for `ticker`'s deadlines (`now_ms`: the hub's clock) and sends
/// `tick_atom` to each session whose time has come. Takes `(tick_atom, std::uint64_t)`: 0 from
/// a session whose deadline is earlier than planned, else its own planned wake-ups.
caf::actor spawn_session_ticker(caf::actor_system& sys, std::shared_ptr<session_ticker> ticker,
                                std::function<std::int64_t()> now_ms);

} // namespace outpost::actors
