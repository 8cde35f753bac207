#pragma once

#include "actors/common/counter_registry.hpp"
#include "actors/hub/hub_routes.hpp"
#include "protocols/amqp/upstream_connection.hpp"

#include <caf/actor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace outpost::actors {

struct hub_metrics;

/// The persistent mailboxes one outbound link drains (the upstream link's `$upstream`, an
/// `Endpoint("...")`'s broker), with what both do alike: subscribe one priority at a time,
/// highest first (the next on `drained`, so a backlog goes out in priority order); remember
/// every entry handed to the connection by a token; on the peer's settlement acknowledge it to
/// its mailbox (accepted: counted in `edgehub_messages_sent_total{to}`; rejected: dropped and
/// counted, never tried again) or give it back (released: `nack`, it comes again); and on a
/// lost connection unsubscribe, so that what was in flight is delivered again. Used from one
/// actor's handlers only (it sends as that actor).
class drain_set {
public:
  /// How the peer settled an entry (both links' connections report it alike).
  using outcome = amqp::up::settled::how;

  struct flight {
    const hub::binding* from = nullptr;
    storage::sequence seq = 0;
    std::string sender; ///< the identity the message came from, for the metrics
  };

  /// `pick` selects the bindings of this link; `to` is the `to` label of what it sends
  /// ("upstream", or the endpoint's name) and `rejected_reason` the `dropped` reason.
  drain_set(caf::actor self, std::function<bool(const hub::binding&)> pick, std::string to,
            std::string rejected_reason, std::shared_ptr<hub_metrics> metrics);

  /// Takes the bindings of `routes`. When they are other queues than before, what was in
  /// flight is forgotten (it comes again: at least once; routes change rarely) and, when
  /// `online`, the subscriptions start again from the highest priority.
  void read(std::shared_ptr<const hub_routes> routes, bool online);
  /// Subscribes the next queue in priority order (the rest follow on `drained`).
  void subscribe_next();
  /// Unsubscribes every queue and forgets what was in flight: the mailboxes deliver it again.
  void unsubscribe_all();
  /// The subscribed binding of queue `q`, or null (an entry from before an `unsub`).
  const hub::binding* subscribed(storage::queue_handle q) const;

  /// An entry handed to the connection: its settlement token.
  std::uint64_t track(const hub::binding* from, storage::sequence seq, std::string sender);
  /// The peer settled `token`.
  /// (the `unsub` that follows delivers everything again).
  void settle(std::uint64_t token, outcome how);
  /// An entry that can never be sent (no sender): acknowledged and counted as invalid.
  void drop_invalid(const hub::binding* from, storage::sequence seq);
  /// Sends the acknowledgements `settle` and `drop_invalid` gathered, one message per queue.
  void flush_acks();

  std::size_t in_flight() const noexcept { return flight_.size(); }
  /// The bindings this link drains, highest priority first.
  const std::vector<const hub::binding*>& queues() const noexcept { return queues_; }

private:
  caf::actor self_;
  std::function<bool(const hub::binding&)> pick_;
  std::string to_;
  std::string rejected_reason_;
  std::shared_ptr<hub_metrics> metrics_;
  std::shared_ptr<const hub_routes> routes_; ///< held so that the bindings below stay valid
  std::vector<const hub::binding*> queues_;
  std::size_t subscribed_ = 0; ///< how many of `queues_` (in order) are subscribed
  std::unordered_map<std::uint64_t, flight> flight_;
  std::uint64_t next_token_ = 1;
  std::unordered_map<const hub::binding*, std::vector<storage::sequence>> acks_;
  /// `edgehub_messages_sent_total` by queue (one per priority) and sender, found with the
  /// flight's own strings: no key is built per message.
  std::unordered_map<storage::queue_handle,
                     std::unordered_map<std::string, counter_registry::counter*>>
      sent_;
};

} // namespace outpost::actors
