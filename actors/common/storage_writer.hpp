#pragma once

#include "actors/common/writer_interface.hpp"
#include "protocols/common/result.hpp"

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

namespace outpost::storage {
class kv_store;
struct store_limits;
} // namespace outpost::storage

namespace outpost::actors {

struct store_metrics;

/// How the storage writer is set up; the composition root fills it in.
struct storage_writer_config {
  std::shared_ptr<storage::kv_store> kv; ///< the engine; the writer is its only user
  std::uint64_t max_size_bytes = 0;      ///< quota, 0 = unlimited
  std::function<std::int64_t()> now_ms;  ///< wall clock in ms (TTL survives restarts)
  /// TTL cleanup cadence and step size; a zero interval disables the cleanup timer.
  std::chrono::milliseconds cleanup_interval{200};
  std::size_t cleanup_budget = 10000;
  std::shared_ptr<store_metrics> metrics; ///< optional
  bool detached = true;                   ///< own thread: RocksDB syncs block
  /// Group commit (detached only): while appends arrive fast enough that one more is due
  /// within the window (the last pass's messages over the time since it) but in passes of
  /// fewer than `group_commit_max` messages (this one and the last), the writer waits this
  /// long on its own thread for more, then commits them all with one sync. Zero: every pass
  /// commits at once.
  std::chrono::microseconds group_commit{0};
  std::size_t group_commit_max = 8;
};

/// Spawns the one actor that owns the message store.
///
/// Protocol (`writer_actor`, writer_interface.hpp; all replies are plain structs from
/// actors/common/messages.hpp):
/// - `(open_atom, queue_name)` -> `open_reply`
/// - `(append_atom, append_requests)` -> `append_outcomes`, answered only when durable.
///   Appends that arrive while a write is in progress are committed together in the next
///   pass: one write batch and one sync per pass (group commit), never one per message.
/// - `(ack_atom, ack_requests)`: no reply; coalesced into one lazy write per pass.
/// - `(read_atom, queue_handle, sequence from, uint32 max)` -> `read_reply`
/// - `(stats_atom)` -> `store_report`
/// - `(subscribe_atom, queue_handle, durable_listener_actor)`: after every commit, the mailbox of
///   a queue gets `(durable_atom, entries)` with what became durable, in sequence order.
/// - `(records_atom, storage::write_batch, bool durable)` -> `records_reply`: the records of
///   the typed stores of storage/ (identities, the agent's state, ...), written in the next
///   pass before the appends, all of a pass in one write; answered once written.
/// - `(session_restore_atom, client_id, bool clean)` -> `storage::stored_session` and
///   `(session_subs_atom, client_id, added, removed)`: the persistent MQTT sessions
///   (`storage::session_store`, owned by the writer).
/// The writer is the engine's only writer: nothing else calls `kv_store::write`.
/// Loads the store from `cfg.kv` first; an unreadable store is an error, not an actor.
result<writer_actor> spawn_storage_writer(caf::actor_system& sys, storage_writer_config cfg);

} // namespace outpost::actors
