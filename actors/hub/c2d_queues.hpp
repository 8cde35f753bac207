#pragma once

#include "actors/common/writer_interface.hpp"
#include "actors/hub/c2d_interface.hpp"
#include "actors/workload/identity_registry.hpp"

#include <caf/fwd.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace outpost::actors {

struct c2d_config {
  writer_actor writer;
  std::uint32_t delivery_window = 64;
  std::function<std::int64_t()> now_ms;
  /// IoT Hub's default: at most 50 messages waiting per device; a send beyond is 403004.
  std::size_t max_queue_depth = 50;
  /// The registry's table: a device's queue is `$c2d/<device>/<created_ms>`, so a device
  /// removed and created again does not get what was sent to the old one (that expires).
  std::shared_ptr<identity_snapshot> identities;
};

/// Spawns the owner of the devices' cloud-to-device queues: one persistent mailbox per device
/// (queue `$c2d/<device>/<created_ms>`), opened through the storage writer and given its mailbox
/// actor on first use, so what was sent while a device was away (or before a restart) waits for it.
/// - `(c2d_open_atom, device)` -> `c2d_queue`: the binding the device's session attaches when
///   it subscribes to `devices/{d}/messages/devicebound/#`.
/// - `(c2d_send_atom, device, message, ttl_ms)` -> `c2d_reply`: 201 once durable; 403 (403004)
///   when the queue already holds `max_queue_depth` messages (delivered ones leave it when the
///   device acknowledges them, expired ones when the store cleans them up).
/// Devices are trusted to exist (the admin API checks the registry first).
c2d_actor spawn_c2d_queues(caf::actor_system& sys, c2d_config cfg);

} // namespace outpost::actors
