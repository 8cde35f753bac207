#include "actors/hub/session_directory.hpp"

#include <caf/all.hpp>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <map>
#include <set>

namespace outpost::actors {

namespace {

constexpr char format_version = 1;

/// sessions: client id -> version byte, then each filter as be32 length + bytes.
std::string encode_filters(const std::vector<std::string>& filters) {
  std::string v{format_version};
  for (const auto& f : filters) {
    const auto n = static_cast<std::uint32_t>(f.size());
    for (int shift = 24; shift >= 0; shift -= 8) {
      v.push_back(static_cast<char>((n >> shift) & 0xFF));
    }
    v += f;
  }
  return v;
}

std::optional<std::vector<std::string>> decode_filters(std::string_view v) {
  if (v.empty() || v[0] != format_version) {
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

session_info restore(directory_state& st, const std::string& client_id, bool clean) {
  session_info info;
  if (clean) {
    storage::write_batch b;
    b.erase(storage::column::sessions, client_id);
    (void)st.kv->write(b, storage::write_mode::lazy);
    return info;
  }
  auto stored = st.kv->get(storage::column::sessions, client_id);
  if (stored && *stored) {
    if (auto filters = decode_filters(**stored)) {
      info.present = true;
      info.subscriptions = std::move(*filters);
    } else {
      spdlog::warn("[session directory {}] stored session unreadable, starting clean", client_id);
    }
  }
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
      [=](subs_atom, const std::string& client_id, const std::vector<std::string>& filters) {
        auto& st = self->state;
        if (!st.persistent.count(client_id)) {
          return;
        }
        storage::write_batch b;
        b.put(storage::column::sessions, client_id, encode_filters(filters));
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
