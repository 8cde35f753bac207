#include "actors/hub/c2d_queues.hpp"

#include "actors/common/mailbox.hpp"
#include "actors/common/messages.hpp"
#include "actors/hub/hub_routes.hpp"
#include "protocols/iothub/hub_error.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace outpost::actors {

namespace {

/// What a caller does with the device's queue once it is open (or could not be).
using queue_callback = std::function<void(c2d_queue)>;

struct c2d_state {
  c2d_config cfg;
  std::map<std::string, std::shared_ptr<const hub::binding>> queues; ///< by queue name
  /// Opens in progress (by queue name): every caller waiting for that queue.
  std::map<std::string, std::vector<queue_callback>> opening;

  static inline const char* name = "c2d_queues";
};

using c2d_pointer = c2d_actor::stateful_pointer<c2d_state>;

c2d_reply failure(const iothub::hub_error& e) {
  return {e.status, e.body()};
}

/// The queue of `device` as it is registered now: `$c2d/<device>/<created_ms>`.
std::string queue_name(const c2d_state& st, const std::string& device) {
  std::int64_t created = 0;
  if (st.cfg.identities) {
    auto table = st.cfg.identities->get();
    if (auto i = table->find(device); i != table->end()) {
      created = i->second.created_ms;
    }
  }
  return "$c2d/" + device + "/" + std::to_string(created);
}

/// Hands the device's queue to `then`, opening it first when needed (one open, and one
/// mailbox, per queue however many callers wait for it).
void with_queue(c2d_pointer self, const std::string& device, queue_callback then) {
  auto& st = self->state;
  const auto endpoint = queue_name(st, device);
  if (auto q = st.queues.find(endpoint); q != st.queues.end()) {
    then(c2d_queue{{}, q->second});
    return;
  }
  auto& waiting = st.opening[endpoint];
  waiting.push_back(std::move(then));
  if (waiting.size() > 1) {
    return; // already opening
  }
  auto answer_all = [self, endpoint](const c2d_queue& answer) {
    auto callers = std::move(self->state.opening[endpoint]);
    self->state.opening.erase(endpoint);
    for (auto& c : callers) {
      c(answer);
    }
  };
  self->request(st.cfg.writer, caf::infinite, open_atom::value, storage::queue_name{endpoint, 0})
      .then(
          [=](open_reply& r) {
            auto& s = self->state;
            c2d_queue answer;
            if (r.error) {
              answer.error = r.error;
            } else {
              auto b = std::make_shared<hub::binding>();
              b->endpoint_id = endpoint;
              b->queue = r.queue;
              b->device_bound = true;
              b->handle = std::make_shared<const mailbox_actor>(spawn_mailbox(
                  self->system(),
                  {s.cfg.writer, r.queue, s.cfg.delivery_window, 1024, s.cfg.now_ms}));
              answer.binding = b;
              s.queues.emplace(endpoint, b);
            }
            answer_all(answer);
          },
          [=](caf::error&) {
            answer_all(c2d_queue{std::make_error_code(std::errc::timed_out), nullptr});
          });
}

/// Appends `body` to queue `b` unless it already holds its limit; answers `rp`.
void append(c2d_pointer self, std::shared_ptr<const hub::binding> b, const std::string& device,
            std::string body, std::string message_id, std::int64_t ttl_ms,
            caf::typed_response_promise<c2d_reply> rp) {
  self->request(self->state.cfg.writer, caf::infinite, stats_atom::value)
      .then([=](store_report& report) mutable {
        for (const auto& q : report.queues) {
          if (q.queue == b->queue && q.stats.length >= self->state.cfg.max_queue_depth) {
            rp.deliver(failure({403, 403004,
                                "the C2D queue of " + device + " holds "
                                    + std::to_string(q.stats.length) + " messages, its limit"}));
            return;
          }
        }
        self->request(mailbox_of(*b), caf::infinite, append_atom::value,
                      std::vector<std::string>{std::move(body)}, ttl_ms)
            .then([=](append_outcomes& outs) mutable {
              if (outs.empty() || outs.front().error) {
                const auto why =
                    outs.empty() ? std::string{"no answer"} : outs.front().error.message();
                rp.deliver(failure({500, 500001, "not stored: " + why}));
                return;
              }
              rp.deliver(
                  c2d_reply{201, nlohmann::json{{"messageId", message_id}}.dump(
                                     -1, ' ', false, nlohmann::json::error_handler_t::replace)});
            });
      });
}

} // namespace

c2d_actor spawn_c2d_queues(caf::actor_system& sys, c2d_config cfg) {
  auto behavior = [](c2d_pointer self, c2d_config cfg) -> c2d_actor::behavior_type {
    self->state.cfg = std::move(cfg);
    // The mailboxes end with it (the hub's stop sends it an exit); its state is still alive
    // here, unlike in an attached functor.
    self->set_exit_handler([self](caf::exit_msg& m) {
      for (auto& [name, b] : self->state.queues) {
        caf::anon_send_exit(mailbox_of(*b), caf::exit_reason::user_shutdown);
      }
      self->quit(m.reason);
    });
    return {
        [=](c2d_open_atom, const std::string& device) -> caf::typed_response_promise<c2d_queue> {
          auto rp = self->make_response_promise<c2d_queue>();
          with_queue(self, device, [rp](c2d_queue q) mutable { rp.deliver(std::move(q)); });
          return rp;
        },
        [=](c2d_send_atom, const std::string& device, routing::message& msg,
            std::int64_t ttl_ms) -> caf::typed_response_promise<c2d_reply> {
          auto rp = self->make_response_promise<c2d_reply>();
          // The queue first (opened on first use), then its depth, then the append.
          auto message_id = std::string{msg.get(routing::system_property::message_id).value_or("")};
          with_queue(self, device, [=, body = routing::encode(msg)](c2d_queue q) mutable {
            if (q.error || !q.binding) {
              rp.deliver(failure({500, 500001, "the C2D queue cannot be opened"}));
              return;
            }
            append(self, std::move(q.binding), device, std::move(body), std::move(message_id),
                   ttl_ms, rp);
          });
          return rp;
        },
    };
  };
  return sys.spawn(behavior, std::move(cfg));
}

} // namespace outpost::actors
