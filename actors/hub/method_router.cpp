#include "actors/hub/method_router.hpp"

#include "protocols/hub/method_table.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <prometheus/counter.h>
#include <prometheus/summary.h>

#include <chrono>
#include <cstdlib>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>

namespace outpost::actors {

namespace {

using method_tick_atom = caf::atom_constant<caf::atom("meth_tick")>;
/// The router's own timer, private to this file.
using router_actor = method_router_actor::extend<caf::reacts_to<method_tick_atom>>;

struct method_router_state {
  std::function<std::int64_t()> now_ms;
  hub::method_table table;
  std::unordered_map<std::string, caf::actor> listeners; ///< identity -> its live session
  std::shared_ptr<hub_metrics> metrics;
  struct caller {
    caf::typed_response_promise<method_call_reply> promise;
    std::string from;
    std::string to;
    std::chrono::steady_clock::time_point started;
  };
  std::map<std::uint64_t, caller> callers;
  std::int64_t tick_at = 0; ///< the pending timer's deadline; 0 = none

  static inline const char* name = "method_router";
};

using router_pointer = router_actor::stateful_pointer<method_router_state>;

void carry(router_pointer self, hub::method_table::outputs& out) {
  auto& st = self->state;
  for (auto& o : out) {
    if (auto* s = std::get_if<hub::method_table::send>(&o)) {
      if (auto l = st.listeners.find(s->target); l != st.listeners.end()) {
        caf::anon_send(l->second, method_request_atom::value, std::to_string(s->id),
                       std::move(s->method), std::move(s->payload)); // sessions are untyped
      }
    } else if (auto* f = std::get_if<hub::method_table::finish>(&o)) {
      if (auto c = st.callers.find(f->id); c != st.callers.end()) {
        if (st.metrics) {
          const prometheus::Labels labels{{"from", c->second.from}, {"to", c->second.to}};
          st.metrics->direct_methods.Add(labels).Increment();
          st.metrics->direct_method_duration.add(labels).observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - c->second.started)
                  .count());
        }
        c->second.promise.deliver(method_call_reply{f->http_status, std::move(f->body)});
        st.callers.erase(c);
      }
    }
  }
  out.clear();
  const auto next = st.table.next_deadline();
  if (next != std::numeric_limits<std::int64_t>::max() && (st.tick_at == 0 || next < st.tick_at)) {
    st.tick_at = next;
    const auto wait = std::max<std::int64_t>(next - st.now_ms(), 0) + 1;
    self->delayed_send(self, std::chrono::milliseconds(wait), method_tick_atom::value);
  }
}

router_actor::behavior_type router(router_pointer self, std::function<std::int64_t()> now_ms,
                                   std::shared_ptr<hub_metrics> metrics) {
  self->state.now_ms = std::move(now_ms);
  self->state.metrics = std::move(metrics);
  self->set_down_handler([self](caf::down_msg& m) {
    auto& ls = self->state.listeners;
    for (auto i = ls.begin(); i != ls.end();) {
      i = i->second.address() == m.source ? ls.erase(i) : std::next(i);
    }
  });
  return {
      [=](method_invoke_atom, method_call& c) -> caf::typed_response_promise<method_call_reply> {
        auto& st = self->state;
        auto rp = self->make_response_promise<method_call_reply>();
        hub::method_table::outputs out;
        const bool listening = st.listeners.count(c.target) != 0;
        const auto to = c.target;
        const auto id =
            st.table.invoke({std::move(c.target), std::move(c.method), std::move(c.payload),
                             c.connect_timeout_ms, c.response_timeout_ms},
                            listening, st.now_ms(), out);
        st.callers.emplace(id, method_router_state::caller{rp, std::move(c.from), to,
                                                           std::chrono::steady_clock::now()});
        carry(self, out);
        return rp;
      },
      [=](method_listen_atom, const std::string& id, const caf::actor& session) {
        auto& st = self->state;
        st.listeners[id] = session; // one live session per identity: the newest listens
        self->monitor(session);
        hub::method_table::outputs out;
        st.table.listening(id, st.now_ms(), out);
        carry(self, out);
      },
      [=](method_unlisten_atom, const std::string& id, const caf::actor& session) {
        auto& ls = self->state.listeners;
        if (auto i = ls.find(id); i != ls.end() && i->second == session) {
          ls.erase(i);
        }
      },
      [=](method_answer_atom, const std::string& from, const std::string& rid, int status,
          std::string& payload) {
        char* end = nullptr;
        const auto id = std::strtoull(rid.c_str(), &end, 10);
        if (rid.empty() || end == nullptr || *end != '\0') {
          return; // not an id this router gave out
        }
        hub::method_table::outputs out;
        self->state.table.answered(from, id, status, std::move(payload), out);
        carry(self, out);
      },
      [=](method_tick_atom) {
        auto& st = self->state;
        st.tick_at = 0;
        hub::method_table::outputs out;
        st.table.on_tick(st.now_ms(), out);
        carry(self, out);
      },
  };
}

} // namespace

method_router_actor spawn_method_router(caf::actor_system& sys,
                                        std::function<std::int64_t()> now_ms,
                                        std::shared_ptr<hub_metrics> metrics) {
  return caf::actor_cast<method_router_actor>(
      sys.spawn(router, std::move(now_ms), std::move(metrics)));
}

} // namespace outpost::actors
