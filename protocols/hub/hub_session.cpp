#include "protocols/hub/hub_session.hpp"

#include "protocols/iothub/topics.hpp"

#include <algorithm>

namespace outpost::hub {

const char* to_string(drop_reason r) noexcept {
  switch (r) {
    case drop_reason::unknown_topic:
      return "unknown_topic";
    case drop_reason::unsupported:
      return "unsupported";
    case drop_reason::too_many_properties:
      return "too_many_properties";
    case drop_reason::no_route:
      return "no_route";
    case drop_reason::undecodable:
      return "undecodable";
    case drop_reason::max_delivery_count:
      return "max_delivery_count";
  }
  return "unknown";
}

void session_observer::received(const routing::message&, std::size_t) {}
void session_observer::dropped(drop_reason, const routing::message&) {}
void session_observer::delivered(const routing::message&, const binding&, std::int64_t) {}
void session_observer::routed(const routing::message&, const std::vector<bound_target>&) {}
void session_observer::store_refused(std::error_code) {}

namespace {

session_observer null_observer; // stateless: one for every session without an observer of its own

} // namespace

hub_session::hub_session(session_settings settings, session_observer* observer)
    : hub_session(std::make_shared<const session_settings>(std::move(settings)), observer) {}

hub_session::hub_session(std::shared_ptr<const session_settings> settings,
                         session_observer* observer)
    : settings_(std::move(settings)),
      observer_(observer ? observer : &null_observer) {}

hub_session::outbound& hub_session::ob() {
  if (!out_) {
    out_ = std::make_unique<outbound>();
  }
  return *out_;
}

void hub_session::open(iothub::client_identity who, std::int64_t expires_s) {
  who_ = std::move(who);
  expires_s_ = expires_s;
  open_ = true;
}

// -- inbound -------------------------------------------------------------------------------

void hub_session::on_publish(std::string_view topic, std::string body, std::uint64_t tag,
                             const bound_routes& routes, actions& out) {
  if (!open_) {
    return;
  }
  routing::message msg;
  auto parsed = iothub::parse_publish_topic(topic, who_, msg);
  if (parsed
      && (parsed->kind == iothub::inbound_kind::twin_get
          || parsed->kind == iothub::inbound_kind::twin_patch_reported)) {
    // Twin requests are not messages: no route, no store append, no message metrics.
    out.push_back(twin_action{
        parsed->kind == iothub::inbound_kind::twin_get ? twin_op::get : twin_op::patch_reported,
        std::move(parsed->request_id), std::move(body), track(tag)});
    return;
  }
  if (parsed && parsed->kind == iothub::inbound_kind::method_response) {
    // Nothing to store: the answer goes to the caller, and the publish is done at once.
    const auto index = track(tag);
    out.push_back(
        method_response_action{std::move(parsed->request_id), parsed->status, std::move(body)});
    done(index, out);
    return;
  }
  observer_->received(msg, body.size());
  if (!parsed) {
    drop(parsed.error() == iothub::errc::too_many_properties ? drop_reason::too_many_properties
                                                             : drop_reason::unknown_topic,
         msg, tag, out);
    return;
  }
  if (parsed->kind != iothub::inbound_kind::telemetry) {
    // Every inbound kind is served above; a new one is dropped until it is, as IoT Edge drops
    // what it does not serve.
    drop(drop_reason::unsupported, msg, tag, out);
    return;
  }
  msg.body = std::move(body);
  route(std::move(msg), tag, routes, out);
}

void hub_session::on_reported(std::string patch, const bound_routes& routes, actions& out) {
  if (!open_) {
    return;
  }
  routing::message msg;
  msg.body = std::move(patch);
  msg.set(routing::system_property::message_schema, "twinChangeNotification");
  msg.set(routing::system_property::content_type, "application/json");
  msg.set(routing::system_property::content_encoding, "utf-8");
  msg.set(routing::system_property::connection_device_id, who_.device_id);
  if (who_.is_module()) {
    msg.set(routing::system_property::connection_module_id, who_.module_id);
  }
  route(std::move(msg), 0, routes, out);
}

void hub_session::on_telemetry(routing::message msg, std::uint64_t tag, const bound_routes& routes,
                               actions& out) {
  if (!open_) {
    return;
  }
  msg.set(routing::system_property::connection_device_id, who_.device_id);
  if (who_.is_module()) {
    msg.set(routing::system_property::connection_module_id, who_.module_id);
  }
  observer_->received(msg, msg.body.size());
  route(std::move(msg), tag, routes, out);
}

void hub_session::route(routing::message msg, std::uint64_t tag, const bound_routes& routes,
                        actions& out) {
  // Scratch of one call, per thread rather than per session (24 bytes on every connection).
  thread_local std::vector<bound_target> targets;
  routes.match(msg, targets);
  observer_->routed(msg, targets);
  if (targets.empty()) {
    drop(drop_reason::no_route, msg, tag, out);
    return;
  }
  storage::append_request req;
  req.targets.reserve(targets.size());
  for (const auto& t : targets) {
    req.targets.push_back({t.to->queue, t.ttl_ms});
  }
  req.body = routing::encode(msg);
  batch_.push_back(std::move(req));
  batch_index_.push_back(track(tag));
}

/// Gives an inbound message its place in the acknowledgement order; 0 when it needs none.
std::uint64_t hub_session::track(std::uint64_t tag) {
  if (tag == 0) {
    return 0;
  }
  pending_in_.push_back({tag, false});
  return in_base_ + pending_in_.size() - 1;
}

/// Inbound message `index` is done: acknowledges the done prefix, in arrival order.
void hub_session::done(std::uint64_t index, actions& out) {
  if (index < in_base_ || index - in_base_ >= pending_in_.size()) {
    return; // none wanted (0), or already acknowledged
  }
  pending_in_[index - in_base_].done = true;
  while (!pending_in_.empty() && pending_in_.front().done) {
    if (open_) {
      out.push_back(ack_action{pending_in_.front().tag});
    }
    pending_in_.pop_front();
    ++in_base_;
  }
}

void hub_session::drop(drop_reason why, const routing::message& m, std::uint64_t tag,
                       actions& out) {
  observer_->dropped(why, m);
  done(track(tag), out);
}

void hub_session::flush(actions& out) {
  if (!open_) {
    return; // the connection is going: its client resends what was not acknowledged
  }
  if (!batch_.empty()) {
    const auto id = next_batch_++;
    stores_.emplace_back(id, std::move(batch_index_));
    out.push_back(append_action{id, std::move(batch_)});
    batch_.clear();
    batch_index_.clear();
  }
  if (out_) {
    for (auto& [mailbox, seqs] : out_->releases) {
      out.push_back(release_action{mailbox, std::move(seqs)});
    }
    out_->releases.clear();
  }
}

void hub_session::on_stored(std::uint64_t batch, std::vector<storage::append_outcome> outcomes,
                            std::int64_t now_ms, actions& out) {
  auto found =
      std::find_if(stores_.begin(), stores_.end(), [&](const auto& s) { return s.first == batch; });
  if (found == stores_.end()) {
    return;
  }
  const auto indexes = std::move(found->second);
  stores_.erase(found);
  if (retry_ && batch == retry_->batch) {
    retry_->batch = 0;
  }
  for (std::size_t i = 0; i < outcomes.size() && i < indexes.size(); ++i) {
    if (!outcomes[i].error) {
      done(indexes[i], out);
      continue;
    }
    // Refused (quota, full disk): never acknowledged, offered again while input is not read.
    if (!refused_reported_) {
      refused_reported_ = true;
      observer_->store_refused(outcomes[i].error);
    }
    if (!retry_) {
      retry_ = std::make_unique<refusal>();
    }
    retry_->requests.push_back(std::move(outcomes[i].rejected));
    retry_->index.push_back(indexes[i]);
  }
  if (retry_ && !retry_->requests.empty() && retry_->batch == 0 && retry_->at == 0) {
    retry_->at = now_ms + settings_->store_retry_ms;
  }
  if (!stalled()) {
    refused_reported_ = false;
    retry_.reset();
  }
}

// -- outbound ------------------------------------------------------------------------------

void hub_session::want_inputs(std::shared_ptr<const bound_routes> routes, actions& out) {
  inputs_wanted_ = true;
  on_routes(std::move(routes), out);
}

void hub_session::want_c2d(std::shared_ptr<const binding> queue, actions& out) {
  if (!open_ || who_.is_module() || (out_ && out_->c2d) || !queue) {
    return;
  }
  auto& o = ob();
  o.c2d = std::move(queue);
  attach(o.c2d.get(), out);
}

void hub_session::on_routes(std::shared_ptr<const bound_routes> routes, actions& out) {
  if (!open_ || !who_.is_module() || !inputs_wanted_ || !routes
      || (out_ && routes == out_->routes)) {
    return;
  }
  auto& o = ob();
  if (o.routes) {
    // Pointers in `inputs` and in deliveries point into it. Route changes are operator
    // actions, so the few snapshots held per session are not worth reclaiming.
    o.held.push_back(std::move(o.routes));
  }
  o.routes = std::move(routes);
  std::map<std::string, std::vector<const binding*>> by_input;
  for (const auto* b : o.routes->inputs_of(who_.id())) {
    if (!o.inputs.count(b->queue)) {
      by_input[b->endpoint_id].push_back(b); // ordered by (endpoint, priority)
    }
  }
  for (auto& [name, bindings] : by_input) {
    const std::string& endpoint = name; // (a structured binding cannot be captured in C++17)
    const bool started = std::any_of(o.inputs.begin(), o.inputs.end(), [&](const auto& i) {
      return i.second->endpoint_id == endpoint;
    });
    if (started) { // new queues of an input already flowing (a route change): no backlog order
      for (const auto* b : bindings) {
        attach(b, out);
      }
      continue;
    }
    // Of the priority queues of one input only the highest starts; the next follows when it
    // has drained its backlog, so a backlog arrives in priority order (IoT Edge: "restart from
    // the highest priority").
    attach(bindings.front(), out);
    o.waiting_inputs[endpoint].assign(bindings.begin() + 1, bindings.end());
  }
}

void hub_session::attach(const binding* b, actions& out) {
  // A queue waiting for its turn may have been attached since by a route change.
  if (ob().inputs.emplace(b->queue, b).second) {
    out.push_back(attach_action{b});
  }
}

void hub_session::on_drained(storage::queue_handle queue, actions& out) {
  if (!open_ || !out_) {
    return;
  }
  auto& o = *out_;
  auto i = o.inputs.find(queue);
  if (i == o.inputs.end()) {
    return;
  }
  auto w = o.waiting_inputs.find(i->second->endpoint_id);
  while (w != o.waiting_inputs.end() && !w->second.empty()) {
    const auto* next = w->second.front();
    w->second.pop_front();
    if (!o.inputs.count(next->queue)) {
      attach(next, out);
      break;
    }
  }
}

void hub_session::on_entries(storage::queue_handle queue,
                             std::vector<storage::stored_entry> entries, actions& out) {
  if (!open_ || !out_) {
    return; // not ours (any more): the mailbox redelivers once this session is gone
  }
  auto from = out_->inputs.find(queue);
  if (from == out_->inputs.end()) {
    return;
  }
  for (auto& e : entries) {
    deliver(from->second, std::move(e), out);
  }
}

void hub_session::deliver(const binding* from, storage::stored_entry e, actions& out) {
  auto& o = ob();
  if (o.inflight.size() >= settings_->max_inflight_out || !o.waiting_out.empty()) {
    o.waiting_out.push_back({from, std::move(e)}); // bounded by the mailboxes' windows
    return;
  }
  send(from, std::move(e), out);
}

void hub_session::send(const binding* from, storage::stored_entry e, actions& out,
                       std::uint32_t delivery_count) {
  auto msg = routing::decode(e.body);
  if (!msg) {
    observer_->dropped(drop_reason::undecodable, routing::message{});
    release(from, e.seq);
    return;
  }
  auto& o = ob();
  const auto token = o.next_token++;
  const auto enqueued_ms = e.enqueued_ms;
  auto& d = o.inflight.emplace(token, delivery{from, e.seq}).first->second;
  if (from->device_bound) {
    d.entry = std::move(e);
    d.delivery_count = delivery_count;
  }
  if (delivery_count == 0) {
    observer_->delivered(*msg, *from, enqueued_ms); // counted once, however often abandoned
  }
  out.push_back(deliver_action{token, from, std::move(*msg), enqueued_ms, delivery_count});
}

void hub_session::on_abandoned(std::uint64_t token, actions& out) {
  if (!out_) {
    return;
  }
  auto d = out_->inflight.find(token);
  if (d == out_->inflight.end() || !d->second.entry) {
    return on_delivered(token, out);
  }
  auto again = std::move(d->second);
  out_->inflight.erase(d);
  const auto count = again.delivery_count + 1;
  if (count >= settings_->max_c2d_deliveries) {
    auto msg = routing::decode(again.entry->body);
    observer_->dropped(drop_reason::max_delivery_count, msg ? *msg : routing::message{});
    release(again.mailbox, again.seq);
    return;
  }
  // Delivered again at once, ahead of what waits: IoT Hub puts an abandoned message back
  // where it was in the device's queue.
  send(again.mailbox, std::move(*again.entry), out, count);
}

void hub_session::on_delivered(std::uint64_t token, actions& out) {
  if (!out_) {
    return;
  }
  auto& o = *out_;
  auto d = o.inflight.find(token);
  if (d == o.inflight.end()) {
    return;
  }
  release(d->second.mailbox, d->second.seq);
  o.inflight.erase(d);
  while (open_ && !o.waiting_out.empty() && o.inflight.size() < settings_->max_inflight_out) {
    auto next = std::move(o.waiting_out.front());
    o.waiting_out.pop_front();
    send(next.mailbox, std::move(next.entry), out); // oldest first: never behind newer ones
  }
}

/// Collects the pass's finished entries per mailbox: one message per mailbox per burst.
void hub_session::release(const binding* mailbox, storage::sequence seq) {
  auto& releases = ob().releases;
  auto to = std::find_if(releases.begin(), releases.end(),
                         [&](const auto& r) { return r.first == mailbox; });
  if (to == releases.end()) {
    releases.emplace_back(mailbox, std::vector<storage::sequence>{});
    to = std::prev(releases.end());
  }
  to->second.push_back(seq);
}

// -- time and output -----------------------------------------------------------------------

void hub_session::on_output(std::size_t queued_bytes, std::int64_t now_ms, actions& out) {
  out_checked_at_ = now_ms;
  if (!out_full_) {
    if (queued_bytes < settings_->max_output_bytes) {
      out_queued_ = queued_bytes;
      return;
    }
    out_full_ = true;
    out_stuck_since_ = now_ms;
  } else if (queued_bytes <= settings_->max_output_bytes / 2) {
    out_full_ = false;
  } else if (queued_bytes < out_queued_) {
    out_stuck_since_ = now_ms; // draining, if slowly
  }
  out_queued_ = queued_bytes;
  if (out_full_ && open_ && now_ms - out_stuck_since_ >= settings_->output_stall_ms) {
    out.push_back(end_action{end_reason::output_stalled});
  }
}

void hub_session::on_tick(std::int64_t now_ms, actions& out) {
  if (!open_) {
    return;
  }
  if (retry_ && !retry_->requests.empty() && retry_->batch == 0 && now_ms >= retry_->at) {
    auto& r = *retry_;
    r.at = 0;
    r.batch = next_batch_++;
    stores_.emplace_back(r.batch, std::move(r.index));
    out.push_back(append_action{r.batch, std::move(r.requests)});
    r.requests.clear();
    r.index.clear();
  }
  // A token is valid through its `se` second (expired once `se` is in the past).
  if (expires_s_ > 0 && now_ms >= (expires_s_ + 1) * 1000) {
    expires_s_ = 0; // `set_expiry` again if the credentials still pass
    out.push_back(reauthenticate_action{});
  }
}

std::int64_t hub_session::next_deadline() const noexcept {
  auto next = std::numeric_limits<std::int64_t>::max();
  if (!open_) {
    return next;
  }
  if (retry_ && !retry_->requests.empty() && retry_->batch == 0) {
    next = std::min(next, retry_->at);
  }
  if (out_full_) {
    next = std::min(next, out_checked_at_ + settings_->output_check_ms);
  }
  if (expires_s_ > 0) {
    next = std::min(next, (expires_s_ + 1) * 1000);
  }
  return next;
}

bool hub_session::reading() noexcept {
  const auto pending = pending_in_.size();
  const auto limit = settings_->max_pending_in;
  paused_ = stalled() || out_full_ || pending >= limit || (paused_ && pending > limit / 2);
  return !paused_;
}

} // namespace outpost::hub
