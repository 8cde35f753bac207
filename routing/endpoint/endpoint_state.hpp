#pragma once

#include <cstdint>
#include <string_view>

namespace outpost::routing {

/// Where an endpoint's delivery stands between two events (the shape of IoT Edge's
/// EndpointExecutorFsm, iotedge-facts §6.3, with a window of entries in flight instead of one
/// batch at a time, and a consumer that comes and goes).
enum class endpoint_state : std::uint8_t {
  closed,  ///< no consumer: durable entries are only noted, nothing is read or delivered
  idle,    ///< consumer attached, every known entry handed out: waits for new durable entries
  reading, ///< consumer attached, nothing in memory: waits for a read from the store
  sending, ///< consumer attached, the window is full: waits for acknowledgements
  failing, ///< a delivery or a read failed: waits for the retry timer (exponential back-off)
};
inline constexpr std::size_t endpoint_state_count = 5;

/// What can happen to an endpoint. Time is passed with the events that need it.
enum class endpoint_event : std::uint8_t {
  durable,       ///< entries of the queue became durable (in sequence order)
  read_result,   ///< a read from the store answered (entries, the queue's next sequence)
  read_failed,   ///< a read from the store failed
  subscribe,     ///< a consumer attached (a new one takes over from the previous one)
  consumer_lost, ///< the consumer unsubscribed or went away
  ack,           ///< the consumer is done with entries (any order)
  nack,          ///< the consumer could not deliver an entry (a retryable failure)
  retry_timer,   ///< the back-off after a failure is over
  tick,          ///< time passed: entries waiting in memory may have expired
  flush,         ///< the end of a burst: time to write the checkpoint
  restart,       ///< the process restarted: start over from the stored checkpoint
};
inline constexpr std::size_t endpoint_event_count = 11;

std::string_view to_string(endpoint_state s) noexcept;
std::string_view to_string(endpoint_event e) noexcept;

/// The transition table: the states `event` may lead to from `from` (a bit per state).
/// `endpoint_machine` must never take a transition outside it; its tests check every step.
std::uint8_t endpoint_next_states(endpoint_state from, endpoint_event event) noexcept;

inline bool endpoint_transition_allowed(endpoint_state from, endpoint_event event,
                                        endpoint_state to) noexcept {
  return (endpoint_next_states(from, event) >> static_cast<unsigned>(to)) & 1U;
}

} // namespace outpost::routing
