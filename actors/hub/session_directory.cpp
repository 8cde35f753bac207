#include "actors/hub/session_directory.hpp"

#include <caf/all.hpp>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <map>
#include <optional>
#include <set>

namespace outpost::actors {

namespace {

// Column `sessions`, one key per change so a SUBSCRIBE writes only what it adds (it used to
// rewrite the whole list with an fsync: 2,000 filters cost +33 MB on disk):
//   <client id>                 -> "\x02" (a persistent session exists)
//   <client id> "\0" <filter>   -> ""     (one per filter; subscription order is not kept)
// Version 1 stored the whole list in the first key; it is read once and rewritten as 2.
constexpr char list_version = 1;
constexpr char keyed_version = 2;

std::string filter_key(const std::string& client_id, std::string_view filter) {
  std::string k = client_id;
  k += '\0';
  k.append(filter);
  return k;
}

/// [first, end) of the filter keys of `client_id`.
std::pair<std::string, std::string> filter_range(const std::string& client_id) {
  return {client_id + std::string(1, '\0'), client_id + std::string(1, '\1')};
}

/// The version 1 value: each filter as be32 length + bytes.
std::optional<std::vector<std::string>> decode_list(std::string_view v) {
  if (v.empty() || v[0] != list_version) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  std::size_t pos = 1;
  while (pos < v.size()) {
    if (v.size() - pos < 4) {
      return std::nullopt;
    }
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) {
      n = (n << 8) | static_cast<std::uint8_t>(v[pos + i]);
    }
    pos += 4;
    if (v.size() - pos < n) {
      return std::nullopt;
    }
    out.emplace_back(v.substr(pos, n));
    pos += n;
  }
  return out;
}

struct directory_state {
  std::shared_ptr<storage::kv_store> kv;
  prometheus::Gauge* connected = nullptr;
  std::map<std::string, caf::actor, std::less<>> live;
  std::set<std::string> persistent; ///< live client ids with clean_session = 0

  static inline const char* name = "session_directory";
};

using directory_actor = caf::stateful_actor<directory_state>;

void update_gauge(directory_state& st) {
  if (st.connected) {
    st.connected->Set(static_cast<double>(st.live.size()));
  }
}

/// Erases the marker and the filters key by key. (Not with a range deletion: RocksDB's memtable
/// insert hints, keyed by a 4-byte prefix, would then carry a splice of the point table into
/// the range-deletion table, and Debian's build asserts on it.)
void erase_session(directory_state& st, storage::write_batch& b, const std::string& client_id,
                   bool marker = true) {
  if (marker) {
    b.erase(storage::column::sessions, client_id);
  }
  auto [first, end] = filter_range(client_id);
  (void)st.kv->scan(storage::column::sessions, first, end,
                    [&](std::string_view key, std::string_view) {
                      b.erase(storage::column::sessions, std::string{key});
                      return true;
                    });
}

session_info restore(directory_state& st, const std::string& client_id, bool clean) {
  session_info info;
  if (clean) {
    storage::write_batch b;
    erase_session(st, b, client_id);
    (void)st.kv->write(b, storage::write_mode::lazy);
    return info;
  }
  auto stored = st.kv->get(storage::column::sessions, client_id);
  if (!stored || !*stored) {
    storage::write_batch b;
    b.put(storage::column::sessions, client_id, std::string(1, keyed_version));
    (void)st.kv->write(b, storage::write_mode::lazy);
    return info;
  }
  const auto& marker = **stored;
  if (!marker.empty() && marker[0] == keyed_version) {
    info.present = true;
    auto [first, end] = filter_range(client_id);
    (void)st.kv->scan(storage::column::sessions, first, end,
                      [&](std::string_view key, std::string_view) {
                        info.subscriptions.emplace_back(key.substr(client_id.size() + 1));
                        return true;
                      });
    return info;
  }
  storage::write_batch b; // version 1, or unreadable: rewritten as version 2
  erase_session(st, b, client_id, false);
  b.put(storage::column::sessions, client_id, std::string(1, keyed_version));
  if (auto filters = decode_list(marker)) {
    info.present = true;
    info.subscriptions = std::move(*filters);
    for (const auto& f : info.subscriptions) {
      b.put(storage::column::sessions, filter_key(client_id, f), {});
    }
  } else {
    spdlog::warn("[session directory {}] stored session unreadable, starting clean", client_id);
  }
  (void)st.kv->write(b, storage::write_mode::durable);
  return info;
}

caf::behavior directory_behavior(directory_actor* self, std::shared_ptr<storage::kv_store> kv,
                                 prometheus::Gauge* connected) {
  self->state.kv = std::move(kv);
  self->state.connected = connected;
  self->set_down_handler([=](const caf::down_msg& down) {
    auto& st = self->state;
    for (auto i = st.live.begin(); i != st.live.end(); ++i) {
      if (i->second.address() == down.source) {
        st.persistent.erase(i->first);
        st.live.erase(i);
        break;
      }
    }
    update_gauge(st);
  });
  return {
      [=](register_atom, const std::string& client_id, const caf::actor& session, bool clean) {
        auto& st = self->state;
        if (auto i = st.live.find(client_id); i != st.live.end() && i->second != session) {
          spdlog::info("[session directory {}] new connection takes the session over", client_id);
          self->demonitor(i->second);
          self->send(i->second, take_over_atom::value);
        }
        st.live[client_id] = session;
        self->monitor(session);
        if (clean) {
          st.persistent.erase(client_id);
        } else {
          st.persistent.insert(client_id);
        }
        update_gauge(st);
        return restore(st, client_id, clean);
      },
      [=](subs_atom, const std::string& client_id, const std::vector<std::string>& added,
          const std::vector<std::string>& removed) {
        auto& st = self->state;
        if (!st.persistent.count(client_id) || (added.empty() && removed.empty())) {
          return;
        }
        storage::write_batch b;
        for (const auto& f : added) {
          b.put(storage::column::sessions, filter_key(client_id, f), {});
        }
        for (const auto& f : removed) {
          b.erase(storage::column::sessions, filter_key(client_id, f));
        }
        if (auto r = st.kv->write(b, storage::write_mode::durable); !r) {
          spdlog::error("[session directory {}] cannot store subscriptions: {}", client_id,
                        r.error().message());
        }
      },
      [=](unregister_atom, const std::string& client_id, const caf::actor& session) {
        auto& st = self->state;
        if (auto i = st.live.find(client_id); i != st.live.end() && i->second == session) {
          self->demonitor(session);
          st.live.erase(i);
          st.persistent.erase(client_id);
          update_gauge(st);
        }
      },
  };
}

} // namespace

caf::actor spawn_session_directory(caf::actor_system& sys, std::shared_ptr<storage::kv_store> kv,
                                   prometheus::Gauge* connected_clients) {
  return sys.spawn<caf::detached>(directory_behavior, std::move(kv), connected_clients);
}

} // namespace outpost::actors
