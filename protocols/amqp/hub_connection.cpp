#include "protocols/amqp/hub_connection.hpp"

#include "protocols/amqp/detail/driver_io.hpp"
#include "protocols/amqp/frame_guard.hpp"
#include "protocols/amqp/message_decoder.hpp"
#include "protocols/amqp/message_map.hpp"

#include <algorithm>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/connection.h>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/delivery.h>
#include <proton/delivery.hpp>
#include <proton/duration.hpp>
#include <proton/error_condition.hpp>
#include <proton/event.h>
#include <proton/io/connection_driver.hpp>
#include <proton/link.h>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/object.h>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/sasl_plugin.h>
#include <proton/scalar.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/session.hpp>
#include <proton/source.hpp>
#include <proton/symbol.hpp>
#include <proton/target.hpp>
#include <proton/timestamp.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.h>
#include <proton/transport.hpp>
#include <proton/uuid.hpp>

namespace outpost::amqp {

namespace {

// Proton's C++ objects keep their C handles protected; the engine-level calls below (SASL
// plug-in, frame-level limits, link identity) need them. A member pointer taken through a
// derived class is the legal way in (GCC's aliasing warning does not apply: no object is
// accessed through the derived type).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-aliasing"
struct transport_access : proton::transport {
  static pn_transport_t* get(const proton::transport& t) {
    return (t.*(&transport_access::pn_object))();
  }
};
struct link_access : proton::link {
  static pn_link_t* get(const proton::link& l) { return (l.*(&link_access::pn_object))(); }
};
struct delivery_access : proton::delivery {
  static pn_delivery_t* get(const proton::delivery& d) {
    return (d.*(&delivery_access::pn_object))();
  }
};
/// A reference to a delivery the owner has yet to settle (what proton::delivery holds, without
/// its wrapper).
class held_delivery {
public:
  explicit held_delivery(pn_delivery_t* d) : d_(d) { pn_incref(d_); }
  held_delivery(held_delivery&& other) noexcept : d_(std::exchange(other.d_, nullptr)) {}
  held_delivery& operator=(held_delivery&&) = delete;
  held_delivery(const held_delivery&) = delete;
  ~held_delivery() {
    if (d_ != nullptr) {
      pn_decref(d_);
    }
  }
  pn_delivery_t* get() const noexcept { return d_; }

private:
  pn_delivery_t* d_;
};

struct connection_access : proton::connection {
  static pn_connection_t* get(const proton::connection& c) {
    return (c.*(&connection_access::pn_object))();
  }
};
#pragma GCC diagnostic pop

constexpr const char* unauthorized = "amqp:unauthorized-access";
constexpr const char* not_found = "amqp:not-found";
constexpr const char* not_implemented = "amqp:not-implemented";
constexpr const char* limit_exceeded = "amqp:resource-limit-exceeded";

std::string string_property(const proton::message& m, const std::string& name) {
  if (!m.properties().exists(name)) {
    return {};
  }
  const auto v = m.properties().get(name);
  if (v.type() == proton::STRING) {
    return proton::get<std::string>(v);
  }
  if (v.type() == proton::SYMBOL) {
    return proton::get<proton::symbol>(v);
  }
  return {};
}

/// An id in its string form (uuid canonical, ulong decimal, binary as is).
std::string id_string(const proton::message_id& id) {
  switch (id.type()) {
    case proton::UUID:
      return proton::get<proton::uuid>(id).str();
    case proton::ULONG:
      return std::to_string(proton::get<std::uint64_t>(id));
    case proton::BINARY: {
      const auto b = proton::get<proton::binary>(id);
      return std::string(b.begin(), b.end());
    }
    case proton::STRING:
      return proton::get<std::string>(id);
    default:
      return {};
  }
}

std::string body_string(const proton::message& m) {
  const auto& body = m.body();
  if (body.type() == proton::BINARY) {
    const auto b = proton::get<proton::binary>(body);
    return std::string(b.begin(), b.end());
  }
  if (body.type() == proton::STRING) {
    return proton::get<std::string>(body);
  }
  return {};
}

std::string annotation_string(const proton::message& m, const char* name) {
  const proton::annotation_key key{proton::symbol{name}};
  if (!m.message_annotations().exists(key)) {
    return {};
  }
  const auto v = m.message_annotations().get(key);
  if (v.type() == proton::STRING) {
    return proton::get<std::string>(v);
  }
  if (v.type() == proton::SYMBOL) {
    return proton::get<proton::symbol>(v);
  }
  return {};
}

/// What the hub sends on a client's receiving link at `kind`'s address, if anything.
std::optional<outbound> outbound_of(const link_address& a) {
  switch (a.kind) {
    case link_kind::events:
      return a.who.is_module() ? std::optional{outbound::inputs} : std::nullopt;
    case link_kind::devicebound:
      return outbound::c2d;
    case link_kind::twin:
      return outbound::twin;
    case link_kind::methods:
      return outbound::methods;
    default:
      return std::nullopt;
  }
}

std::string outbound_key(const iothub::client_identity& who, outbound kind) {
  return who.id() + '\n' + to_string(kind);
}

proton::message data_message(std::string body) {
  proton::message m;
  m.body(proton::binary(body));
  m.inferred(true); // a Data section (the SDKs read `body.content`)
  return m;
}

/// SASL PLAIN's user name: `<d>[/modules/<m>]@sas.<hub>` or the legacy `<d>@<hub>` (facts §4.1).
result<iothub::client_identity> plain_identity(std::string_view user) {
  const auto at = user.find('@');
  if (at == std::string_view::npos || at == 0) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  auto parsed = parse_link_address("/devices/" + std::string{user.substr(0, at)} + "/twin");
  if (!parsed) {
    return parsed.error();
  }
  return parsed->who;
}

} // namespace

class hub_connection::handler final : public proton::messaging_handler {
public:
  handler(connection_settings settings, authenticate_fn authenticate)
      : settings_(std::move(settings)),
        authenticate_(std::move(authenticate)),
        driver_(settings_.container_id),
        guard_(settings_.max_message_bytes) {
    proton::connection_options opts;
    opts.handler(*this)
        .sasl_enabled(true)
        .sasl_allow_insecure_mechs(true) // the transport below is TLS (ours); Proton cannot know
        .idle_timeout(proton::duration(settings_.idle_timeout_ms))
        .max_frame_size(settings_.max_frame_size)
        .max_sessions(static_cast<std::uint16_t>(std::min<std::size_t>(
            65535, std::max(settings_.max_sessions, settings_.edge_max_sessions))))
        .container_id(settings_.container_id);
    driver_.accept(opts);
    // Our SASL server: Debian's Proton has no Cyrus SASL, so PLAIN is checked here.
    pnx_sasl_set_implementation(transport_access::get(driver_.transport()), &sasl_impl, this);
  }

  // ---- feeding -------------------------------------------------------------------------------

  void feed(std::string_view bytes, std::int64_t now_ms) {
    now_ms_ = now_ms;
    if (guard_failed_) {
      return; // closing: nothing more is read
    }
    if (!guard_.scan(bytes)) {
      guard_failed_ = true;
      // The frames before the refused one still reach the engine: a peer that sent its
      // header and open in the same read gets a close that says why, not silence.
      push(bytes.substr(0, guard_.accepted()));
      close("amqp:invalid-field", guard_.why());
      return;
    }
    push(bytes);
    tick(now_ms);
  }

  /// Hands bytes to the engine, dispatching as it reads.
  void push(std::string_view bytes) {
    detail::feed_driver(
        driver_, bytes, finished_, [this] { dispatch(); }, [this] { check_message_sizes(); });
  }

  void disconnected() {
    if (!finished_) {
      driver_.disconnected(
          proton::error_condition("amqp:connection:framing-error", "socket closed"));
      dispatch();
    }
  }

  std::int64_t tick(std::int64_t now_ms) {
    now_ms_ = now_ms;
    expire_identities();
    const auto next = driver_.tick(proton::timestamp(now_ms));
    dispatch();
    return next.milliseconds();
  }

  void dispatch() {
    if (finished_) {
      return;
    }
    take_telemetry();
    if (!driver_.dispatch()) {
      finished_ = true;
    }
  }

  /// The hub's hot path: telemetry deliveries at the head of Proton's event queue are taken
  /// before its C++ layer sees them, read from the delivery and mapped by `message_decoder`.
  /// Proton's own path (its message decode, `from_amqp`, and the C++ wrappers around each
  /// delivery) cost more than the rest of a message's handling in the hub (issue 11's
  /// benchmark). Stops at the first event of another kind, which `driver_.dispatch()` then
  /// hands to the handlers in order with everything after it. `PN_TRANSPORT` events (output is
  /// pending) are dropped here as Proton's C++ layer drops them.
  void take_telemetry() {
    pn_collector_t* queue = pn_connection_collector(connection_access::get(driver_.connection()));
    while (pn_event_t* e = pn_collector_peek(queue)) {
      const auto type = pn_event_type(e);
      if (type != PN_TRANSPORT && (type != PN_DELIVERY || !take_delivery(pn_event_delivery(e)))) {
        return;
      }
      pn_collector_pop(queue);
    }
  }

  /// A whole delivery on an events link of an authenticated identity, taken (true); anything
  /// else is left to `on_message` (false).
  bool take_delivery(pn_delivery_t* d) {
    pn_link_t* l = pn_delivery_link(d);
    if (!pn_link_is_receiver(l) || pn_delivery_partial(d) || !pn_delivery_readable(d)
        || pn_delivery_aborted(d) || (pn_link_state(l) & PN_LOCAL_CLOSED) != 0
        || guard_.has_batches()) {
      return false;
    }
    const auto it = links_.find(l);
    if (it == links_.end() || it->second.kind != link_kind::events
        || !authenticated(it->second.who, now_ms_ / 1000)) {
      return false;
    }
    const auto n = pn_delivery_pending(d);
    if (n == 0) {
      return false;
    }
    wire_.resize(n);
    if (pn_link_recv(l, wire_.data(), n) != static_cast<ssize_t>(n)) {
      return false; // nothing read (the engine had less than it said): Proton's path decides
    }
    pn_link_advance(l);
    std::optional<routing::message> msg{std::in_place};
    if (message_decoder::decode(wire_, *msg) != message_decoder::status::ok) {
      msg = proton_mapping(wire_);
    }
    if (wire_.capacity() > keep_wire_bytes) {
      std::string{}.swap(wire_); // one large message does not pin its size per connection
    }
    if (!msg) {
      reject_now(d, "amqp:decode-error", "the message does not decode as IoT Hub takes it");
      return true;
    }
    const auto id = next_delivery_++;
    unsettled_.emplace(id, held_delivery{d});
    events_.push_back(telemetry_event{it->second.who, std::move(*msg), id});
    return true;
  }
  static constexpr std::size_t keep_wire_bytes = 16 * 1024;

  /// What `on_message` makes of a message the decoder leaves to Proton.
  static std::optional<routing::message> proton_mapping(const std::string& bytes) {
    try {
      proton::message m;
      m.decode(std::vector<char>(bytes.begin(), bytes.end()));
      if (auto out = from_amqp(m)) {
        return std::move(*out);
      }
    } catch (const std::exception&) {
      // not an AMQP message: refused below
    }
    return std::nullopt;
  }

  /// Rejects and settles a delivery the owner never saw, its credit given back.
  static void reject_now(pn_delivery_t* d, const char* condition, const char* why) {
    pn_disposition_t* local = pn_delivery_local(d);
    pn_condition_set_name(pn_disposition_condition(local), condition);
    pn_condition_set_description(pn_disposition_condition(local), why);
    pn_delivery_update(d, PN_REJECTED);
    pn_delivery_settle(d);
    pn_link_flow(pn_delivery_link(d), 1);
  }

  std::string take_output() {
    return_credit();
    auto out = detail::drain_driver(driver_, [this] { dispatch(); });
    if (guard_failed_ && !finished_) {
      // The peer broke the framing: once the close that says why is out, the connection ends
      // (no waiting for a close from a peer that already misbehaved).
      finished_ = true;
      events_.push_back(closed_event{"refused: " + guard_.why()});
    }
    return out;
  }

  bool finished() const { return finished_; }

  /// The engine threw: the connection is over (its owner closes the socket).
  void fail(const std::string& why) {
    finished_ = true;
    events_.push_back(closed_event{"engine failure: " + why});
  }

  void take_events(events& out) {
    for (auto& e : events_) {
      out.push_back(std::move(e));
    }
    events_.clear();
  }

  // ---- the owner's answers ------------------------------------------------------------------

  void settle(std::uint64_t id, outcome how, std::string why) {
    if (auto part = part_of_.empty() ? part_of_.end() : part_of_.find(id); part != part_of_.end()) {
      // One message of a batch: the delivery is settled with the last of them.
      id = part->second;
      part_of_.erase(part);
      auto& b = batches_[id];
      if (how != outcome::accepted && b.how == outcome::accepted) {
        b.how = how;
        b.why = std::move(why);
      }
      if (--b.left > 0) {
        return;
      }
      how = b.how;
      why = std::move(b.why);
      batches_.erase(id);
    }
    auto it = unsettled_.find(id);
    if (it == unsettled_.end()) {
      return; // its link closed meanwhile: the client sends it again
    }
    const auto d = std::move(it->second); // holds the delivery while it is settled
    unsettled_.erase(it);
    // Proton's C calls: its C++ delivery carries no condition on a rejection, and wrapping the
    // receiver costs a reference count round trip per message.
    pn_delivery_t* p = d.get();
    switch (how) {
      case outcome::accepted:
        pn_delivery_update(p, PN_ACCEPTED);
        break;
      case outcome::rejected: {
        pn_disposition_t* local = pn_delivery_local(p);
        pn_condition_set_name(pn_disposition_condition(local), "amqp:precondition-failed");
        pn_condition_set_description(pn_disposition_condition(local), why.c_str());
        pn_delivery_update(p, PN_REJECTED);
        break;
      }
      case outcome::released:
        pn_delivery_update(p, PN_RELEASED);
        break;
    }
    pn_delivery_settle(p);
    // The credit goes back with the pass's other settlements: one flow frame per link and
    // pass (take_output), not one per message.
    pn_link_t* l = pn_delivery_link(p);
    if ((pn_link_state(l) & PN_LOCAL_ACTIVE) != 0) {
      ++credit_due_[l];
    }
  }

  /// Gives the credit of this pass's settlements back, one flow per link.
  void return_credit() {
    for (const auto& [l, n] : credit_due_) {
      if (links_.count(l) != 0) {
        pn_link_flow(l, static_cast<int>(n));
      }
    }
    credit_due_.clear();
  }

  void close(const std::string& condition, const std::string& description) {
    auto c = driver_.connection();
    if (c.active() || !closing_) {
      closing_ = true;
      c.close(proton::error_condition(condition, description));
      dispatch();
    }
  }

  bool authenticated(const iothub::client_identity& who, std::int64_t now_s) const {
    auto it = identities_.find(who.id());
    return it != identities_.end() && (it->second.expires_s == 0 || it->second.expires_s > now_s);
  }

  // ---- Proton's callbacks --------------------------------------------------------------------

  void on_connection_open(proton::connection& c) override {
    if (!c.active()) {
      c.open();
    }
  }

  void on_session_open(proton::session& s) override {
    if (s.active()) {
      return;
    }
    s.open();
    // The channel-max advertised is a child edge's; other connections get fewer sessions.
    if (++sessions_ > (edge_ ? settings_.edge_max_sessions : settings_.max_sessions)) {
      s.close(proton::error_condition(limit_exceeded, "too many sessions on one connection"));
    }
  }

  void on_session_close(proton::session& s) override {
    if (sessions_ > 0) {
      --sessions_;
    }
    proton::messaging_handler::on_session_close(s);
  }

  void on_receiver_open(proton::receiver& r) override {
    // The client's sender: CBS requests or telemetry.
    if (r.active()) {
      return;
    }
    const auto address = r.target().address();
    auto parsed = parse_link_address(address);
    if (refuse_over_limit(r)) {
      return;
    }
    if (!parsed) {
      return refuse(r, not_found, "no IoT Hub entity at \"" + address + "\"");
    }
    switch (parsed->kind) {
      case link_kind::cbs:
        r.open(proton::receiver_options().auto_accept(true).credit_window(16));
        links_[link_access::get(r)] = {link_kind::cbs, {}, std::nullopt};
        return;
      case link_kind::events: {
        if (!admit(parsed->who)) {
          return refuse(r, unauthorized,
                        "Unable to open events link as the connection is not authenticated for "
                            + parsed->who.id() + " (put a token on $cbs first)");
        }
        r.open(proton::receiver_options().auto_accept(false).credit_window(0));
        r.add_credit(settings_.telemetry_credit);
        links_[link_access::get(r)] = {link_kind::events, parsed->who, std::nullopt};
        return;
      }
      case link_kind::service_devicebound: {
        if (!service_authenticated()) {
          return refuse(r, unauthorized,
                        "Unable to open the C2D sender link as the connection is not "
                        "authenticated with the service policy (put its token on $cbs first)");
        }
        r.open(proton::receiver_options().auto_accept(false).credit_window(0));
        r.add_credit(settings_.telemetry_credit);
        links_[link_access::get(r)] = {parsed->kind, {}, std::nullopt};
        return;
      }
      case link_kind::twin:
      case link_kind::methods: {
        if (!admit(parsed->who)) {
          return refuse(r, unauthorized,
                        std::string{"Unable to open "} + to_string(parsed->kind)
                            + " link as the connection is not authenticated for "
                            + parsed->who.id());
        }
        r.open(proton::receiver_options().auto_accept(true).credit_window(16));
        links_[link_access::get(r)] = {parsed->kind, parsed->who, std::nullopt};
        return;
      }
      default:
        return refuse(
            r, not_implemented,
            std::string{"sending to "} + to_string(parsed->kind) + " links is not served yet");
    }
  }

  void on_sender_open(proton::sender& s) override {
    // The client's receiver: CBS replies (others come with the next parts of the dialect).
    if (s.active()) {
      return;
    }
    const auto address = s.source().address();
    auto parsed = parse_link_address(address);
    if (refuse_over_limit(s)) {
      return;
    }
    if (!parsed) {
      return refuse(s, not_found, "no IoT Hub entity at \"" + address + "\"");
    }
    if (parsed->kind == link_kind::cbs) {
      s.open();
      cbs_reply_ = s;
      links_[link_access::get(s)] = {link_kind::cbs, {}, std::nullopt};
      flush_cbs_replies();
      return;
    }
    const auto kind = outbound_of(*parsed);
    if (!kind) {
      return refuse(
          s, not_implemented,
          std::string{"receiving from "} + to_string(parsed->kind) + " links is not served yet");
    }
    if (!admit(parsed->who)) {
      return refuse(s, unauthorized,
                    std::string{"Unable to open "} + to_string(*kind)
                        + " link as the connection is not authenticated for " + parsed->who.id());
    }
    const auto key = outbound_key(parsed->who, *kind);
    if (auto old = outbound_.find(key); old != outbound_.end()) {
      // One link per identity and kind: a second replaces the first.
      old->second.sender.close(
          proton::error_condition("amqp:link:stolen", "replaced by a newer link"));
      forget_outbound(link_access::get(old->second.sender), false);
    }
    s.open();
    links_[link_access::get(s)] = {parsed->kind, parsed->who, kind};
    outbound_[key] = outbound_link{s, parsed->who, *kind, {}};
    events_.push_back(link_event{parsed->who, *kind, true});
  }

  void on_sendable(proton::sender& s) override {
    if (cbs_reply_ && link_access::get(s) == link_access::get(cbs_reply_)) {
      flush_cbs_replies();
      return;
    }
    auto info = links_.find(link_access::get(s));
    if (info != links_.end() && info->second.out) {
      if (auto it = outbound_.find(outbound_key(info->second.who, *info->second.out));
          it != outbound_.end()) {
        flush(it->second);
      }
    }
  }

  void on_tracker_accept(proton::tracker& t) override { settled_by_client(t, outcome::accepted); }
  void on_tracker_reject(proton::tracker& t) override { settled_by_client(t, outcome::rejected); }
  void on_tracker_release(proton::tracker& t) override { settled_by_client(t, outcome::released); }
  void on_tracker_settle(proton::tracker& t) override { trackers_.erase(t); }

  // ---- the hub's sends -----------------------------------------------------------------------

  void enqueue(const iothub::client_identity& who, outbound kind, proton::message m,
               std::uint64_t token) {
    auto it = outbound_.find(outbound_key(who, kind));
    if (it == outbound_.end()) {
      return; // no such link (any more): the mailbox redelivers to the next one
    }
    it->second.queue.emplace_back(std::move(m), token);
    flush(it->second);
    dispatch();
  }

  void twin_response(const iothub::client_identity& who, const std::string& correlation, int status,
                     std::string body, std::int64_t version) {
    auto m = data_message(std::move(body));
    m.correlation_id(correlation);
    m.message_annotations().put(proton::symbol{"status"}, static_cast<std::int32_t>(status));
    if (version > 0) {
      m.message_annotations().put(proton::symbol{"version"}, version);
    }
    enqueue(who, outbound::twin, std::move(m), 0);
  }

  void desired_patch(const iothub::client_identity& who, std::string body) {
    enqueue(who, outbound::twin, data_message(std::move(body)), 0);
  }

  void method_request(const iothub::client_identity& who, const std::string& request_id,
                      const std::string& method, std::string payload) {
    auto m = data_message(std::move(payload));
    m.correlation_id(request_id);
    m.properties().put("IoThub-methodname", proton::scalar{method});
    enqueue(who, outbound::methods, std::move(m), 0);
  }

  bool listening(const iothub::client_identity& who, outbound kind) const {
    return outbound_.count(outbound_key(who, kind)) != 0;
  }

  void on_message(proton::delivery& d, proton::message& m) override {
    auto receiver = d.receiver();
    auto it = links_.find(link_access::get(receiver));
    if (it == links_.end()) {
      d.release();
      return;
    }
    if (it->second.kind == link_kind::cbs) {
      return put_token(m);
    }
    if (it->second.kind == link_kind::service_devicebound) {
      return c2d_send(d, m, receiver);
    }
    const auto who = it->second.who;
    if (it->second.kind == link_kind::twin) {
      events_.push_back(twin_request_event{who, annotation_string(m, "operation"),
                                           annotation_string(m, "resource"),
                                           id_string(m.correlation_id()), body_string(m)});
      return;
    }
    if (it->second.kind == link_kind::methods) {
      int status = 0;
      if (m.properties().exists("IoThub-status")) {
        const auto v = m.properties().get("IoThub-status");
        if (v.type() == proton::INT) {
          status = proton::get<std::int32_t>(v);
        } else if (v.type() == proton::LONG) {
          status = static_cast<int>(proton::get<std::int64_t>(v));
        }
      }
      events_.push_back(
          method_response_event{who, id_string(m.correlation_id()), status, body_string(m)});
      return;
    }
    if (!authenticated(who, now_ms_ / 1000)) {
      d.release();
      receiver.close(
          proton::error_condition(unauthorized, "the token of " + who.id() + " has expired"));
      return;
    }
    if (guard_.has_batches()) {
      const auto t = pn_delivery_tag(delivery_access::get(d));
      if (auto payload = guard_.take_batch(std::string_view{t.start, t.size})) {
        return telemetry_batch(d, who, *payload);
      }
    }
    auto msg = from_amqp(m);
    if (!msg) {
      d.reject();
      receiver.add_credit(1);
      return;
    }
    const auto id = next_delivery_++;
    unsettled_.emplace(id, held_delivery{delivery_access::get(d)});
    events_.push_back(telemetry_event{who, std::move(*msg), id});
  }

  /// A delivery in the batched format (frame_guard kept its payload, Proton could not): one
  /// telemetry event per message, and the delivery settled once all of them are (rejected if
  /// any was).
  void telemetry_batch(proton::delivery& d, const iothub::client_identity& who,
                       const std::string& payload) {
    auto msgs = from_amqp_batch(payload);
    if (!msgs) {
      const auto id = next_delivery_++;
      unsettled_.emplace(id, held_delivery{delivery_access::get(d)});
      settle(id, outcome::rejected, "a batched message that does not decode"); // credit back
      return;
    }
    const auto parent = next_delivery_++;
    unsettled_.emplace(parent, held_delivery{delivery_access::get(d)});
    batches_[parent] = batch_state{msgs->size(), outcome::accepted, {}};
    for (auto& msg : *msgs) {
      const auto id = next_delivery_++;
      part_of_[id] = parent;
      events_.push_back(telemetry_event{who, std::move(msg), id});
    }
  }

  void on_receiver_close(proton::receiver& r) override {
    forget_link(link_access::get(r));
    proton::messaging_handler::on_receiver_close(r);
  }

  void on_sender_close(proton::sender& s) override {
    if (cbs_reply_ && link_access::get(s) == link_access::get(cbs_reply_)) {
      cbs_reply_ = proton::sender{};
    }
    forget_outbound(link_access::get(s), true);
    forget_link(link_access::get(s));
    proton::messaging_handler::on_sender_close(s);
  }

  void on_connection_close(proton::connection& c) override {
    events_.push_back(closed_event{c.error().empty() ? "closed by the peer" : c.error().what()});
    proton::messaging_handler::on_connection_close(c);
  }

  void on_transport_error(proton::transport& t) override {
    events_.push_back(closed_event{t.error().what()});
  }

  void on_error(const proton::error_condition&) override {} // the close events above say it

  // ---- SASL (our plug-in's server side) ------------------------------------------------------

  /// PLAIN: `authcid` names the identity, `password` is its SAS token.
  bool sasl_plain(std::string_view authcid, const std::string& password) {
    auto who = plain_identity(authcid);
    if (!who) {
      return false;
    }
    const auto verdict = authenticate_(*who, password, {});
    if (!verdict.ok) {
      return false;
    }
    remember(*who, verdict, password, {});
    sasl_user_ = who->id();
    return true;
  }

  const std::string& sasl_user() const { return sasl_user_; }

  static const pnx_sasl_implementation sasl_impl;

private:
  struct identity_state {
    iothub::client_identity who;
    std::int64_t expires_s = 0;
    std::string credential; ///< the token (CBS, PLAIN) or "" (TLS client certificate)
    std::string chain;      ///< the put-token's auth-chain (a child edge's), or ""
  };
  struct link_info {
    link_kind kind = link_kind::cbs;
    iothub::client_identity who;
    std::optional<outbound> out; ///< the hub's sending links: what they carry
  };
  struct outbound_link {
    proton::sender sender;
    iothub::client_identity who;
    outbound kind = outbound::inputs;
    std::deque<std::pair<proton::message, std::uint64_t>> queue; ///< waiting for credit
  };

  std::size_t max_identities() const {
    return edge_ ? settings_.edge_max_identities : settings_.max_identities;
  }

  bool service_authenticated() const {
    return service_expires_s_ < 0 || service_expires_s_ > now_ms_ / 1000;
  }

  /// A service caller's C2D message: `to` names the device (`/devices/{d}/messages/devicebound`).
  void c2d_send(proton::delivery& d, const proton::message& m, proton::receiver& receiver) {
    if (!service_authenticated()) {
      d.release();
      receiver.close(proton::error_condition(unauthorized, "the service token has expired"));
      return;
    }
    auto target = parse_link_address(m.to());
    auto msg = from_amqp(m);
    if (!target || target->kind != link_kind::devicebound || !msg) {
      d.reject();
      receiver.add_credit(1);
      return;
    }
    const auto id = next_delivery_++;
    unsettled_.emplace(id, held_delivery{delivery_access::get(d)});
    events_.push_back(c2d_send_event{target->who.device_id, std::move(*msg), id});
  }

  /// Refuses `l` when the connection has as many links as it may hold (true then).
  template <class Link>
  bool refuse_over_limit(Link& l) {
    if (!l.session().active()) {
      // Its session was refused (over the session limit): so is every link in it.
      refuse(l, limit_exceeded, "too many sessions on one connection");
      return true;
    }
    if (links_.size() < (edge_ ? settings_.edge_max_links : settings_.max_links)) {
      return false;
    }
    refuse(l, limit_exceeded, "too many links on one connection");
    return true;
  }

  /// Attaches and at once detaches `l` with an error (AMQP's way to refuse a link).
  template <class Link>
  void refuse(Link& l, const char* condition, const std::string& why) {
    l.open();
    l.close(proton::error_condition(condition, why));
  }

  void flush(outbound_link& l) {
    while (!l.queue.empty() && l.sender.active() && l.sender.credit() > 0) {
      auto& [m, token] = l.queue.front();
      auto t = l.sender.send(m);
      if (token != 0) {
        trackers_[t] = {l.who, token};
      }
      l.queue.pop_front();
    }
  }

  void settled_by_client(proton::tracker& t, outcome how) {
    auto it = trackers_.find(t);
    if (it == trackers_.end()) {
      return;
    }
    events_.push_back(delivered_event{it->second.first, it->second.second, how});
    trackers_.erase(it);
  }

  /// The hub's sending link `l` is gone: its queue is dropped (the mailboxes redeliver what
  /// was not settled), the owner hears of it when `tell`.
  void forget_outbound(pn_link_t* l, bool tell) {
    for (auto it = outbound_.begin(); it != outbound_.end(); ++it) {
      if (link_access::get(it->second.sender) != l) {
        continue;
      }
      if (tell) {
        events_.push_back(link_event{it->second.who, it->second.kind, false});
      }
      for (auto t = trackers_.begin(); t != trackers_.end();) {
        t = link_access::get(t->first.sender()) == l ? trackers_.erase(t) : std::next(t);
      }
      outbound_.erase(it);
      return;
    }
  }

  void forget_link(pn_link_t* l) {
    links_.erase(l);
    credit_due_.erase(l);
    for (auto it = unsettled_.begin(); it != unsettled_.end();) {
      if (pn_delivery_link(it->second.get()) == l) {
        it = unsettled_.erase(it);
      } else {
        ++it;
      }
    }
  }

  void remember(const iothub::client_identity& who, const auth_verdict& verdict,
                std::string credential, std::string chain) {
    auto [it, fresh] = identities_.try_emplace(who.id());
    it->second = {who, verdict.expires_s, std::move(credential), std::move(chain)};
    events_.push_back(identity_event{who, verdict.expires_s, !fresh});
  }

  /// `who` may open links: authenticated on this connection, or (no token: the Node SDK with
  /// X.509 skips CBS) by the TLS client certificate.
  bool admit(const iothub::client_identity& who) {
    if (authenticated(who, now_ms_ / 1000)) {
      return true;
    }
    if (identities_.size() >= max_identities()) {
      return false;
    }
    const auto verdict = authenticate_(who, std::string{}, {});
    if (!verdict.ok) {
      return false;
    }
    remember(who, verdict, std::string{}, {});
    return true;
  }

  /// Closes every link of identity `id` with `amqp:unauthorized-access` and `why`.
  void close_links_of(const std::string& id, const std::string& why) {
    for (auto link = links_.begin(); link != links_.end();) {
      if (link->second.kind != link_kind::cbs && link->second.who.id() == id) {
        pn_link_t* l = link->first;
        ++link;
        pn_condition_set_name(pn_link_condition(l), unauthorized);
        pn_condition_set_description(pn_link_condition(l), why.c_str());
        pn_link_close(l);
      } else {
        ++link;
      }
    }
  }

public:
  /// The identities changed (removed, disabled, re-keyed; the service key rotated): every
  /// credential held is checked again, and those that no longer pass lose their links.
  void reauthenticate() {
    for (auto it = identities_.begin(); it != identities_.end();) {
      const auto verdict = authenticate_(it->second.who, it->second.credential, it->second.chain);
      if (verdict.ok) {
        it->second.expires_s = verdict.expires_s;
        ++it;
        continue;
      }
      const auto id = it->first;
      it = identities_.erase(it);
      close_links_of(id, id + " is no longer authorized: " + verdict.why);
      events_.push_back(revoked_event{id, verdict.why});
    }
    if (service_expires_s_ != 0 && !authenticate_({}, service_credential_, {}).ok) {
      service_expires_s_ = 0;
      for (auto link = links_.begin(); link != links_.end();) {
        pn_link_t* l = link->first;
        const bool service_link = link->second.kind == link_kind::service_devicebound;
        ++link;
        if (service_link) {
          pn_condition_set_name(pn_link_condition(l), unauthorized);
          pn_condition_set_description(pn_link_condition(l), "the service token was revoked");
          pn_link_close(l);
        }
      }
    }
    dispatch();
  }

private:
  /// CBS put-token (wire §3.3): answered on the `$cbs` reply link with the request's id as
  /// correlation id and `status-code`/`status-description`.
  void put_token(const proton::message& m) {
    int status = 200;
    std::string description = "OK";
    const auto operation = string_property(m, "operation");
    const auto name = string_property(m, "name");
    auto aud = parse_audience(name);
    if (operation != "put-token" || m.body().type() != proton::STRING) {
      status = 400;
      description = "expected operation put-token with the token as an amqp-value string";
    } else if (!aud) {
      status = 400;
      description = "bad audience \"" + name + "\"";
    } else if (identities_.size() >= max_identities()
               && identities_.find(aud->who.id()) == identities_.end()) {
      status = 403;
      description = "too many identities on one connection";
    } else {
      // A child edge vouches for an identity of its scope (authenticate_fn).
      auto chain = string_property(m, "com.microsoft:auth-chain");
      const auto verdict = authenticate_(aud->who, proton::get<std::string>(m.body()), chain);
      if (!verdict.ok) {
        status = 401;
        description = verdict.why;
      } else if (!aud->service()) {
        edge_ = edge_ || !chain.empty(); // a child edge: its limits (connection_settings)
        remember(aud->who, verdict, proton::get<std::string>(m.body()), std::move(chain));
      } else {
        service_expires_s_ = verdict.expires_s == 0 ? -1 : verdict.expires_s;
        service_credential_ = proton::get<std::string>(m.body());
      }
    }
    proton::message reply;
    reply.correlation_id(m.id());
    if (!m.reply_to().empty()) {
      reply.to(m.reply_to());
    }
    reply.properties().put("status-code", proton::scalar{static_cast<std::int32_t>(status)});
    reply.properties().put("status-description", proton::scalar{description});
    cbs_pending_.push_back(std::move(reply));
    flush_cbs_replies();
  }

  void flush_cbs_replies() {
    while (!cbs_pending_.empty() && cbs_reply_ && cbs_reply_.active() && cbs_reply_.credit() > 0) {
      cbs_reply_.send(cbs_pending_.front());
      cbs_pending_.pop_front();
    }
    // Bounded: a client that never attaches the reply link gets no more than a few answers.
    while (cbs_pending_.size() > 64) {
      cbs_pending_.pop_front();
    }
  }

  /// Identities whose token expired lose their links (IoT Hub detaches them; the SDK renews
  /// before that).
  void expire_identities() {
    const auto now_s = now_ms_ / 1000;
    for (auto it = identities_.begin(); it != identities_.end();) {
      if (it->second.expires_s == 0 || it->second.expires_s > now_s) {
        ++it;
        continue;
      }
      const auto id = it->first;
      it = identities_.erase(it);
      close_links_of(id, "the token of " + id + " has expired");
    }
  }

  /// A transfer still arriving may not grow past the message limit (Proton would buffer it
  /// whole): the connection is closed instead.
  void check_message_sizes() {
    pn_connection_t* c = connection_access::get(driver_.connection());
    for (pn_link_t* l = pn_link_head(c, 0); l != nullptr; l = pn_link_next(l, 0)) {
      pn_delivery_t* d = pn_link_current(l);
      if (d != nullptr && pn_link_is_receiver(l)
          && pn_delivery_pending(d) > settings_.max_message_bytes) {
        close("amqp:link:message-size-exceeded", "a message is larger than the hub takes");
        return;
      }
    }
  }

  connection_settings settings_;
  authenticate_fn authenticate_;
  proton::io::connection_driver driver_;
  std::int64_t now_ms_ = 0;
  std::int64_t service_expires_s_ = 0; ///< service policy token: 0 none, -1 no expiry
  std::string service_credential_;
  frame_guard guard_; ///< what Proton 0.37 must not see (frame_guard.hpp)
  bool guard_failed_ = false;
  bool finished_ = false;
  bool closing_ = false;
  bool edge_ = false;        ///< a child edge authenticated on behalf of its scope
  std::size_t sessions_ = 0; ///< sessions open at once
  events events_;
  std::unordered_map<std::string, identity_state> identities_;
  std::unordered_map<pn_link_t*, link_info> links_;
  std::unordered_map<std::uint64_t, held_delivery> unsettled_;
  std::string wire_; ///< the bytes of the delivery `take_delivery` reads
  struct batch_state {
    std::size_t left = 0; ///< messages of the batch not settled yet
    outcome how = outcome::accepted;
    std::string why;
  };
  std::unordered_map<std::uint64_t, batch_state> batches_;   ///< by the delivery's id
  std::unordered_map<std::uint64_t, std::uint64_t> part_of_; ///< a batch's message -> delivery
  std::unordered_map<pn_link_t*, std::uint32_t> credit_due_; ///< settled this pass, per link
  std::uint64_t next_delivery_ = 1;
  std::unordered_map<std::string, outbound_link> outbound_; ///< by identity and kind
  std::map<proton::tracker, std::pair<iothub::client_identity, std::uint64_t>> trackers_;
  proton::sender cbs_reply_;
  std::deque<proton::message> cbs_pending_;
  std::string sasl_user_; // Proton keeps the pointer given to pnx_sasl_set_succeeded
};

namespace {

hub_connection::handler* context_of(pn_transport_t* t) {
  return static_cast<hub_connection::handler*>(pnx_sasl_get_context(t));
}

void sasl_free(pn_transport_t*) {}

const char* sasl_mechanisms(pn_transport_t*) {
  return "ANONYMOUS MSSBCBS PLAIN";
}

bool sasl_init_server(pn_transport_t* t) {
  pnx_sasl_set_desired_state(t, SASL_POSTED_MECHANISMS);
  return true;
}

bool sasl_init_client(pn_transport_t*) {
  return false; // this plug-in serves; the upstream link's client side is Proton's own
}

void sasl_prepare_write(pn_transport_t*) {}

void sasl_process_init(pn_transport_t* t, const char* mechanism, const pn_bytes_t* recv) {
  const std::string_view mech{mechanism ? mechanism : ""};
  auto* h = context_of(t);
  if (mech == "ANONYMOUS" || mech == "MSSBCBS") {
    // Authentication follows per identity through CBS put-token (facts §4.1-4.2).
    pnx_sasl_set_succeeded(t, "anonymous", nullptr);
  } else if (mech == "PLAIN" && recv != nullptr && h != nullptr) {
    // authzid NUL authcid NUL password (RFC 4616).
    const std::string_view all{recv->start, recv->size};
    const auto first = all.find('\0');
    const auto second = first == std::string_view::npos ? first : all.find('\0', first + 1);
    if (second != std::string_view::npos
        && h->sasl_plain(all.substr(first + 1, second - first - 1),
                         std::string{all.substr(second + 1)})) {
      pnx_sasl_set_succeeded(t, h->sasl_user().c_str(), nullptr);
    } else {
      pnx_sasl_set_failed(t);
    }
  } else {
    pnx_sasl_set_failed(t);
  }
  pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}

void sasl_process_response(pn_transport_t*, const pn_bytes_t*) {}
bool sasl_process_mechanisms(pn_transport_t*, const char*) {
  return false;
}
void sasl_process_challenge(pn_transport_t*, const pn_bytes_t*) {}
void sasl_process_outcome(pn_transport_t*, const pn_bytes_t*) {}
bool sasl_can_encrypt(pn_transport_t*) {
  return false;
}
ssize_t sasl_max_encrypt_size(pn_transport_t*) {
  return 0;
}
ssize_t sasl_encode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
  return 0;
}
ssize_t sasl_decode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
  return 0;
}

} // namespace

const pnx_sasl_implementation hub_connection::handler::sasl_impl = {
    sasl_free,
    sasl_mechanisms,
    sasl_init_server,
    sasl_init_client,
    sasl_prepare_write,
    sasl_process_init,
    sasl_process_response,
    sasl_process_mechanisms,
    sasl_process_challenge,
    sasl_process_outcome,
    sasl_can_encrypt,
    sasl_max_encrypt_size,
    sasl_encode,
    sasl_decode,
};

hub_connection::hub_connection(connection_settings settings, authenticate_fn authenticate)
    : handler_(std::make_unique<handler>(std::move(settings), std::move(authenticate))) {}

hub_connection::~hub_connection() = default;

// Proton's C++ binding reports some engine failures by throwing (proton::error): every entry
// point turns them into the end of this connection, never into an exception for the owner.
template <class F>
void hub_connection::guarded(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    handler_->fail(e.what());
  }
}

void hub_connection::on_bytes(std::string_view bytes, std::int64_t now_ms, events& out) {
  guarded([&] {
    handler_->feed(bytes, now_ms);
    next_tick_ = handler_->tick(now_ms);
  });
  handler_->take_events(out);
}

void hub_connection::on_disconnected(events& out) {
  guarded([&] { handler_->disconnected(); });
  handler_->take_events(out);
}

void hub_connection::on_tick(std::int64_t now_ms, events& out) {
  guarded([&] { next_tick_ = handler_->tick(now_ms); });
  handler_->take_events(out);
}

const char* to_string(outbound k) noexcept {
  switch (k) {
    case outbound::inputs:
      return "inputs";
    case outbound::c2d:
      return "c2d";
    case outbound::twin:
      return "twin";
    case outbound::methods:
      return "methods";
  }
  return "unknown";
}

void hub_connection::deliver(const iothub::client_identity& who, outbound kind,
                             const routing::message& msg, std::uint64_t token,
                             std::uint32_t delivery_count) {
  guarded([&] {
    outbound_stamp stamp;
    stamp.sequence_number = token;
    stamp.delivery_count = delivery_count;
    handler_->enqueue(who, kind, to_amqp(msg, stamp), token);
  });
}

void hub_connection::twin_response(const iothub::client_identity& who,
                                   const std::string& correlation, int status, std::string body,
                                   std::int64_t version) {
  guarded([&] { handler_->twin_response(who, correlation, status, std::move(body), version); });
}

void hub_connection::desired_patch(const iothub::client_identity& who, std::string body) {
  guarded([&] { handler_->desired_patch(who, std::move(body)); });
}

void hub_connection::method_request(const iothub::client_identity& who,
                                    const std::string& request_id, const std::string& method,
                                    std::string payload) {
  guarded([&] { handler_->method_request(who, request_id, method, std::move(payload)); });
}

void hub_connection::reauthenticate(events& out) {
  guarded([&] { handler_->reauthenticate(); });
  handler_->take_events(out);
}

bool hub_connection::listening(const iothub::client_identity& who, outbound kind) const {
  return handler_->listening(who, kind);
}

void hub_connection::settle(std::uint64_t delivery, outcome how, const std::string& why) {
  guarded([&] { handler_->settle(delivery, how, why); });
}

void hub_connection::close(const std::string& condition, const std::string& description) {
  guarded([&] { handler_->close(condition, description); });
}

std::string hub_connection::take_output() {
  std::string out;
  guarded([&] { out = handler_->take_output(); });
  return out;
}

bool hub_connection::finished() const noexcept {
  return handler_->finished();
}

void hub_connection::take_events(events& out) {
  handler_->take_events(out);
}

bool hub_connection::authenticated(const iothub::client_identity& who, std::int64_t now_s) const {
  return handler_->authenticated(who, now_s);
}

} // namespace outpost::amqp
