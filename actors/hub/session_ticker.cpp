#include "actors/hub/session_ticker.hpp"

#include "actors/hub/mqtt_session.hpp"

#include <caf/all.hpp>

#include <algorithm>

namespace outpost::actors {

session_ticker::set_result session_ticker::set(handle h, std::int64_t at_ms, caf::actor_addr who) {
  std::lock_guard lock{mu_};
  const auto next = queue_.set(h, at_ms, std::move(who));
  const bool wake = at_ms < planned_;
  if (wake) {
    planned_ = at_ms; // one wake-up message for the sessions that come before the plan
  }
  return {next, wake};
}

void session_ticker::clear(handle h) {
  std::lock_guard lock{mu_};
  queue_.clear(h);
}

std::vector<caf::actor_addr> session_ticker::take_due(std::int64_t now_ms) {
  std::vector<caf::actor_addr> out;
  std::lock_guard lock{mu_};
  queue_.take_due(now_ms, [&](caf::actor_addr&& a) { out.push_back(std::move(a)); });
  return out;
}

std::int64_t session_ticker::plan(std::int64_t now_ms, std::int64_t granularity_ms) {
  std::lock_guard lock{mu_};
  const auto next = queue_.next();
  planned_ = next == never ? never : std::max(next, now_ms) + granularity_ms;
  return planned_;
}

namespace {

/// Deadlines are met this late at most, so that sessions due within one granule share a
/// wake-up (a session's own delayed message used to add 10 ms too).
constexpr std::int64_t granularity_ms = 10;

struct ticker_state {
  std::shared_ptr<session_ticker> ticker;
  std::function<std::int64_t()> now_ms;
  std::uint64_t plan = 0; ///< the generation of the planned wake-up still wanted

  static inline const char* name = "session_ticker";
};

caf::behavior ticker_behavior(caf::stateful_actor<ticker_state>* self,
                              std::shared_ptr<session_ticker> ticker,
                              std::function<std::int64_t()> now_ms) {
  self->state.ticker = std::move(ticker);
  self->state.now_ms = std::move(now_ms);
  return {
      [=](tick_atom, std::uint64_t gen) {
        auto& st = self->state;
        const auto now = st.now_ms();
        for (auto& a : st.ticker->take_due(now)) {
          if (auto session = caf::actor_cast<caf::actor>(a)) {
            self->send(session, tick_atom::value);
          }
        }
        if (gen != 0 && gen != st.plan) {
          return; // a wake-up planned before a session asked for an earlier one
        }
        const auto at = st.ticker->plan(now, granularity_ms);
        if (at == session_ticker::never) {
          return; // asleep until a session sets a deadline
        }
        self->delayed_send(self, std::chrono::milliseconds(at - now), tick_atom::value, ++st.plan);
      },
  };
}

} // namespace

void schedule_session_tick(caf::event_based_actor* self, const hub_services& hub,
                           session_ticker::handle& h, std::int64_t at_ms) {
  if (hub.ticker) {
    const auto r = hub.ticker->set(h, at_ms, self->address());
    h = r.h;
    if (r.wake) {
      self->send(hub.ticker_actor, tick_atom::value, std::uint64_t{0});
    }
    return;
  }
  const auto wait = std::max<std::int64_t>(at_ms - hub.now_ms(), 0) + granularity_ms;
  self->delayed_send(caf::actor_cast<caf::actor>(self), std::chrono::milliseconds(wait),
                     tick_atom::value);
}

void cancel_session_tick(const hub_services& hub, session_ticker::handle& h) {
  if (hub.ticker && h != 0) {
    hub.ticker->clear(h);
  }
  h = 0;
}

caf::actor spawn_session_ticker(caf::actor_system& sys, std::shared_ptr<session_ticker> ticker,
                                std::function<std::int64_t()> now_ms) {
  return sys.spawn(ticker_behavior, std::move(ticker), std::move(now_ms));
}

} // namespace outpost::actors
