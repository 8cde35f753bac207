#include "actors/hub/twin_registry.hpp"

#include "actors/common/messages.hpp"
#include "protocols/iothub/twin.hpp"
#include "storage/twin_store.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>

namespace outpost::actors {

namespace {

using registry_pointer = twin_registry_actor::stateful_pointer<struct twin_registry_state>;

struct cached_twin {
  iothub::twin twin;
  std::int64_t owner_created_ms = 0; ///< the identity it belongs to (its creation time)
};

struct twin_registry_state {
  twin_registry_config cfg;
  std::unordered_map<std::string, cached_twin> cache;
  std::map<std::string, std::set<caf::actor>> watchers;
  caf::actor forward; ///< the upstream link, told every accepted reported patch

  static inline const char* name = "twin_registry";
};

/// IoT Hub's timestamp form: `2026-12-04T10:00:00.1234567Z` (UTC, 100 ns digits).
std::string iso8601(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03d0000Z", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms % 1000));
  return buf;
}

twin_reply failure(const iothub::hub_error& e) {
  return {e.status, 0, e.body()};
}

twin_reply internal(const std::string& why) {
  return failure(iothub::hub_error{500, 500001, why});
}

/// When identity `id` was created (0 when unknown: no registry table given, or not registered).
std::int64_t owner_of(const twin_registry_state& st, const std::string& id) {
  if (!st.cfg.identities) {
    return 0;
  }
  auto table = st.cfg.identities->get();
  auto i = table->find(id);
  return i == table->end() ? 0 : i->second.created_ms;
}

/// The cached twin of `id`, read from the store on first use (a new identity has none yet:
/// it starts empty, as IoT Hub's does; so does one whose stored twin a removed identity of
/// the same id left). nullptr when the store cannot be read.
cached_twin* twin_of(registry_pointer self, const std::string& id, std::string& why) {
  auto& st = self->state;
  const auto owner = owner_of(st, id);
  if (auto i = st.cache.find(id); i != st.cache.end()) {
    if (i->second.owner_created_ms == owner) {
      return &i->second;
    }
    st.cache.erase(i); // the identity was removed and created again
  }
  auto stored = storage::twin_store::get(*st.cfg.kv, id);
  if (!stored) {
    why = "the twin store cannot be read: " + stored.error().message();
    return nullptr;
  }
  cached_twin c{iothub::twin{}, owner};
  if (*stored && (*stored)->owner_created_ms == owner) {
    auto loaded = iothub::twin::load((*stored)->document);
    if (!loaded) {
      why = "the stored twin of " + id + " is not readable";
      return nullptr;
    }
    c.twin = std::move(*loaded);
  }
  return &st.cache.emplace(id, std::move(c)).first->second;
}

/// Writes `id`'s twin durably, then delivers `reply` (or a 500 and drops the cached copy).
void persist(registry_pointer self, const std::string& id, const cached_twin& c,
             caf::typed_response_promise<twin_reply> rp, twin_reply reply,
             std::function<void()> after = {}) {
  storage::write_batch b;
  storage::twin_store::put(b, id, c.owner_created_ms, c.twin.save());
  self->request(self->state.cfg.writer, caf::infinite, records_atom::value, std::move(b), true)
      .then(
          [=](records_reply& r) mutable {
            if (r.error) {
              spdlog::warn("[twins] {}: not written ({}); answered 500", id, r.error.message());
              self->state.cache.erase(id);
              rp.deliver(internal("the twin could not be stored: " + r.error.message()));
              return;
            }
            if (after) {
              after();
            }
            rp.deliver(std::move(reply));
          },
          [=](caf::error& e) mutable {
            self->state.cache.erase(id);
            rp.deliver(internal("the twin could not be stored: " + to_string(e)));
          });
}

void push_desired(registry_pointer self, const std::string& id, std::int64_t version,
                  const std::string& patch) {
  auto i = self->state.watchers.find(id);
  if (i == self->state.watchers.end()) {
    return;
  }
  for (const auto& w : i->second) {
    caf::anon_send(w, desired_atom::value, version, patch); // sessions are untyped
  }
}

/// 200 and the service view of `id`'s twin ("<device>" or "<device>/<module>").
twin_reply service_view(const std::string& id, const iothub::twin& t) {
  const auto slash = id.find('/');
  return {
      200, t.version(),
      t.service_json(id.substr(0, slash), slash == std::string::npos ? "" : id.substr(slash + 1))};
}

/// An etag as a client sends it in If-Match: quoted or not; empty or `*` match anything.
bool etag_matches(std::string if_match, const iothub::twin& t) {
  if (if_match.size() >= 2 && if_match.front() == '"' && if_match.back() == '"') {
    if_match = if_match.substr(1, if_match.size() - 2);
  }
  return if_match.empty() || if_match == "*" || if_match == t.etag();
}

} // namespace

twin_registry_actor spawn_twin_registry(caf::actor_system& sys, twin_registry_config cfg) {
  auto behavior = [](registry_pointer self,
                     twin_registry_config cfg) -> twin_registry_actor::behavior_type {
    self->state.cfg = std::move(cfg);
    self->set_down_handler([self](caf::down_msg& m) {
      for (auto i = self->state.watchers.begin(); i != self->state.watchers.end();) {
        i->second.erase(caf::actor_cast<caf::actor>(m.source));
        i = i->second.empty() ? self->state.watchers.erase(i) : std::next(i);
      }
    });
    return {
        [=](twin_get_atom, const std::string& id) -> twin_reply {
          std::string why;
          auto* c = twin_of(self, id, why);
          if (!c) {
            return internal(why);
          }
          return {200, c->twin.reported_version(), c->twin.device_json()};
        },
        [=](twin_report_atom, const std::string& id,
            const std::string& patch) -> caf::typed_response_promise<twin_reply> {
          auto rp = self->make_response_promise<twin_reply>();
          std::string why;
          auto* c = twin_of(self, id, why);
          if (!c) {
            rp.deliver(internal(why));
            return rp;
          }
          if (auto e = c->twin.patch_reported(patch, iso8601(self->state.cfg.now_ms()))) {
            rp.deliver(failure(*e));
            return rp;
          }
          std::function<void()> after;
          if (self->state.forward) {
            after = [self, id, patch] {
              caf::anon_send(self->state.forward, twin_reported_atom::value, id, patch);
            };
          }
          persist(self, id, *c, rp, twin_reply{204, c->twin.reported_version(), {}},
                  std::move(after));
          return rp;
        },
        [=](twin_show_atom, const std::string& id) -> twin_reply {
          std::string why;
          auto* c = twin_of(self, id, why);
          if (!c) {
            return internal(why);
          }
          return service_view(id, c->twin);
        },
        [=](twin_update_atom, const std::string& id, const std::string& body,
            const std::string& if_match, bool replace) -> caf::typed_response_promise<twin_reply> {
          auto rp = self->make_response_promise<twin_reply>();
          std::string why;
          auto* c = twin_of(self, id, why);
          if (!c) {
            rp.deliver(internal(why));
            return rp;
          }
          auto* t = &c->twin;
          if (!etag_matches(if_match, *t)) {
            rp.deliver(failure(iothub::hub_error{
                412, 412001, "the etag " + if_match + " is not the twin's (" + t->etag() + ")"}));
            return rp;
          }
          std::string pushed;
          const auto now = iso8601(self->state.cfg.now_ms());
          if (auto e = replace ? t->replace(body, now, pushed) : t->update(body, now, pushed)) {
            rp.deliver(failure(*e));
            return rp;
          }
          auto reply = service_view(id, *t);
          std::function<void()> after;
          if (!pushed.empty()) {
            after = [self, id, version = t->desired_version(), pushed] {
              push_desired(self, id, version, pushed);
            };
          }
          persist(self, id, *c, rp, std::move(reply), std::move(after));
          return rp;
        },
        [=](twin_watch_atom, const std::string& id, const caf::actor& session) {
          if (self->state.watchers[id].insert(session).second) {
            self->monitor(session);
          }
        },
        [=](twin_forward_atom, const caf::actor& link) { self->state.forward = link; },
        [=](twin_unwatch_atom, const std::string& id, const caf::actor& session) {
          auto i = self->state.watchers.find(id);
          if (i != self->state.watchers.end()) {
            i->second.erase(session);
            if (i->second.empty()) {
              self->state.watchers.erase(i);
            }
          }
        },
    };
  };
  return sys.spawn<caf::detached>(behavior, std::move(cfg));
}

} // namespace outpost::actors
