// Fuzz target for the hub's protocol-independent session core (protocols/hub/hub_session).
// The first bytes choose the settings and the identity; then each step reads an opcode byte
// and calls the core as a shell would: publishes (topics from a list, with random property
// bags), mapped telemetry, flush, the store's answers to outstanding batches (each request ok
// or refused), ticks (time only moves forward), mailbox entries (in sequence per queue,
// sometimes undecodable), client acks of deliveries, drained, route changes, want_inputs,
// output queue sizes and close.
// Invariants, checked after every step:
// - an ack_action names a tag given with a publish, at most once, in publish order, and for a
//   routed message only once the store answered ok for it;
// - nothing is emitted after close();
// - never more than max_inflight_out deliveries unacknowledged; tokens are unique; a release
//   names only entries delivered and acknowledged (or undecodable), each once;
// - while the store's refusals wait for a retry, reading() is false and next_deadline() is
//   finite; every refused request is offered again by a later append_action;
// - attach_action names only input mailboxes of this module, each queue once.
// Any violation traps. Built with libFuzzer under OUTPOST_FUZZ, and replayed by ctest
// (replay_main.cpp) over corpus/hub_session in every build.

#include "protocols/hub/hub_session.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace {

namespace hub = outpost::hub;
namespace routing = outpost::routing;
namespace storage = outpost::storage;

void check_at(bool ok, int line) {
  if (!ok) {
    std::fprintf(stderr, "hub_session_fuzz: invariant at line %d violated\n", line);
    __builtin_trap();
  }
}
#define check(ok) check_at((ok), __LINE__)

struct input {
  const std::uint8_t* p;
  std::size_t n;
  std::uint8_t byte() {
    if (n == 0) {
      return 0;
    }
    --n;
    return *p++;
  }
  bool empty() const { return n == 0; }
};

std::shared_ptr<const hub::bound_routes> bind(
    const std::vector<std::pair<std::string, routing::route_spec>>& specs) {
  auto compiled = routing::route_table::compile(specs, 30);
  auto table = std::make_shared<routing::route_table>(std::get<routing::route_table>(compiled));
  auto bound = hub::bound_routes::bind(
      table, "edge", [](const std::string& id, std::uint32_t priority, const routing::endpoint&) {
        // Stable queue numbers per (endpoint, priority), as the writer's registry gives.
        static std::map<std::pair<std::string, std::uint32_t>, storage::queue_handle> queues;
        auto [it, added] = queues.emplace(std::make_pair(id, priority), queues.size() + 1);
        (void)added;
        hub::binding b;
        b.queue = it->second;
        return outpost::result<hub::binding>{std::move(b)};
      });
  return std::make_shared<const hub::bound_routes>(std::move(*bound));
}

const std::shared_ptr<const hub::bound_routes>& routes_a() {
  static const auto r = bind({
      {"up", {"FROM /messages/* WHERE color = 'red' INTO $upstream", 1, 0}},
      {"in", {R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/in"))", 3, 0}},
      {"in2", {R"(FROM /messages/devices/* INTO BrokeredEndpoint("/modules/m/inputs/in"))", 0, 0}},
  });
  return r;
}

const std::shared_ptr<const hub::bound_routes>& routes_b() {
  static const auto r = bind({
      {"in", {R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/in"))", 3, 0}},
      {"other",
       {R"(FROM /messages/* INTO BrokeredEndpoint("/modules/m/inputs/other"))",
        routing::default_priority, 0}},
      {"n",
       {R"(FROM /messages/* INTO BrokeredEndpoint("/modules/n/inputs/in"))",
        routing::default_priority, 0}},
  });
  return r;
}

constexpr std::string_view topics[] = {
    "devices/edge/modules/m/messages/events/",
    "devices/edge/modules/m/messages/events/color=red",
    "devices/edge/modules/m/messages/events/%24.on=out&color=red",
    "devices/d/messages/events/color=red",
    "devices/d/messages/events/",
    "$iothub/twin/GET/?$rid=1",
    "nonsense",
    "devices/edge/modules/m/messages/events/a=1&a=2&b&c=%ZZ",
};

class harness {
public:
  explicit harness(input& in) : in_(in) {
    hub::session_settings s;
    s.edge_device_id = "edge";
    s.max_pending_in = 1 + in.byte() % 8;
    s.max_inflight_out = 1 + in.byte() % 4;
    s.store_retry_ms = in.byte() % 50;
    s.max_output_bytes = 100 + in.byte();
    s.output_stall_ms = in.byte();
    settings_ = s;
    core_.emplace(s, nullptr);
    const bool module = in.byte() % 4 != 0;
    who_ = module ? outpost::iothub::client_identity{"edge", "m"}
                  : outpost::iothub::client_identity{"d", ""};
    core_->open(who_, in.byte() % 2 ? 0 : 5);
    routes_ = routes_a();
  }

  void step() {
    hub::actions out;
    switch (in_.byte() % 13) {
      case 0:
      case 1: {
        const auto topic = topics[in_.byte() % std::size(topics)];
        const std::uint64_t tag = in_.byte() % 3 == 0 ? 0 : next_tag_++;
        if (tag != 0) {
          published_.push_back(tag);
        }
        core_->on_publish(topic, std::string(in_.byte() % 8, 'x'), tag, *routes_, out);
        break;
      }
      case 2: {
        routing::message m;
        m.body = "t";
        m.properties.emplace_back("color", in_.byte() % 2 ? "red" : "blue");
        const std::uint64_t tag = next_tag_++;
        published_.push_back(tag);
        core_->on_telemetry(std::move(m), tag, *routes_, out);
        break;
      }
      case 3:
        core_->flush(out);
        break;
      case 4:
        answer_store(out);
        break;
      case 5:
        now_ += in_.byte() * 3;
        core_->on_tick(now_, out);
        break;
      case 6:
        entries(out);
        break;
      case 7:
        if (!inflight_.empty()) {
          auto it = inflight_.begin();
          std::advance(it, in_.byte() % inflight_.size());
          core_->on_delivered(it->first, out);
          acked_.insert(it->second);
          inflight_.erase(it);
        } else {
          core_->on_delivered(in_.byte(), out);
        }
        break;
      case 8: {
        const auto& bs = routes_->bindings();
        if (!bs.empty()) {
          core_->on_drained(bs[in_.byte() % bs.size()].queue, out);
        }
        break;
      }
      case 9:
        routes_ = in_.byte() % 2 ? routes_b() : routes_a();
        core_->on_routes(routes_, out);
        break;
      case 10:
        core_->want_inputs(routes_, out);
        break;
      case 11:
        now_ += in_.byte();
        core_->on_output(static_cast<std::size_t>(in_.byte()) * 4, now_, out);
        break;
      case 12:
        if (in_.byte() % 8 == 0) {
          core_->close();
          closed_ = true;
        }
        break;
    }
    observe(out);
  }

private:
  void answer_store(hub::actions& out) {
    if (batches_.empty()) {
      return;
    }
    auto it = batches_.begin();
    std::advance(it, in_.byte() % batches_.size());
    std::vector<storage::append_outcome> outcomes(it->second.requests.size());
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      if (in_.byte() % 3 == 0) {
        outcomes[i].error = std::make_error_code(std::errc::no_space_on_device);
        outcomes[i].rejected = it->second.requests[i];
        refused_bodies_.insert(it->second.requests[i].body);
      } else {
        stored_bodies_.insert(it->second.requests[i].body);
      }
    }
    const auto batch = it->first;
    batches_.erase(it);
    core_->on_stored(batch, std::move(outcomes), now_, out);
  }

  void entries(hub::actions& out) {
    const auto& bs = routes_->bindings();
    if (bs.empty()) {
      return;
    }
    const auto queue = bs[in_.byte() % bs.size()].queue;
    std::vector<storage::stored_entry> es;
    const auto n = in_.byte() % 4;
    for (int i = 0; i < n; ++i) {
      auto& seq = next_seq_[queue];
      ++seq;
      routing::message m;
      m.body = "e";
      m.set(routing::system_property::connection_device_id, "d");
      const bool bad = in_.byte() % 16 == 0;
      es.push_back({seq, seq, now_, 0, bad ? std::string{"bad"} : routing::encode(m)});
      if (attached_.count(queue) && !closed_) { // the core takes entries of attached queues only
        (bad ? bad_ : entered_).insert({queue, seq});
      }
    }
    core_->on_entries(queue, std::move(es), out);
  }

  void observe(hub::actions& out) {
    if (closed_) {
      check(out.empty());
    }
    for (auto& a : out) {
      if (auto* ack = std::get_if<hub::ack_action>(&a)) {
        check(!published_.empty() && published_.front() == ack->tag); // in publish order, once
        published_.erase(published_.begin());
      } else if (auto* app = std::get_if<hub::append_action>(&a)) {
        check(!app->requests.empty() && !batches_.count(app->batch));
        for (const auto& r : app->requests) {
          check(!r.targets.empty());
          if (auto f = refused_bodies_.find(r.body); f != refused_bodies_.end()) {
            refused_bodies_.erase(f); // offered again
          }
        }
        batches_.emplace(app->batch, *app);
      } else if (auto* d = std::get_if<hub::deliver_action>(&a)) {
        check(!inflight_.count(d->token) && d->from != nullptr);
        check(who_.is_module() && d->msg.body == "e");
        inflight_.emplace(d->token, std::make_pair(d->from->queue, storage::sequence{0}));
        // The sequence is not in the action: find the oldest entered, undelivered one.
        for (auto e = entered_.begin(); e != entered_.end(); ++e) {
          if (e->first == d->from->queue) {
            inflight_[d->token].second = e->second;
            entered_.erase(e);
            break;
          }
        }
      } else if (auto* r = std::get_if<hub::release_action>(&a)) {
        for (const auto seq : r->seqs) {
          const std::pair<storage::queue_handle, storage::sequence> key{r->mailbox->queue, seq};
          const bool was_acked = acked_.erase(key) == 1;
          const bool undecodable = bad_.erase(key) == 1;
          check(was_acked || undecodable);
          check(released_.insert(key).second);
        }
      } else if (auto* at = std::get_if<hub::attach_action>(&a)) {
        check(who_.is_module() && at->mailbox->target.module == "m"
              && at->mailbox->target.what == routing::endpoint::kind::module_input);
        check(attached_.insert(at->mailbox->queue).second);
      }
    }
    check(core_->inflight_out() <= settings_.max_inflight_out);
    if (!core_->stalled() && !closed_) {
      // Whatever was refused has been offered again (or is with the store).
      check(refused_bodies_.empty());
    }
    if (core_->stalled()) {
      check(!core_->reading());
    }
  }

  input& in_;
  hub::session_settings settings_;
  std::optional<hub::hub_session> core_;
  outpost::iothub::client_identity who_;
  std::shared_ptr<const hub::bound_routes> routes_;
  std::int64_t now_ = 0;
  bool closed_ = false;
  std::uint64_t next_tag_ = 1;
  std::vector<std::uint64_t> published_; ///< tags not yet acked, in publish order
  std::map<std::uint64_t, hub::append_action> batches_;
  std::multiset<std::string> stored_bodies_;
  std::multiset<std::string> refused_bodies_;
  std::map<storage::queue_handle, storage::sequence> next_seq_;
  std::set<std::pair<storage::queue_handle, storage::sequence>> entered_; ///< not delivered
  std::set<std::pair<storage::queue_handle, storage::sequence>> bad_;     ///< undecodable
  std::map<std::uint64_t, std::pair<storage::queue_handle, storage::sequence>> inflight_;
  std::set<std::pair<storage::queue_handle, storage::sequence>> acked_;
  std::set<std::pair<storage::queue_handle, storage::sequence>> released_;
  std::set<storage::queue_handle> attached_;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input in{data, size};
  harness h{in};
  for (int steps = 0; !in.empty() && steps < 4096; ++steps) {
    h.step();
  }
  return 0;
}
