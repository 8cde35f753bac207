#include "actors/hub/drain_set.hpp"

#include "actors/common/messages.hpp"
#include "actors/hub/hub_metrics.hpp"

#include <caf/all.hpp>

namespace outpost::actors {

drain_set::drain_set(caf::actor self, std::function<bool(const hub::binding&)> pick, std::string to,
                     std::string rejected_reason, std::shared_ptr<hub_metrics> metrics)
    : self_(std::move(self)),
      pick_(std::move(pick)),
      to_(std::move(to)),
      rejected_reason_(std::move(rejected_reason)),
      metrics_(std::move(metrics)) {}

void drain_set::read(std::shared_ptr<const hub_routes> routes, bool online) {
  std::vector<const hub::binding*> found;
  if (routes) {
    for (const auto& b : routes->bindings()) {
      if (pick_(b)) {
        found.push_back(&b); // bindings are ordered by (endpoint, priority)
      }
    }
  }
  bool same = found.size() == queues_.size();
  for (std::size_t i = 0; same && i < found.size(); ++i) {
    same = found[i]->queue == queues_[i]->queue;
  }
  routes_ = std::move(routes);
  if (same) {
    queues_ = std::move(found); // the same queues and mailboxes (bind_routes reuses them)
    return;
  }
  unsubscribe_all();
  queues_ = std::move(found);
  if (online) {
    subscribe_next();
  }
}

void drain_set::subscribe_next() {
  if (subscribed_ < queues_.size()) {
    caf::send_as(self_, mailbox_of(*queues_[subscribed_++]), subscribe_atom::value,
                 caf::actor_cast<consumer_actor>(self_));
  }
}

void drain_set::unsubscribe_all() {
  for (std::size_t i = 0; i < subscribed_; ++i) {
    caf::send_as(self_, mailbox_of(*queues_[i]), unsub_atom::value);
  }
  subscribed_ = 0;
  flight_.clear();
  acks_.clear();
}

const hub::binding* drain_set::subscribed(storage::queue_handle q) const {
  for (std::size_t i = 0; i < subscribed_; ++i) {
    if (queues_[i]->queue == q) {
      return queues_[i];
    }
  }
  return nullptr;
}

std::uint64_t drain_set::track(const hub::binding* from, storage::sequence seq,
                               std::string sender) {
  const auto token = next_token_++;
  flight_[token] = {from, seq, std::move(sender)};
  return token;
}

void drain_set::settle(std::uint64_t token, outcome how) {
  auto it = flight_.find(token);
  if (it == flight_.end()) {
    return;
  }
  auto f = std::move(it->second);
  flight_.erase(it);
  if (how == outcome::released) {
    caf::send_as(self_, mailbox_of(*f.from), nack_atom::value, f.seq);
    return;
  }
  acks_[f.from].push_back(f.seq);
  if (how == outcome::accepted) {
    // The series of (priority, sender), found once: not a label map per message.
    auto& series = sent_[f.from->queue][f.sender];
    if (series == nullptr) {
      series = &metrics_->sent.Add({{"from", f.sender},
                                    {"to", to_},
                                    {"from_route_output", ""},
                                    {"to_route_input", ""},
                                    {"priority", std::to_string(f.from->priority)}});
    }
    series->Increment();
  } else {
    metrics_->dropped
        .Add({{"reason", rejected_reason_}, {"from", f.sender}, {"from_route_output", ""}})
        .Increment();
  }
}

void drain_set::drop_invalid(const hub::binding* from, storage::sequence seq) {
  acks_[from].push_back(seq);
  metrics_->dropped.Add({{"reason", "invalid"}, {"from", "unknown"}, {"from_route_output", ""}})
      .Increment();
}

void drain_set::flush_acks() {
  for (auto& [b, seqs] : acks_) {
    caf::send_as(self_, mailbox_of(*b), ack_atom::value, std::move(seqs));
  }
  acks_.clear();
}

} // namespace outpost::actors
