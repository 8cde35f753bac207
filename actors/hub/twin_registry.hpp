#pragma once

#include "actors/common/writer_interface.hpp"
#include "actors/hub/twin_interface.hpp"
#include "actors/workload/identity_registry.hpp"
#include "storage/kv_store.hpp"

#include <caf/fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>

namespace outpost::actors {

struct twin_registry_config {
  writer_actor writer;                   ///< every change is written through it
  std::shared_ptr<storage::kv_store> kv; ///< twins are read from the store on first use
  std::function<std::int64_t()> now_ms;  ///< wall clock, for `$metadata`
  /// The registry's table: a twin belongs to the identity created at its `created_ms`; a twin
  /// left by a removed identity starts empty for a new identity of the same id.
  std::shared_ptr<identity_snapshot> identities;
};

/// Spawns the owner of every twin (a detached actor: it reads the store on first use of a
/// twin, then keeps it cached). Every change is validated by protocols/iothub's `twin`, made
/// durable through the storage writer, and only then answered; a failed write drops the
/// cached copy so the next request reads what the store holds.
/// - `(twin_get_atom, id)` -> 200 and the device view (`{"desired":..,"reported":..}`), version
///   = reported `$version`.
/// - `(twin_report_atom, id, patch)` -> 204 and the new reported `$version`, or 400 with
///   IoT Hub's error body (nothing changed).
/// - `(twin_show_atom, id)` -> 200 and the service view.
/// - `(twin_update_atom, id, body, if_match, replace)` -> 200 and the service view; 412 when
///   `if_match` (an etag, quoted or not; empty or `*` = any) is not the twin's; 400 for a bad
///   body. A desired change is pushed to every watcher of `id` as
///   `(desired_atom, version, patch)`.
/// - `(twin_watch_atom, id, session)` / `(twin_unwatch_atom, id, session)`: watchers of `id`'s
///   desired patches; a watcher that ends is forgotten (monitored).
/// - `(twin_forward_atom, link)`: the upstream link; each accepted reported patch is then also
///   sent to it as `(twin_reported_atom, id, patch)` once durable.
/// Ids are trusted: sessions pass their authenticated identity, the admin API checks the
/// registry first.
twin_registry_actor spawn_twin_registry(caf::actor_system& sys, twin_registry_config cfg);

} // namespace outpost::actors
