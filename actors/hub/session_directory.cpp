#include "actors/hub/session_directory.hpp"

#include <caf/all.hpp>
#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

#include <map>
#include <set>

namespace outpost::actors {

namespace {

struct directory_state {
  writer_actor writer; ///< owns column `sessions` (storage::session_store)
  prometheus::Gauge* connected = nullptr;
  std::map<std::string, directory_session_actor, std::less<>> live;
  std::set<std::string> persistent; ///< live client ids with clean_session = 0
  caf::actor observer;              ///< told of clients coming and going (client_atom)

  static inline const char* name = "session_directory";
};

using directory_pointer = directory_actor::stateful_pointer<directory_state>;

void tell(directory_pointer self, const std::string& client_id, bool connected) {
  if (self->state.observer) {
    // A typed actor sends to an untyped one anonymously (CAF 0.17).
    caf::anon_send(self->state.observer, client_atom::value, client_id, connected);
  }
}

void update_gauge(directory_state& st) {
  if (st.connected) {
    st.connected->Set(static_cast<double>(st.live.size()));
  }
}

directory_actor::behavior_type directory_behavior(directory_pointer self, writer_actor writer,
                                                  prometheus::Gauge* connected) {
  self->state.writer = std::move(writer);
  self->state.connected = connected;
  self->set_down_handler([=](const caf::down_msg& down) {
    auto& st = self->state;
    for (auto i = st.live.begin(); i != st.live.end(); ++i) {
      if (i->second.address() == down.source) {
        const auto id = i->first;
        st.persistent.erase(i->first);
        st.live.erase(i);
        tell(self, id, false);
        break;
      }
    }
    update_gauge(st);
  });
  return {
      [=](register_atom, const std::string& client_id, const directory_session_actor& session,
          bool clean) {
        auto& st = self->state;
        const bool known = st.live.count(client_id) != 0;
        if (auto i = st.live.find(client_id); i != st.live.end() && i->second != session) {
          spdlog::info("[session directory {}] new connection takes the session over", client_id);
          self->demonitor(i->second.address());
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
        if (!known) {
          tell(self, client_id, true);
        }
        // The writer answers the session: it reads what the previous session left.
        return self->delegate(st.writer, session_restore_atom::value, client_id, clean);
      },
      [=](subs_atom, const std::string& client_id, std::vector<std::string>& added,
          std::vector<std::string>& removed) {
        auto& st = self->state;
        if (!st.persistent.count(client_id) || (added.empty() && removed.empty())) {
          return;
        }
        self->send(st.writer, session_subs_atom::value, client_id, std::move(added),
                   std::move(removed));
      },
      [=](unregister_atom, const std::string& client_id, const directory_session_actor& session) {
        auto& st = self->state;
        if (auto i = st.live.find(client_id); i != st.live.end() && i->second == session) {
          self->demonitor(session.address());
          st.live.erase(i);
          st.persistent.erase(client_id);
          update_gauge(st);
          tell(self, client_id, false);
        }
      },
      [=](observe_atom, caf::actor& observer) {
        auto& st = self->state;
        st.observer = std::move(observer);
        for (const auto& [id, session] : st.live) {
          tell(self, id, true);
        }
      },
  };
}

} // namespace

directory_actor spawn_session_directory(caf::actor_system& sys, writer_actor writer,
                                        prometheus::Gauge* connected_clients) {
  // Not detached: nothing here blocks any more (the writer owns the storage).
  return sys.spawn(directory_behavior, std::move(writer), connected_clients);
}

} // namespace outpost::actors
