#include "routing/endpoint/endpoint_state.hpp"

#include <array>

namespace outpost::routing {

namespace {

constexpr std::uint8_t bit(endpoint_state s) {
  return std::uint8_t(1U << static_cast<unsigned>(s));
}

constexpr std::uint8_t closed = bit(endpoint_state::closed);
constexpr std::uint8_t idle = bit(endpoint_state::idle);
constexpr std::uint8_t reading = bit(endpoint_state::reading);
constexpr std::uint8_t sending = bit(endpoint_state::sending);
constexpr std::uint8_t failing = bit(endpoint_state::failing);
/// After handing out what memory holds, an attached endpoint is caught up (idle), waiting for
/// the store (reading) or for acknowledgements (sending).
constexpr std::uint8_t attached = idle | reading | sending;

using row = std::array<std::uint8_t, endpoint_event_count>;

// Rows: from-state; columns in endpoint_event order:
//   durable, read_result, read_failed, subscribe, consumer_lost, ack, nack, retry_timer, tick,
//   flush, restart
// A subscribe always starts from the store (reading); a nack or a failed read always fails
// (failing) and only the retry timer leaves failing; a consumer loss always closes; a restart
// always ends closed. Events that do not apply (a late read result, an unknown ack, a stale
// timer) leave the state as it is.
constexpr std::array<row, endpoint_state_count> table{{
    // closed
    row{closed, closed, closed, reading, closed, closed, closed, closed, closed, closed, closed},
    // idle
    row{attached, idle, idle, reading, closed, idle, idle | failing, idle, idle, idle, closed},
    // reading
    row{reading, attached, reading | failing, reading, closed, reading, reading | failing, reading,
        reading, reading, closed},
    // sending
    row{sending, sending, sending, reading, closed, attached, sending | failing, sending, sending,
        sending, closed},
    // failing
    row{failing, failing, failing, reading, closed, failing, failing, attached | failing, failing,
        failing, closed},
}};

} // namespace

std::uint8_t endpoint_next_states(endpoint_state from, endpoint_event event) noexcept {
  return table[static_cast<std::size_t>(from)][static_cast<std::size_t>(event)];
}

std::string_view to_string(endpoint_state s) noexcept {
  switch (s) {
    case endpoint_state::closed:
      return "closed";
    case endpoint_state::idle:
      return "idle";
    case endpoint_state::reading:
      return "reading";
    case endpoint_state::sending:
      return "sending";
    case endpoint_state::failing:
      return "failing";
  }
  return "?";
}

std::string_view to_string(endpoint_event e) noexcept {
  switch (e) {
    case endpoint_event::durable:
      return "durable";
    case endpoint_event::read_result:
      return "read_result";
    case endpoint_event::read_failed:
      return "read_failed";
    case endpoint_event::subscribe:
      return "subscribe";
    case endpoint_event::consumer_lost:
      return "consumer_lost";
    case endpoint_event::ack:
      return "ack";
    case endpoint_event::nack:
      return "nack";
    case endpoint_event::retry_timer:
      return "retry_timer";
    case endpoint_event::tick:
      return "tick";
    case endpoint_event::flush:
      return "flush";
    case endpoint_event::restart:
      return "restart";
  }
  return "?";
}

} // namespace outpost::routing
