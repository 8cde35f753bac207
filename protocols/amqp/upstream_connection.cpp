#include "protocols/amqp/upstream_connection.hpp"

#include "protocols/amqp/detail/driver_io.hpp"
#include "protocols/amqp/message_map.hpp"

#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <unordered_map>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/delivery.hpp>
#include <proton/delivery_mode.hpp>
#include <proton/duration.hpp>
#include <proton/error_condition.hpp>
#include <proton/io/connection_driver.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/receiver.hpp>
#include <proton/receiver_options.hpp>
#include <proton/scalar.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/session.hpp>
#include <proton/symbol.hpp>
#include <proton/target.hpp>
#include <proton/target_options.hpp>
#include <proton/timestamp.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>
#include <proton/uuid.hpp>
#include <proton/value.hpp>

namespace outpost::amqp {

namespace {

int int_property(const proton::message& m, const std::string& name) {
  if (!m.properties().exists(name)) {
    return 0;
  }
  const auto v = m.properties().get(name);
  switch (v.type()) {
    case proton::INT:
      return proton::get<std::int32_t>(v);
    case proton::LONG:
      return static_cast<int>(proton::get<std::int64_t>(v));
    case proton::UINT:
      return static_cast<int>(proton::get<std::uint32_t>(v));
    default:
      return 0;
  }
}

std::string text_property(const proton::message& m, const std::string& name) {
  if (!m.properties().exists(name)) {
    return {};
  }
  const auto v = m.properties().get(name);
  return v.type() == proton::STRING ? proton::get<std::string>(v) : std::string{};
}

std::string telemetry_address(const iothub::client_identity& who) {
  return who.is_module()
             ? "/devices/" + who.device_id + "/modules/" + who.module_id + "/messages/events"
             : "/devices/" + who.device_id + "/messages/events";
}

} // namespace

class upstream_connection::handler final
    : public detail::client_driver<upstream_connection::handler, up::events> {
public:
  explicit handler(upstream_settings settings)
      : client_driver(settings.container_id, "parent"),
        settings_(std::move(settings)) {}

  void start(std::int64_t now_ms) {
    now_ms_ = now_ms;
    proton::connection_options opts;
    opts.handler(*this)
        .sasl_enabled(false) // IoT Hub's SAS clients send the plain AMQP header (wire §3.1)
        .idle_timeout(proton::duration(settings_.idle_timeout_ms))
        .max_frame_size(settings_.max_frame_size)
        .container_id(settings_.container_id)
        .virtual_host(settings_.hostname);
    driver_.connect(opts);
    dispatch();
  }

  // ---- the owner's calls ---------------------------------------------------------------------

  bool put_token(const iothub::client_identity& who, const std::string& audience,
                 const std::string& token, const std::string& auth_chain) {
    if (finished_ || cbs_waiting_.size() >= settings_.max_pending_tokens) {
      return false;
    }
    proton::message m;
    const auto id = "put-" + std::to_string(next_request_++);
    m.id(id);
    m.to("$cbs");
    m.reply_to("cbs");
    m.properties().put("operation", proton::scalar{std::string{"put-token"}});
    m.properties().put("type", proton::scalar{std::string{"servicebus.windows.net:sastoken"}});
    m.properties().put("name", proton::scalar{audience});
    if (!auth_chain.empty()) {
      m.properties().put("com.microsoft:auth-chain", proton::scalar{auth_chain});
    }
    m.body(token);
    cbs_waiting_[id] = who;
    identities_.try_emplace(who.id()).first->second.who = who;
    cbs_queue_.push_back(std::move(m));
    flush_cbs();
    return true;
  }

  void send(const iothub::client_identity& who, const routing::message& msg, std::uint64_t token) {
    auto& st = identities_.try_emplace(who.id()).first->second;
    st.who = who;
    if (finished_) {
      events_.push_back(up::settled{token, up::settled::how::released, "not connected"});
      return;
    }
    st.queue.emplace_back(to_amqp_telemetry(msg), token);
    ++in_flight_;
    flush(st);
  }

  std::size_t in_flight() const { return in_flight_; }

  bool authorized(const iothub::client_identity& who) const {
    auto it = identities_.find(who.id());
    return it != identities_.end() && it->second.authorized;
  }

  void close(const std::string& why) {
    auto c = driver_.connection();
    if (!closing_) {
      closing_ = true;
      c.close(proton::error_condition("amqp:connection:forced", why));
      dispatch();
    }
  }

  // ---- Proton's callbacks --------------------------------------------------------------------

  void on_connection_open(proton::connection& c) override {
    cbs_out_ = c.open_sender("$cbs");
    cbs_in_ = c.open_receiver("$cbs", proton::receiver_options().credit_window(64));
  }

  void on_receiver_open(proton::receiver& r) override {
    if (r == cbs_in_ && !opened_) {
      opened_ = true;
      events_.push_back(up::opened{});
    }
  }

  void on_sendable(proton::sender& s) override {
    if (s == cbs_out_) {
      flush_cbs();
      return;
    }
    auto it = by_link_.find(s);
    if (it != by_link_.end()) {
      if (auto st = identities_.find(it->second); st != identities_.end()) {
        flush(st->second);
      }
      return;
    }
    for (auto& [id, st] : identities_) {
      if (st.methods_out == s) {
        flush_answers(st);
      } else if (st.twin_out == s) {
        flush_twin(st);
      }
    }
  }

  void twin_request(const iothub::client_identity& who, const std::string& op,
                    const std::string& correlation, const std::string& body) {
    auto& st = identities_.try_emplace(who.id()).first->second;
    st.who = who;
    proton::message m;
    m.correlation_id(correlation);
    m.message_annotations().put(proton::symbol{"operation"}, proton::value{op});
    if (op == "PATCH") {
      m.message_annotations().put(proton::symbol{"resource"},
                                  proton::value{std::string{"/properties/reported"}});
    } else if (op == "PUT" || op == "DELETE") {
      m.message_annotations().put(
          proton::symbol{"resource"},
          proton::value{std::string{"/notifications/twin/properties/desired"}});
    }
    m.body(proton::binary(body));
    m.inferred(true);
    if (st.twin_queue.size() < max_twin_queue) {
      st.twin_queue.push_back(std::move(m));
    }
    flush_twin(st);
  }

  // ---- what the parent sends (cloud-to-device, methods) --------------------------------------

  void listen(const iothub::client_identity& who) {
    auto& st = identities_.try_emplace(who.id()).first->second;
    st.who = who;
    st.listen = true;
    open_listening(st);
  }

  void unlisten(const iothub::client_identity& who) {
    auto it = identities_.find(who.id());
    if (it == identities_.end()) {
      return;
    }
    auto& st = it->second;
    st.listen = false;
    if (st.c2d) {
      for (auto d = c2d_unsettled_.begin(); d != c2d_unsettled_.end();) {
        if (d->second.receiver() == st.c2d) {
          d->second.release();
          d = c2d_unsettled_.erase(d);
        } else {
          ++d;
        }
      }
      receivers_.erase(st.c2d);
      st.c2d.close();
      st.c2d = proton::receiver{};
    }
    if (st.methods_in) {
      receivers_.erase(st.methods_in);
      st.methods_in.close();
      st.methods_in = proton::receiver{};
    }
    if (st.methods_out) {
      st.methods_out.close();
      st.methods_out = proton::sender{};
    }
    st.calls.clear();
    st.answers.clear();
  }

  void settle_c2d(std::uint64_t id, up::settled::how how) {
    auto it = c2d_unsettled_.find(id);
    if (it == c2d_unsettled_.end()) {
      return;
    }
    auto d = it->second;
    c2d_unsettled_.erase(it);
    switch (how) {
      case up::settled::how::accepted:
        d.accept();
        break;
      case up::settled::how::rejected:
        d.reject();
        break;
      case up::settled::how::released:
        d.release();
        break;
    }
    auto r = d.receiver();
    if (r.active()) {
      r.add_credit(1);
    }
  }

  void method_response(const iothub::client_identity& who, const std::string& request_id,
                       int status, const std::string& payload) {
    auto it = identities_.find(who.id());
    if (it == identities_.end()) {
      return;
    }
    auto& st = it->second;
    auto call = st.calls.find(request_id);
    if (call == st.calls.end()) {
      return;
    }
    proton::message m;
    m.correlation_id(call->second);
    st.calls.erase(call);
    m.properties().put("IoThub-status", proton::scalar{static_cast<std::int32_t>(status)});
    m.body(proton::binary(payload));
    m.inferred(true);
    st.answers.push_back(std::move(m));
    flush_answers(st);
  }

  void from_parent(proton::delivery& d, proton::message& m, proton::receiver& r,
                   const std::string& id) {
    auto st = identities_.find(id);
    if (st == identities_.end()) {
      d.release();
      return;
    }
    if (r == st->second.twin_in) {
      // A response carries the request's correlation id; a desired push has none.
      std::string body;
      if (m.body().type() == proton::BINARY) {
        const auto b = proton::get<proton::binary>(m.body());
        body.assign(b.begin(), b.end());
      } else if (m.body().type() == proton::STRING) {
        body = proton::get<std::string>(m.body());
      }
      const auto corr = m.correlation_id();
      if (corr.type() == proton::STRING) {
        int status = 0;
        const proton::annotation_key key{proton::symbol{"status"}};
        if (m.message_annotations().exists(key)) {
          const auto v = m.message_annotations().get(key);
          status = v.type() == proton::INT    ? proton::get<std::int32_t>(v)
                   : v.type() == proton::LONG ? static_cast<int>(proton::get<std::int64_t>(v))
                                              : 0;
        }
        events_.push_back(up::twin_response{id, proton::get<std::string>(corr), status, body});
      } else {
        events_.push_back(up::desired_patch{id, body});
      }
      return;
    }
    if (r == st->second.c2d) {
      auto msg = from_amqp(m);
      if (!msg) {
        d.reject();
        r.add_credit(1);
        return;
      }
      const auto token = next_c2d_++;
      c2d_unsettled_.emplace(token, d);
      events_.push_back(up::c2d_message{id, std::move(*msg), token});
      return;
    }
    // A method call: correlation-id is the request id, the method name an application property.
    const auto corr = m.correlation_id();
    std::string request_id;
    switch (corr.type()) {
      case proton::STRING:
        request_id = proton::get<std::string>(corr);
        break;
      case proton::UUID:
        request_id = proton::get<proton::uuid>(corr).str();
        break;
      case proton::ULONG:
        request_id = std::to_string(proton::get<std::uint64_t>(corr));
        break;
      default:
        return; // not a method call we can answer
    }
    if (st->second.calls.size() >= max_calls) {
      return; // the parent times it out: nothing is held for it here
    }
    st->second.calls[request_id] = corr;
    const auto body = m.body();
    std::string payload;
    if (body.type() == proton::BINARY) {
      const auto b = proton::get<proton::binary>(body);
      payload.assign(b.begin(), b.end());
    } else if (body.type() == proton::STRING) {
      payload = proton::get<std::string>(body);
    }
    events_.push_back(
        up::method_request{id, request_id, text_property(m, "IoThub-methodname"), payload});
  }

  void on_message(proton::delivery& d, proton::message& m) override {
    auto r = d.receiver();
    if (auto it = receivers_.find(r); it != receivers_.end()) {
      return from_parent(d, m, r, it->second);
    }
    // A put-token answer on `$cbs` (wire §3.3): correlation-id = the request's message-id.
    const auto corr = m.correlation_id();
    if (corr.type() != proton::STRING) {
      return;
    }
    auto it = cbs_waiting_.find(proton::get<std::string>(corr));
    if (it == cbs_waiting_.end()) {
      return;
    }
    const auto who = it->second;
    cbs_waiting_.erase(it);
    const int status = int_property(m, "status-code");
    auto& st = identities_[who.id()];
    st.who = who;
    if (status == 200) {
      st.authorized = true;
      if (!st.sender) {
        open_link(st);
      }
      open_listening(st);
      flush_twin(st);
    } else {
      st.authorized = false;
    }
    events_.push_back(up::token_answered{who.id(), status, text_property(m, "status-description")});
  }

  void on_tracker_accept(proton::tracker& t) override {
    settled_by_parent(t, up::settled::how::accepted);
  }
  void on_tracker_reject(proton::tracker& t) override {
    settled_by_parent(t, up::settled::how::rejected);
  }
  void on_tracker_release(proton::tracker& t) override {
    settled_by_parent(t, up::settled::how::released);
  }
  void on_tracker_settle(proton::tracker& t) override {
    // Settled without an outcome we know (e.g. modified): try again later.
    settled_by_parent(t, up::settled::how::released);
  }

  void on_sender_close(proton::sender& s) override {
    auto it = by_link_.find(s);
    if (it != by_link_.end()) {
      const auto id = it->second;
      by_link_.erase(it);
      const auto why = s.error().empty() ? std::string{"closed by the parent"} : s.error().what();
      if (auto st = identities_.find(id); st != identities_.end()) {
        st->second.sender = proton::sender{};
        st->second.authorized = false;
        release_link(st->second, why);
      }
      events_.push_back(up::link_closed{id, why});
    }
    proton::messaging_handler::on_sender_close(s);
  }

  void on_receiver_close(proton::receiver& r) override {
    auto it = receivers_.find(r);
    if (it != receivers_.end()) {
      const auto id = it->second;
      receivers_.erase(it);
      if (auto st = identities_.find(id); st != identities_.end()) {
        if (st->second.c2d == r) {
          st->second.c2d = proton::receiver{};
        } else if (st->second.twin_in == r) {
          st->second.twin_in = proton::receiver{};
          st->second.twin_out = proton::sender{};
        } else {
          st->second.methods_in = proton::receiver{};
          st->second.methods_out = proton::sender{};
          st->second.calls.clear();
        }
      }
      for (auto d = c2d_unsettled_.begin(); d != c2d_unsettled_.end();) {
        d = d->second.receiver() == r ? c2d_unsettled_.erase(d) : std::next(d);
      }
    }
    proton::messaging_handler::on_receiver_close(r);
  }

  void on_connection_close(proton::connection& c) override {
    end(c.error().empty() ? "closed by the parent" : c.error().what());
    proton::messaging_handler::on_connection_close(c);
  }
  void on_transport_error(proton::transport& t) override { end(t.error().what()); }
  void on_error(const proton::error_condition&) override {} // the close events say it

private:
  struct identity_state {
    iothub::client_identity who;
    bool authorized = false;
    bool listen = false; ///< methods (and C2D for a device) wanted
    proton::session session;
    proton::sender sender;
    proton::receiver c2d;
    proton::receiver methods_in;
    proton::sender methods_out;
    std::deque<std::pair<proton::message, std::uint64_t>> queue; ///< waiting for credit
    std::deque<proton::message> answers;                         ///< method responses waiting
    std::unordered_map<std::string, proton::message_id> calls;   ///< request id -> its id
    proton::receiver twin_in;
    proton::sender twin_out;
    std::deque<proton::message> twin_queue; ///< twin requests waiting for the link or credit
  };

  proton::session session_of(identity_state& st) {
    // One session per identity (facts §7.1: each cloud proxy has its own session and links).
    if (!st.session) {
      st.session = driver_.connection().open_session();
    }
    return st.session;
  }

  static std::string prefix_of(const iothub::client_identity& who) {
    return who.is_module() ? "/devices/" + who.device_id + "/modules/" + who.module_id
                           : "/devices/" + who.device_id;
  }

  /// The receiving links `listen` asked for, once the identity may open links.
  void open_listening(identity_state& st) {
    if (!st.listen || !st.authorized) {
      return;
    }
    auto session = session_of(st);
    const auto base = prefix_of(st.who);
    if (!st.who.is_module() && !st.c2d) {
      st.c2d =
          session.open_receiver(base + "/messages/devicebound",
                                proton::receiver_options().credit_window(0).auto_accept(false));
      st.c2d.add_credit(c2d_credit);
      receivers_[st.c2d] = st.who.id();
    }
    if (!st.methods_in) {
      // The SDKs pair the two method links with one channel correlation id (wire §3.2).
      const std::map<proton::symbol, proton::value> props{
          {proton::symbol{"com.microsoft:channel-correlation-id"},
           proton::value{"methods:" + st.who.id()}},
          {proton::symbol{"com.microsoft:api-version"}, proton::value{std::string{"2021-04-12"}}}};
      const auto address = base + "/methods/devicebound";
      st.methods_in = session.open_receiver(
          address, proton::receiver_options().credit_window(16).properties(props));
      st.methods_out =
          session.open_sender(address, proton::sender_options().properties(props).target(
                                           proton::target_options().address(address)));
      receivers_[st.methods_in] = st.who.id();
    }
  }

  void open_twin(identity_state& st) {
    if (!st.authorized || st.twin_out || st.twin_queue.empty()) {
      return;
    }
    auto session = session_of(st);
    const auto address = prefix_of(st.who) + "/twin";
    const std::map<proton::symbol, proton::value> props{
        {proton::symbol{"com.microsoft:channel-correlation-id"},
         proton::value{"twin:" + st.who.id()}},
        {proton::symbol{"com.microsoft:api-version"}, proton::value{std::string{"2021-04-12"}}}};
    st.twin_in = session.open_receiver(
        address, proton::receiver_options().credit_window(16).properties(props));
    st.twin_out =
        session.open_sender(address, proton::sender_options()
                                         .properties(props)
                                         .delivery_mode(proton::delivery_mode::AT_MOST_ONCE)
                                         .target(proton::target_options().address(address)));
    receivers_[st.twin_in] = st.who.id();
  }

  void flush_twin(identity_state& st) {
    open_twin(st);
    while (!st.twin_queue.empty() && st.twin_out && st.twin_out.active()
           && st.twin_out.credit() > 0) {
      st.twin_out.send(st.twin_queue.front());
      st.twin_queue.pop_front();
    }
  }

  void flush_answers(identity_state& st) {
    while (!st.answers.empty() && st.methods_out && st.methods_out.active()
           && st.methods_out.credit() > 0) {
      st.methods_out.send(st.answers.front());
      st.answers.pop_front();
    }
  }

  void open_link(identity_state& st) {
    auto session = session_of(st);
    st.sender =
        session.open_sender(telemetry_address(st.who),
                            proton::sender_options().auto_settle(true).target(
                                proton::target_options().address(telemetry_address(st.who))));
    by_link_[st.sender] = st.who.id();
  }

  void flush(identity_state& st) {
    while (!st.queue.empty() && st.authorized && st.sender && st.sender.active()
           && st.sender.credit() > 0) {
      auto& [m, token] = st.queue.front();
      trackers_[st.sender.send(m)] = {token, st.who.id()};
      st.queue.pop_front();
    }
  }

  void flush_cbs() {
    while (!cbs_queue_.empty() && cbs_out_ && cbs_out_.active() && cbs_out_.credit() > 0) {
      cbs_out_.send(cbs_queue_.front());
      cbs_queue_.pop_front();
    }
  }

  void settled_by_parent(proton::tracker& t, up::settled::how how) {
    auto it = trackers_.find(t);
    if (it == trackers_.end()) {
      return;
    }
    events_.push_back(up::settled{it->second.first, how, {}});
    trackers_.erase(it);
    --in_flight_;
  }

  /// `st`'s link is gone: what it had queued or in flight comes back released.
  void release_link(identity_state& st, const std::string& why) {
    for (auto& [m, token] : st.queue) {
      events_.push_back(up::settled{token, up::settled::how::released, why});
      --in_flight_;
    }
    st.queue.clear();
    for (auto it = trackers_.begin(); it != trackers_.end();) {
      if (it->second.second == st.who.id()) {
        events_.push_back(up::settled{it->second.first, up::settled::how::released, why});
        --in_flight_;
        it = trackers_.erase(it);
      } else {
        ++it;
      }
    }
  }

  /// The connection is over: everything not settled comes back released, once.
  void end(const std::string& why) {
    if (ended_) {
      finished_ = true;
      return;
    }
    ended_ = true;
    finished_ = true;
    for (auto& [id, st] : identities_) {
      for (auto& [m, token] : st.queue) {
        events_.push_back(up::settled{token, up::settled::how::released, why});
      }
      st.queue.clear();
      st.authorized = false;
    }
    for (auto& [t, sent] : trackers_) {
      events_.push_back(up::settled{sent.first, up::settled::how::released, why});
    }
    trackers_.clear();
    in_flight_ = 0;
    c2d_unsettled_.clear(); // the parent sends them again to the next connection
    events_.push_back(up::closed{why});
  }

  friend class detail::client_driver<upstream_connection::handler, up::events>;

  upstream_settings settings_;
  bool ended_ = false;
  bool closing_ = false;
  bool opened_ = false;
  proton::sender cbs_out_;
  proton::receiver cbs_in_;
  std::deque<proton::message> cbs_queue_;
  std::unordered_map<std::string, iothub::client_identity> cbs_waiting_; ///< by request id
  std::uint64_t next_request_ = 1;
  std::unordered_map<std::string, identity_state> identities_;
  std::map<proton::sender, std::string> by_link_;
  std::map<proton::receiver, std::string> receivers_; ///< C2D and method links, by identity
  std::unordered_map<std::uint64_t, proton::delivery> c2d_unsettled_;
  std::uint64_t next_c2d_ = 1;
  static constexpr std::uint32_t c2d_credit = 16;
  static constexpr std::size_t max_calls = 64;      ///< method calls in flight per identity
  static constexpr std::size_t max_twin_queue = 64; ///< twin requests waiting per identity
  std::map<proton::tracker, std::pair<std::uint64_t, std::string>> trackers_; ///< token, id
  std::size_t in_flight_ = 0;
};

upstream_connection::upstream_connection(upstream_settings settings)
    : handler_(std::make_unique<handler>(std::move(settings))) {}

upstream_connection::~upstream_connection() = default;

// Proton's C++ binding reports some engine failures by throwing: they end the connection.
template <class F>
void upstream_connection::guarded(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    handler_->fail(e.what());
  }
}

void upstream_connection::start(std::int64_t now_ms) {
  guarded([&] {
    handler_->start(now_ms);
    next_tick_ = handler_->tick(now_ms);
  });
}

void upstream_connection::on_bytes(std::string_view bytes, std::int64_t now_ms, up::events& out) {
  guarded([&] {
    handler_->feed(bytes);
    next_tick_ = handler_->tick(now_ms);
  });
  handler_->take_events(out);
}

void upstream_connection::on_disconnected(up::events& out) {
  guarded([&] { handler_->disconnected(); });
  handler_->take_events(out);
}

void upstream_connection::on_tick(std::int64_t now_ms, up::events& out) {
  guarded([&] { next_tick_ = handler_->tick(now_ms); });
  handler_->take_events(out);
}

bool upstream_connection::put_token(const iothub::client_identity& who, const std::string& audience,
                                    const std::string& token, const std::string& auth_chain) {
  bool ok = false;
  guarded([&] { ok = handler_->put_token(who, audience, token, auth_chain); });
  return ok;
}

void upstream_connection::send(const iothub::client_identity& who, const routing::message& msg,
                               std::uint64_t token) {
  guarded([&] { handler_->send(who, msg, token); });
}

void upstream_connection::listen(const iothub::client_identity& who) {
  guarded([&] { handler_->listen(who); });
}

void upstream_connection::twin_request(const iothub::client_identity& who, const std::string& op,
                                       const std::string& correlation, const std::string& body) {
  guarded([&] { handler_->twin_request(who, op, correlation, body); });
}

void upstream_connection::unlisten(const iothub::client_identity& who) {
  guarded([&] { handler_->unlisten(who); });
}

void upstream_connection::settle_c2d(std::uint64_t delivery, up::settled::how outcome) {
  guarded([&] { handler_->settle_c2d(delivery, outcome); });
}

void upstream_connection::method_response(const iothub::client_identity& who,
                                          const std::string& request_id, int status,
                                          const std::string& payload) {
  guarded([&] { handler_->method_response(who, request_id, status, payload); });
}

std::size_t upstream_connection::in_flight() const noexcept {
  return handler_->in_flight();
}

bool upstream_connection::authorized(const iothub::client_identity& who) const {
  return handler_->authorized(who);
}

void upstream_connection::close(const std::string& why) {
  guarded([&] { handler_->close(why); });
}

std::string upstream_connection::take_output() {
  std::string out;
  guarded([&] { out = handler_->take_output(); });
  return out;
}

void upstream_connection::take_events(up::events& out) {
  handler_->take_events(out);
}

bool upstream_connection::finished() const noexcept {
  return handler_->finished();
}

} // namespace outpost::amqp
