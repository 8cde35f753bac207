#pragma once

// Private to protocols/amqp: moving bytes through a Proton `connection_driver`, shared by the
// hub's server connections and our client connections (the upstream link, route endpoints).

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include <proton/error_condition.hpp>
#include <proton/io/connection_driver.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/timestamp.hpp>

namespace outpost::amqp::detail {

/// Hands `bytes` to the engine, calling `dispatch()` after each chunk it read and
/// `after_chunk()` after that; stops once `finished` or the engine reads no more (closing: the
/// rest is discarded).
template <class Dispatch, class AfterChunk>
void feed_driver(proton::io::connection_driver& driver, std::string_view bytes,
                 const bool& finished, Dispatch&& dispatch, AfterChunk&& after_chunk) {
  while (!bytes.empty() && !finished) {
    auto buf = driver.read_buffer();
    if (buf.size == 0) {
      dispatch();
      buf = driver.read_buffer();
      if (buf.size == 0) {
        return;
      }
    }
    const auto n = std::min(buf.size, bytes.size());
    std::memcpy(buf.data, bytes.data(), n);
    driver.read_done(n);
    bytes.remove_prefix(n);
    dispatch();
    after_chunk();
  }
}

/// Everything the engine has to write now, dispatching as it goes.
template <class Dispatch>
std::string drain_driver(proton::io::connection_driver& driver, Dispatch&& dispatch) {
  dispatch();
  std::string out;
  for (;;) {
    const auto buf = driver.write_buffer();
    if (buf.size == 0) {
      return out;
    }
    out.append(buf.data, buf.size);
    driver.write_done(buf.size);
    dispatch();
  }
}

/// The byte pumping of our client connections (upstream_connection, broker_connection): one
/// Proton `connection_driver` fed bytes and time, its output drained, its events queued for the
/// owner. `Derived::end(why)` ends the connection once (settling what is left, then `closed`);
/// `Events` is the owner's event vector.
template <class Derived, class Events>
class client_driver : public proton::messaging_handler {
public:
  void feed(std::string_view bytes) {
    feed_driver(
        driver_, bytes, finished_, [this] { dispatch(); }, [] {});
  }

  std::int64_t tick(std::int64_t now_ms) {
    now_ms_ = now_ms;
    const auto next = driver_.tick(proton::timestamp(now_ms));
    dispatch();
    return next.milliseconds();
  }

  void disconnected() {
    if (!finished_) {
      driver_.disconnected(
          proton::error_condition("amqp:connection:framing-error", "socket closed"));
      dispatch();
    }
    self().end(std::string{"the connection to the "} + peer_ + " was lost");
  }

  void dispatch() {
    if (!finished_ && !driver_.dispatch()) {
      self().end(std::string{"the connection to the "} + peer_ + " ended");
    }
  }

  std::string take_output() {
    return drain_driver(driver_, [this] { dispatch(); });
  }

  void fail(const std::string& why) {
    if (!finished_) {
      self().end("engine failure: " + why);
    }
  }

  bool finished() const { return finished_; }

  void take_events(Events& out) {
    for (auto& e : events_) {
      out.push_back(std::move(e));
    }
    events_.clear();
  }

protected:
  /// `peer` names the other end in the reasons ("parent", "broker").
  client_driver(const std::string& container_id, const char* peer)
      : driver_(container_id),
        peer_(peer) {}

  Derived& self() { return static_cast<Derived&>(*this); }

  proton::io::connection_driver driver_;
  std::int64_t now_ms_ = 0;
  bool finished_ = false;
  Events events_;

private:
  const char* peer_;
};

} // namespace outpost::amqp::detail
