#pragma once

// Private to protocols/amqp: moving bytes through a Proton `connection_driver`, shared by the
// hub's server connections and the upstream link's client connection.

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include <proton/io/connection_driver.hpp>

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

} // namespace outpost::amqp::detail
