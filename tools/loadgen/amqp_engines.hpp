#pragma once

// outpost-amqp-loadgen's two engines: the same load in IoT Hub's AMQP dialect (TLS, put-token
// on $cbs, a sender on /devices/{id}/messages/events), measured the same way. amqp_main.cpp
// parses the options, runs one and prints the JSON line.

#include "tools/loadgen/options.hpp"
#include "tools/loadgen/support.hpp"

#include <cstdint>

namespace outpost::loadgen {

struct amqp_settings {
  options o;            ///< host, port, ca, keys, ids, payload, inflight, duration, hold, pid
  int idle = 0;         ///< > 0: hold this many authenticated connections instead of sending
  unsigned threads = 2; ///< Proton's container threads (the raw engine has one)
  /// Raw engine: > 1 sends each delivery in IoT Hub's batched format (message-format
  /// 0x80013700) holding this many messages; `accepted` counts messages.
  unsigned batch = 1;
};

/// What an engine measured.
struct amqp_outcome {
  int ready = 0; ///< connections with their events link attached and credited
  // Load: the window opens a second after every connection is ready (or the wait gave up).
  std::uint64_t accepted = 0;   ///< settled accepted within the window
  std::uint64_t refused = 0;    ///< settled otherwise, the whole run
  double seconds = 0;           ///< of the window
  std::int64_t self_cpu_us = 0; ///< this process's CPU within the window
  proc_sample broker_start;
  proc_sample broker_end;
  // Idle.
  proc_sample broker_before_connect;
  proc_sample broker_held;
};

/// Qpid Proton's C++ container (amqp_proton.cpp).
amqp_outcome run_amqp_proton(const amqp_settings& s);

/// One thread, epoll, OpenSSL and our own codec (amqp_raw.cpp): the client costs little of
/// the CPU it shares with the hub. Throws std::runtime_error on setup failures only.
amqp_outcome run_amqp_raw(const amqp_settings& s);

} // namespace outpost::loadgen
