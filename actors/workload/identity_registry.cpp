#include "actors/workload/identity_registry.hpp"

#include "actors/common/messages.hpp"
#include "actors/common/writer_interface.hpp"
#include "storage/errc.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <optional>
#include <set>

namespace outpost::actors {

namespace {

struct registry_state {
  identity_registry_config cfg;
  std::optional<storage::identity_store> store;

  static inline const char* name = "identity_registry";
};

using registry_pointer = registry_actor::stateful_pointer<registry_state>;

void publish(registry_state& st) {
  st.cfg.published->set(st.store->shared());
  if (st.cfg.changed) {
    caf::anon_send(st.cfg.changed, identities_atom::value);
  }
}

identity_reply add(registry_pointer self, const storage::identity_request& req) {
  auto& st = self->state;
  auto i = storage::make_identity(req, *st.store, st.cfg.edge_device_id,
                                  {st.cfg.new_key(), st.cfg.new_key()}, st.cfg.now_ms());
  if (!i) {
    return {i.error(), {}, 0};
  }
  if (auto r = st.store->put(*i); !r) {
    spdlog::error("[identity registry] cannot store {}: {}", i->id(), r.error().message());
    return {r.error(), {}, 0};
  }
  publish(st);
  spdlog::info("[identity registry {}] added", i->id());
  return {{}, std::move(*i), 1};
}

identity_reply remove(registry_pointer self, const std::string& id) {
  auto& st = self->state;
  const auto* found = st.store->find(id);
  if (!found) {
    return {storage::errc::identity_not_found, {}, 0};
  }
  auto gone = *found;
  auto n = st.store->remove(id);
  if (!n) {
    return {n.error(), {}, 0};
  }
  publish(st);
  spdlog::info("[identity registry {}] removed ({} with modules)", id, *n);
  return {{}, std::move(gone), *n};
}

identity_reply enable(registry_pointer self, const std::string& id, bool enabled) {
  auto& st = self->state;
  const auto* found = st.store->find(id);
  if (!found) {
    return {storage::errc::identity_not_found, {}, 0};
  }
  auto changed = *found;
  changed.enabled = enabled;
  if (auto r = st.store->put(changed); !r) {
    return {r.error(), {}, 0};
  }
  publish(st);
  spdlog::info("[identity registry {}] {}", id, enabled ? "enabled" : "disabled");
  return {{}, std::move(changed), 1};
}

identity_reply rotate(registry_pointer self, const std::string& id, key_slot slot) {
  auto& st = self->state;
  const auto* found = st.store->find(id);
  if (!found) {
    return {storage::errc::identity_not_found, {}, 0};
  }
  if (found->auth != storage::auth_type::sas) {
    return {std::make_error_code(std::errc::operation_not_supported), {}, 0};
  }
  auto changed = *found;
  if (slot != key_slot::secondary) {
    changed.primary = st.cfg.new_key();
  }
  if (slot != key_slot::primary) {
    changed.secondary = st.cfg.new_key();
  }
  if (auto r = st.store->put(changed); !r) {
    return {r.error(), {}, 0};
  }
  publish(st);
  spdlog::info("[identity registry {}] {} key rotated", id,
               slot == key_slot::both      ? "primary and secondary"
               : slot == key_slot::primary ? "primary"
                                           : "secondary");
  return {{}, std::move(changed), 1};
}

/// Replaces the devices in this edge's scope (identity_registry.hpp).
std::size_t sync_scope(registry_pointer self, const scope_devices& scope) {
  auto& st = self->state;
  const auto& edge = st.cfg.edge_device_id;
  std::size_t changed = 0;
  std::set<std::string> keep;
  for (auto i : scope) {
    if (!i.module_id.empty() || i.device_id == edge || !storage::valid_identity_id(i.device_id)) {
      continue; // only devices, never this edge itself
    }
    i.parent = edge; // here: in this edge's scope
    const auto* have = st.store->find(i.device_id);
    if (have && have->parent != edge) {
      spdlog::warn(
          "[identity registry {}] registered here and in the parent's scope: the local "
          "one stays",
          i.device_id);
      continue;
    }
    keep.insert(i.device_id);
    if (have && *have == i) {
      continue;
    }
    if (auto r = st.store->put(i); !r) {
      spdlog::error("[identity registry] cannot store {}: {}", i.device_id, r.error().message());
      continue;
    }
    ++changed;
    spdlog::info("[identity registry {}] {} from the parent's scope", i.device_id,
                 have ? "updated" : "added");
  }
  for (const auto& i : st.store->list()) {
    if (i.module_id.empty() && i.parent == edge && keep.count(i.device_id) == 0) {
      if (st.store->remove(i.device_id)) {
        ++changed;
        spdlog::info("[identity registry {}] left the parent's scope: removed", i.device_id);
      }
    }
  }
  if (changed != 0) {
    publish(st);
  }
  return changed;
}

registry_actor::behavior_type registry_behavior(registry_pointer self, identity_registry_config cfg,
                                                std::shared_ptr<storage::identity_store> loaded) {
  self->state.cfg = std::move(cfg);
  self->state.store.emplace(std::move(*loaded));
  if (!self->state.store->find(self->state.cfg.edge_device_id)) {
    // The edge device is an identity of its own scope (its modules hang off it).
    auto r = add(self, {self->state.cfg.edge_device_id});
    if (r.error) {
      spdlog::error("[identity registry] cannot register the edge device {}: {}",
                    self->state.cfg.edge_device_id, r.error.message());
    }
  }
  publish(self->state);
  return {
      [=](identity_add_atom, const storage::identity_request& req) { return add(self, req); },
      [=](identity_remove_atom, const std::string& id) { return remove(self, id); },
      [=](identity_enable_atom, const std::string& id, bool on) { return enable(self, id, on); },
      [=](identity_rotate_atom, const std::string& id, key_slot slot) {
        return rotate(self, id, slot);
      },
      [=](identity_scope_atom, const scope_devices& scope) { return sync_scope(self, scope); },
  };
}

} // namespace

result<registry_actor> spawn_identity_registry(caf::actor_system& sys,
                                               identity_registry_config cfg) {
  // Every change is written by the storage writer; the registry waits for it (its own thread).
  auto write = [&sys, writer = cfg.writer](const storage::write_batch& b) -> result<void> {
    caf::scoped_actor self{sys};
    std::error_code error = storage::errc::io_error;
    self->request(writer, caf::infinite, records_atom::value, b, true)
        .receive([&](records_reply& r) { error = r.error; }, [](caf::error&) {});
    if (error) {
      return error;
    }
    return ok();
  };
  auto store = storage::identity_store::open(*cfg.kv, std::move(write));
  if (!store) {
    return store.error();
  }
  auto loaded = std::make_shared<storage::identity_store>(std::move(*store));
  // Published before the actor runs: the hub may accept a CONNECT as soon as this returns, and
  // must not find an empty table (a detached actor starts on its own thread, a moment later).
  cfg.published->set(loaded->shared());
  return registry_actor{
      sys.spawn<caf::detached>(registry_behavior, std::move(cfg), std::move(loaded))};
}

} // namespace outpost::actors
