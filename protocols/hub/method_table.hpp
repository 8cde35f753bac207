#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace outpost::hub {

/// Direct method calls in flight, as IoT Hub runs them (facts §3.7, §4.7): a call waits up to
/// its connect timeout for its target to listen (subscribed to `$iothub/methods/POST/#`), then
/// up to its response timeout for the answer. The caller gets IoT Hub's answer: 200 with
/// `{"status":..,"payload":..}`, 404 with 404103 (not online), 504 with 504101 (no answer).
///
/// Pure: calls, listeners, answers and time in; what to send and what to answer out. No
/// sockets, actors or clocks. Owned by one actor; not thread-safe.
class method_table {
public:
  struct request {
    std::string target; ///< "<device>" or "<device>/<module>"
    std::string method;
    std::string payload; ///< JSON text (`null` when the caller gave none)
    std::int64_t connect_timeout_ms = 0;
    std::int64_t response_timeout_ms = 30000;
  };
  /// Send call `id` to `target`'s listener (MQTT: `$iothub/methods/POST/{method}/?$rid={id}`).
  struct send {
    std::uint64_t id = 0;
    std::string target;
    std::string method;
    std::string payload;
  };
  /// Answer call `id`'s caller: an HTTP status and body, as IoT Hub answers
  /// `POST /twins/{id}/methods`.
  struct finish {
    std::uint64_t id = 0;
    int http_status = 200;
    std::string body;
  };
  using output = std::variant<send, finish>;
  using outputs = std::vector<output>;

  /// The most calls in flight at once; more are answered 429 at once (a caller cannot make the
  /// hub hold unbounded state).
  explicit method_table(std::size_t max_calls = 10000) : max_calls_(max_calls) {}

  /// A new call; `listening` = its target listens now. Returns the call's id.
  std::uint64_t invoke(request r, bool listening, std::int64_t now_ms, outputs& out);
  /// `target` started listening: its parked calls are sent.
  void listening(const std::string& target, std::int64_t now_ms, outputs& out);
  /// `from` answered call `id` with the method's status and payload. Only the call's own target
  /// may answer it; anything else (unknown, late, another identity's) is ignored.
  void answered(const std::string& from, std::uint64_t id, int status, std::string payload,
                outputs& out);
  /// Answers the calls whose time is up.
  void on_tick(std::int64_t now_ms, outputs& out);
  /// When `on_tick` has something to do next (max when nothing waits).
  std::int64_t next_deadline() const noexcept;
  std::size_t in_flight() const noexcept { return calls_.size(); }

private:
  struct call {
    request r;
    bool sent = false;
    std::int64_t deadline_ms = 0; ///< connect deadline while parked, then the response's
  };
  void send_call(std::uint64_t id, call& c, std::int64_t now_ms, outputs& out);

  std::size_t max_calls_;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, call> calls_;
  /// (deadline, call) of every call: the next one is first, and a tick looks at no other.
  std::set<std::pair<std::int64_t, std::uint64_t>> deadlines_;
};

} // namespace outpost::hub
