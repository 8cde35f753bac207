#include "actors/hub/upstream_link.hpp"

#include "actors/common/messages.hpp"
#include "actors/hub/c2d_interface.hpp"
#include "actors/hub/drain_set.hpp"
#include "actors/hub/hub_metrics.hpp"
#include "actors/hub/hub_routes.hpp"
#include "actors/hub/link_socket.hpp"
#include "actors/hub/method_interface.hpp"
#include "actors/hub/twin_interface.hpp"
#include "protocols/amqp/upstream_connection.hpp"
#include "protocols/iothub/sas.hpp"
#include "protocols/iothub/twin.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/stream_client.hpp"
#include "protocols/transport/websocket_client_codec.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <random>
#include <set>
#include <unordered_map>

namespace outpost::actors {

namespace {

using up_token_atom = caf::atom_constant<caf::atom("uptoken")>;

/// A refused token is tried again after this (the parent's registry may catch up: the scope
/// sync registers this edge's modules there).
constexpr std::chrono::seconds token_retry{5};

enum class link_state { disconnected, trying, connected };

const char* to_string(link_state s) {
  switch (s) {
    case link_state::connected:
      return "connected";
    case link_state::trying:
      return "trying";
    default:
      return "disconnected";
  }
}

struct upstream_state {
  std::shared_ptr<const hub_services> hub;
  upstream_link_config cfg;
  std::unique_ptr<transport::stream_client> client;
  std::optional<amqp::upstream_connection> proto;
  std::optional<transport::websocket_client_codec> ws; ///< amqpws: the framing under `proto`
  std::uint64_t gen = 0;
  link_state state = link_state::disconnected;
  bool opened = false; ///< the AMQP connection is open on this generation
  int attempt = 0;
  std::int64_t offline_since_ms = 0; ///< 0 = online (or never online yet)
  std::string last_error;
  std::optional<drain_set> drain; ///< the `$upstream` queues of the current routes
  std::uint64_t next_token = 1;   ///< twin request correlation ids
  std::unordered_map<std::string, std::int64_t> token_expiry; ///< s, per identity, this link
  std::set<std::string> listening; ///< identities whose calls this link receives
  std::set<std::string> here;      ///< clients connected to this edge now (the directory says)
  nlohmann::json deploy_agent;     ///< the parent's `$edgeAgent` desired properties for this edge
  nlohmann::json deploy_hub;       ///< and `$edgeHub`'s
  std::string deployed;            ///< the manifest last handed to the deployment source
  std::string agent_reported_sent; ///< the `$edgeAgent` reported properties last sent up
  std::int64_t tick_at = 0;
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "upstream_link";
};

using upstream_actor = caf::stateful_actor<upstream_state>;

std::int64_t now_ms(upstream_actor* self) {
  return self->state.hub->now_ms();
}

void set_state(upstream_actor* self, link_state s, const std::string& error = {}) {
  auto& st = self->state;
  if (!error.empty()) {
    st.last_error = error;
  }
  if (s == st.state && error.empty()) {
    return;
  }
  const auto was = st.state;
  st.state = s;
  const auto now = now_ms(self);
  const prometheus::Labels id{{"id", st.cfg.device_id + "/$edgeHub"}};
  if (s == link_state::connected) {
    if (st.offline_since_ms != 0) {
      st.hub->metrics->offline_duration.add(id).observe(
          static_cast<double>(now - st.offline_since_ms) / 1000.0);
    }
    st.offline_since_ms = 0;
    st.hub->metrics->upstream_connected.Set(1);
  } else if (was == link_state::connected) {
    st.offline_since_ms = now;
    st.hub->metrics->offline_count.Add(id).Increment();
    st.hub->metrics->upstream_connected.Set(0);
  } else if (st.offline_since_ms == 0) {
    st.offline_since_ms = now;
  }
  if (st.cfg.on_state) {
    st.cfg.on_state(to_string(s), st.last_error);
  }
}

/// The identity a stored message came from: the hub stamped it when it took the message.
std::optional<iothub::client_identity> sender_of(const routing::message& m) {
  auto d = m.get(routing::system_property::connection_device_id);
  if (!d || d->empty()) {
    return std::nullopt;
  }
  auto mod = m.get(routing::system_property::connection_module_id);
  return iothub::client_identity{std::string{*d}, mod ? std::string{*mod} : std::string{}};
}

/// `"<device>;<its parent>;...;<this edge>"` through the local registry's parents; the edge's
/// own identities (itself, its modules) are `"<this edge>"`.
std::string auth_chain(const upstream_state& st, const iothub::client_identity& who) {
  const auto& edge = st.cfg.device_id;
  if (who.device_id == edge) {
    return edge;
  }
  std::string chain = who.device_id;
  auto table = st.hub->identities->get();
  std::string at = who.device_id;
  for (std::size_t depth = 0; depth < 5; ++depth) {
    auto it = table->find(at);
    if (it == table->end() || it->second.parent.empty() || it->second.parent == edge) {
      break;
    }
    at = it->second.parent;
    chain += ";" + at;
  }
  return chain + ";" + edge;
}

std::string audience(const upstream_state& st, const iothub::client_identity& who) {
  auto a = st.cfg.hub_hostname + "/devices/" + who.device_id;
  if (who.is_module()) {
    a += "/modules/" + who.module_id;
  }
  return a;
}

/// Puts a token for `who` when it has none on this connection or it is past half its life.
void ensure_token(upstream_actor* self, const iothub::client_identity& who) {
  auto& st = self->state;
  const auto now_s = now_ms(self) / 1000;
  auto it = st.token_expiry.find(who.id());
  if (it != st.token_expiry.end() && it->second - st.cfg.token_ttl_s / 2 > now_s) {
    return;
  }
  const auto expiry = now_s + st.cfg.token_ttl_s;
  const auto aud = audience(st, who);
  auto token = iothub::make_sas_token(
      aud, st.cfg.key, expiry,
      [](std::string_view k, std::string_view d) { return transport::hmac_sha256(k, d); });
  if (st.proto->put_token(who, aud, token, auth_chain(st, who))) {
    st.token_expiry[who.id()] = expiry;
  }
}

void flush(upstream_actor* self) {
  auto& st = self->state;
  if (!st.proto || !st.client || (st.ws && !st.ws->opened())) {
    return; // amqpws: the engine keeps its bytes until the upgrade is answered
  }
  auto out = st.proto->take_output();
  if (!out.empty()) {
    st.client->send(st.ws ? st.ws->frame(out) : std::move(out));
  }
}

void schedule_tick(upstream_actor* self) {
  auto& st = self->state;
  if (!st.proto) {
    return;
  }
  // The engine's heartbeats; token renewal and the agent's status at least every 5 s.
  auto next = st.proto->next_tick();
  const auto now = now_ms(self);
  const auto renewal = now + 5000;
  if (next == 0 || next > renewal) {
    next = renewal;
  }
  if (st.tick_at != 0 && st.tick_at <= next) {
    return; // a tick is already due before then
  }
  st.tick_at = next;
  self->delayed_send(self, std::chrono::milliseconds(std::max<std::int64_t>(1, next - now)),
                     tick_atom::value, st.gen);
}

void connect(upstream_actor* self);
void handle(upstream_actor* self, amqp::up::events& evs);
void sync_twin(upstream_actor* self, const iothub::client_identity& who);
void sync_system_twins(upstream_actor* self);

/// The identities whose method calls (and C2D messages) the parent may send down this link:
/// this edge's modules, and the devices of its scope while they are connected here (IoT
/// Edge's cloud proxies exist while their client does): a site with thousands of leaves costs
/// the parent links for the connected ones only, and a C2D message for a leaf that is away
/// waits at the parent, as it waits in IoT Hub.
void listen_for_scope(upstream_actor* self) {
  auto& st = self->state;
  if (!st.opened || !st.proto) {
    return;
  }
  const auto& edge = st.cfg.device_id;
  sync_system_twins(self);
  for (const auto& [id, i] : *st.hub->identities->get()) {
    const bool scope_device = i.module_id.empty() && i.parent == edge && st.here.count(id) != 0;
    const bool own_module = i.device_id == edge && !i.module_id.empty();
    if (!i.enabled || !(scope_device || own_module) || st.listening.count(id) != 0) {
      continue;
    }
    const iothub::client_identity who{i.device_id, i.module_id};
    ensure_token(self, who);
    st.proto->listen(who);
    st.listening.insert(id);
    sync_twin(self, who);
  }
}

/// `j` without IoT Hub's bookkeeping (`$version`, `$metadata`): what a patch may carry.
nlohmann::json without_meta(nlohmann::json j) {
  if (j.is_object()) {
    j.erase("$version");
    j.erase("$metadata");
  }
  return j;
}

/// Applies desired properties from the parent to the twin here (its clients get the patch).
void apply_desired(upstream_actor* self, const std::string& id, const nlohmann::json& desired) {
  if (!desired.is_object() || desired.empty()) {
    return;
  }
  const nlohmann::json body = {{"properties", {{"desired", desired}}}};
  self->request(self->state.hub->twins, std::chrono::seconds(30), twin_update_atom::value, id,
                body.dump(), std::string{}, false)
      .then(
          [id](twin_reply& r) {
            if (r.status != 200) {
              spdlog::warn("[upstream] desired properties of {} from the parent not applied: {}",
                           id, r.body);
            }
          },
          [](caf::error&) {});
}

/// The twin of `who` in step with the parent's (facts §7.3): desired notifications on, the
/// parent's desired read (and applied here), the reported properties kept here pushed up
/// (those made while the parent was away included).
void sync_twin(upstream_actor* self, const iothub::client_identity& who) {
  auto& st = self->state;
  st.proto->twin_request(who, "PUT", "sub:" + who.id(), {});
  st.proto->twin_request(who, "GET", "get:" + who.id(), {});
  const auto gen = st.gen;
  self->request(st.hub->twins, std::chrono::seconds(30), twin_show_atom::value, who.id())
      .then(
          [=](twin_reply& r) {
            auto& s = self->state;
            if (gen != s.gen || !s.proto || r.status != 200) {
              return;
            }
            auto view = nlohmann::json::parse(r.body, nullptr, false);
            if (!view.is_object() || !view.contains("properties")) {
              return;
            }
            auto reported = without_meta(view["properties"].value("reported", nlohmann::json{}));
            if (reported.is_object() && !reported.empty()) {
              s.proto->twin_request(who, "PATCH", "rep:" + std::to_string(s.next_token++),
                                    reported.dump());
              amqp::up::events evs;
              handle(self, evs);
            }
          },
          [](caf::error&) {});
}

bool is_system(const upstream_state& st, const std::string& id) {
  return id == st.cfg.device_id + "/$edgeAgent" || id == st.cfg.device_id + "/$edgeHub";
}

/// Reports this edge's `$edgeAgent` reported properties to the parent when they changed.
void report_agent(upstream_actor* self) {
  auto& st = self->state;
  auto hooks = st.cfg.hooks ? st.cfg.hooks->get() : nullptr;
  if (!st.proto || !st.opened || !hooks || !hooks->agent_reported) {
    return;
  }
  auto reported = without_meta(nlohmann::json::parse(hooks->agent_reported(), nullptr, false));
  if (!reported.is_object() || reported.empty()) {
    return;
  }
  auto text = reported.dump();
  if (text == st.agent_reported_sent) {
    return;
  }
  st.proto->twin_request({st.cfg.device_id, "$edgeAgent"}, "PATCH",
                         "rep:" + std::to_string(st.next_token++), text);
  st.agent_reported_sent = std::move(text);
}

/// The deployment the parent set for this edge (its `$edgeAgent` and `$edgeHub` desired
/// properties), handed to the deployment source once both are known and whenever they change.
void maybe_deploy(upstream_actor* self) {
  auto& st = self->state;
  auto hooks = st.cfg.hooks ? st.cfg.hooks->get() : nullptr;
  if (!hooks || !hooks->deployment_source || !st.deploy_agent.is_object()
      || !st.deploy_hub.is_object() || st.deploy_agent.empty() || st.deploy_hub.empty()) {
    return;
  }
  const nlohmann::json manifest = {{"modulesContent",
                                    {{"$edgeAgent", {{"properties.desired", st.deploy_agent}}},
                                     {"$edgeHub", {{"properties.desired", st.deploy_hub}}}}}};
  auto text = manifest.dump();
  if (text == st.deployed) {
    return;
  }
  st.deployed = text;
  self->request(hooks->deployment_source, std::chrono::seconds(60), apply_deployment_atom::value,
                std::move(text))
      .then(
          [self](std::string& why) {
            if (why.empty()) {
              spdlog::info("[upstream] the deployment from the parent is in force");
            } else {
              spdlog::warn("[upstream] the deployment from the parent was refused: {}", why);
            }
            report_agent(self);
            amqp::up::events evs;
            handle(self, evs);
          },
          [](caf::error&) {});
}

/// The parent's answer to a twin request of this link.
void twin_answered(upstream_actor* self, const amqp::up::twin_response& r) {
  auto& st = self->state;
  if (r.status >= 300) {
    spdlog::warn("[upstream] twin request {} for {} answered {}: {}", r.correlation, r.id, r.status,
                 r.body.substr(0, 200));
    return;
  }
  if (r.correlation.rfind("get:", 0) != 0) {
    return;
  }
  auto twin = nlohmann::json::parse(r.body, nullptr, false);
  if (!twin.is_object()) {
    return;
  }
  auto desired = without_meta(twin.value("desired", nlohmann::json{}));
  if (is_system(st, r.id)) {
    (r.id == st.cfg.device_id + "/$edgeAgent" ? st.deploy_agent : st.deploy_hub) = desired;
    maybe_deploy(self);
    return;
  }
  // The parent's desired properties replace the ones kept here: the difference goes in as a
  // patch, so keys deleted at the parent while this link was down are deleted here too (and
  // the clients get the same patch, `null`s included).
  const auto id = r.id;
  self->request(st.hub->twins, std::chrono::seconds(30), twin_show_atom::value, id)
      .then(
          [=](twin_reply& mine) {
            auto view = nlohmann::json::parse(mine.body, nullptr, false);
            const bool known = mine.status == 200 && view.is_object() && view.contains("properties")
                               && view["properties"].is_object();
            const auto kept = known ? view["properties"].value("desired", nlohmann::json::object())
                                    : nlohmann::json::object();
            if (auto patch = iothub::merge_patch_between(kept.dump(), desired.dump())) {
              apply_desired(self, id, nlohmann::json::parse(*patch));
            }
          },
          [](caf::error&) {});
}

/// This edge's own runtime twins at the parent: its deployment comes down through their
/// desired properties, its agent's status goes up in `$edgeAgent`'s reported ones.
void sync_system_twins(upstream_actor* self) {
  auto& st = self->state;
  for (const char* module : {"$edgeAgent", "$edgeHub"}) {
    const iothub::client_identity who{st.cfg.device_id, module};
    if (st.listening.insert(who.id()).second) {
      ensure_token(self, who);
      st.proto->twin_request(who, "PUT", "sub:" + who.id(), {});
      st.proto->twin_request(who, "GET", "get:" + who.id(), {});
      st.agent_reported_sent.clear(); // a new connection: report again
    }
  }
}

/// A C2D message from the parent: into the device's queue here, settled up once durable.
void c2d_from_parent(upstream_actor* self, amqp::up::c2d_message& m) {
  auto& st = self->state;
  const auto gen = st.gen;
  self->request(st.hub->c2d, std::chrono::seconds(30), c2d_send_atom::value, m.id, std::move(m.msg),
                std::int64_t{-1})
      .then(
          [=](c2d_reply& r) {
            auto& s = self->state;
            if (gen != s.gen || !s.proto) {
              return; // that connection is gone: the parent sends it again
            }
            using how = amqp::up::settled::how;
            s.proto->settle_c2d(m.delivery, r.http_status == 201   ? how::accepted
                                            : r.http_status == 403 ? how::rejected
                                                                   : how::released);
            amqp::up::events evs;
            handle(self, evs);
          },
          [=](caf::error&) {
            auto& s = self->state;
            if (gen == s.gen && s.proto) {
              s.proto->settle_c2d(m.delivery, amqp::up::settled::how::released);
              amqp::up::events evs;
              handle(self, evs);
            }
          });
}

/// A direct method call from the parent: to the identity here (the method router finds its
/// session), the answer back up.
void method_from_parent(upstream_actor* self, amqp::up::method_request& m) {
  auto& st = self->state;
  const auto gen = st.gen;
  auto who = iothub::parse_client_id(m.id);
  if (!who) {
    return;
  }
  method_call call;
  call.from = "upstream";
  call.target = m.id;
  call.method = m.method;
  call.payload = m.payload.empty() ? std::string{"null"} : m.payload;
  self->request(st.hub->methods, std::chrono::seconds(35), method_invoke_atom::value,
                std::move(call))
      .then(
          [=](method_call_reply& r) {
            auto& s = self->state;
            if (gen != s.gen || !s.proto) {
              return;
            }
            int status = r.http_status;
            std::string payload = r.body;
            if (r.http_status == 200) {
              // `{"status": <the device's>, "payload": <its JSON>}` (method_interface.hpp)
              auto j = nlohmann::json::parse(r.body, nullptr, false);
              if (j.is_object()) {
                status = j.value("status", 200);
                payload = j.contains("payload") ? j["payload"].dump() : "null";
              }
            }
            s.proto->method_response(*who, m.request_id, status, payload);
            amqp::up::events evs;
            handle(self, evs);
          },
          [=](caf::error&) {
            auto& s = self->state;
            if (gen == s.gen && s.proto) {
              s.proto->method_response(*who, m.request_id, 504,
                                       "{\"message\":\"no answer from the edge\"}");
              amqp::up::events evs;
              handle(self, evs);
            }
          });
}

/// The connection is over (or never came up): everything in flight comes again through the
/// mailboxes, and a new attempt follows after the back-off.
void disconnected(upstream_actor* self, const std::string& why) {
  auto& st = self->state;
  if (st.proto) {
    amqp::up::events evs;
    st.proto->on_disconnected(evs); // releases: nothing to do, the unsub below redelivers
  }
  st.drain->unsubscribe_all();
  st.token_expiry.clear();
  st.listening.clear();
  st.proto.reset();
  st.ws.reset();
  st.client.reset(); // joins its thread, which has ended (or ends now)
  st.opened = false;
  ++st.gen; // whatever the old connection still says is ignored
  const auto delay = link_backoff_ms(st.attempt, st.cfg.max_backoff_ms, st.rng);
  ++st.attempt;
  spdlog::warn("[upstream] {}; next attempt in {} ms", why, delay);
  // Facts §7.2: a failure while connected makes the link "trying"; another one, disconnected.
  set_state(self, st.state == link_state::connected ? link_state::trying : link_state::disconnected,
            why);
  self->delayed_send(self, std::chrono::milliseconds(delay), link_retry_atom::value, st.gen);
}

void handle(upstream_actor* self, amqp::up::events& evs) {
  auto& st = self->state;
  bool ended = false;
  std::string end_why;
  for (auto& e : evs) {
    if (std::holds_alternative<amqp::up::opened>(e)) {
      st.opened = true;
      st.attempt = 0;
      spdlog::info("[upstream] connected to {}:{} as {}", st.cfg.host, st.cfg.port,
                   st.cfg.device_id);
      set_state(self, link_state::connected);
      st.drain->subscribe_next();
      listen_for_scope(self);
    } else if (auto* t = std::get_if<amqp::up::token_answered>(&e)) {
      if (t->status != 200) {
        spdlog::warn("[upstream] the parent refused {}: {} {}", t->id, t->status, t->description);
        st.token_expiry.erase(t->id);
        st.last_error = "the parent refused " + t->id + ": " + t->description;
        self->delayed_send(self, token_retry, up_token_atom::value, st.gen, t->id);
      }
    } else if (auto* s = std::get_if<amqp::up::settled>(&e)) {
      st.drain->settle(s->token, s->outcome);
    } else if (auto* l = std::get_if<amqp::up::link_closed>(&e)) {
      spdlog::warn("[upstream] the parent closed the link of {}: {}", l->id, l->why);
      st.token_expiry.erase(l->id);
      st.listening.erase(l->id);
      self->delayed_send(self, token_retry, up_token_atom::value, st.gen, l->id);
    } else if (auto* c2d = std::get_if<amqp::up::c2d_message>(&e)) {
      c2d_from_parent(self, *c2d);
    } else if (auto* call = std::get_if<amqp::up::method_request>(&e)) {
      method_from_parent(self, *call);
    } else if (auto* tr = std::get_if<amqp::up::twin_response>(&e)) {
      twin_answered(self, *tr);
    } else if (auto* dp = std::get_if<amqp::up::desired_patch>(&e)) {
      if (is_system(st, dp->id)) {
        // A deployment changed: read the whole section again (a patch may delete modules).
        if (auto who = iothub::parse_client_id(dp->id)) {
          st.proto->twin_request(*who, "GET", "get:" + dp->id, {});
        }
      } else {
        apply_desired(self, dp->id, without_meta(nlohmann::json::parse(dp->body, nullptr, false)));
      }
    } else if (auto* c = std::get_if<amqp::up::closed>(&e)) {
      ended = true;
      end_why = c->why;
    }
  }
  st.drain->flush_acks();
  flush(self);
  if (ended) {
    disconnected(self, "upstream connection ended: " + end_why);
  } else {
    schedule_tick(self);
  }
}

void connect(upstream_actor* self) {
  auto& st = self->state;
  ++st.gen;
  amqp::upstream_settings settings;
  settings.container_id = st.cfg.device_id;
  settings.hostname = st.cfg.hub_hostname;
  st.proto.emplace(settings);
  st.proto->start(now_ms(self));
  if (st.cfg.websocket) {
    const auto host = st.cfg.port == 443 ? st.cfg.hub_hostname
                                         : st.cfg.hub_hostname + ":" + std::to_string(st.cfg.port);
    st.ws.emplace(host, "/$iothub/websocket", "AMQPWSB10", st.rng());
  }
  transport::client_options opts;
  opts.host = st.cfg.host;
  opts.port = st.cfg.port;
  opts.server_name = st.cfg.hub_hostname;
  opts.tls_context = st.cfg.tls;
  opts.connect_timeout = std::chrono::milliseconds(st.cfg.connect_timeout_ms);
  if (st.state == link_state::disconnected && st.attempt == 0) {
    set_state(self, link_state::trying);
  }
  st.client = transport::stream_client::start(
      opts, std::make_shared<link_forwarder>(caf::actor{self}, st.gen));
}

/// Sends what a mailbox delivered, each message on its sender's link.
void on_entries(upstream_actor* self, storage::queue_handle q, entries& es) {
  auto& st = self->state;
  const hub::binding* from = st.drain->subscribed(q);
  if (from == nullptr || !st.opened || !st.proto) {
    return; // from before an unsub: the mailbox delivers it again to the next subscription
  }
  for (auto& e : es) {
    auto msg = routing::decode(e.body);
    auto who = msg ? sender_of(*msg) : std::nullopt;
    if (!who) {
      // IoT Edge: a message without a sender is invalid, checkpointed (dropped).
      st.drain->drop_invalid(from, e.seq);
      continue;
    }
    ensure_token(self, *who);
    st.proto->send(*who, *msg, st.drain->track(from, e.seq, who->id()));
  }
  amqp::up::events evs;
  st.proto->take_events(evs);
  handle(self, evs);
}

caf::behavior upstream_link(upstream_actor* self, std::shared_ptr<const hub_services> hub,
                            upstream_link_config cfg) {
  auto& st = self->state;
  st.hub = std::move(hub);
  st.cfg = std::move(cfg);
  if (st.hub->sessions) {
    self->join(st.hub->sessions);
  }
  self->set_default_handler(caf::drop); // the sessions group says more than this link hears
  self->send(st.hub->twins, twin_forward_atom::value, caf::actor{self});
  self->send(st.hub->directory, observe_atom::value, caf::actor{self});
  st.drain.emplace(
      caf::actor{self},
      [](const hub::binding& b) { return b.target.what == routing::endpoint::kind::upstream; },
      "upstream", "rejected_upstream", st.hub->metrics);
  st.drain->read(st.hub->routes->get(), false);
  // The offline series exist from the start (at 0), so dashboards and alerts see them before
  // the first outage.
  st.hub->metrics->offline_count.Add({{"id", st.cfg.device_id + "/$edgeHub"}});
  st.hub->metrics->offline_duration.add({{"id", st.cfg.device_id + "/$edgeHub"}});
  set_state(self, link_state::trying);
  connect(self);
  return shared_link_handlers(self).or_else(caf::message_handler{
      [=](link_connected_atom, std::uint64_t gen) {
        auto& s = self->state;
        if (gen == s.gen && s.ws) {
          s.client->send(s.ws->handshake_request());
        } else if (gen == s.gen) {
          flush(self); // the AMQP header and open, queued since start
        }
      },
      [=](link_data_atom, std::uint64_t gen, const std::string& bytes) {
        auto& s = self->state;
        if (gen != s.gen || !s.proto) {
          return;
        }
        std::string payload;
        if (s.ws) {
          const bool was_open = s.ws->opened();
          std::string reply;
          s.ws->on_bytes(bytes, payload, reply);
          if (!reply.empty()) {
            s.client->send(std::move(reply));
          }
          if (s.ws->current() == transport::websocket_client_codec::state::closed) {
            disconnected(self, s.ws->error());
            return;
          }
          if (!was_open && s.ws->opened()) {
            flush(self); // the AMQP header and open, held back until the upgrade
          }
          if (payload.empty()) {
            return;
          }
        }
        amqp::up::events evs;
        s.proto->on_bytes(s.ws ? std::string_view{payload} : std::string_view{bytes}, now_ms(self),
                          evs);
        handle(self, evs);
      },
      [=](tick_atom, std::uint64_t gen) {
        auto& s = self->state;
        if (gen != s.gen || !s.proto) {
          return;
        }
        s.tick_at = 0;
        amqp::up::events evs;
        s.proto->on_tick(now_ms(self), evs);
        report_agent(self);
        // Renew every token past half its life, in place (no new link).
        std::vector<std::string> due;
        const auto now_s = now_ms(self) / 1000;
        for (auto& [id, expiry] : s.token_expiry) {
          if (expiry - s.cfg.token_ttl_s / 2 <= now_s) {
            due.push_back(id);
          }
        }
        for (auto& id : due) {
          if (auto who = iothub::parse_client_id(id)) {
            ensure_token(self, *who);
          }
        }
        s.proto->take_events(evs);
        handle(self, evs);
      },
      [=](up_token_atom, std::uint64_t gen, const std::string& id) {
        auto& s = self->state;
        auto who = iothub::parse_client_id(id);
        if (gen != s.gen || !s.proto || !who || s.proto->authorized(*who)) {
          return;
        }
        ensure_token(self, *who);
        amqp::up::events evs;
        s.proto->take_events(evs);
        handle(self, evs);
      },
      [=](twin_reported_atom, const std::string& id, const std::string& patch) {
        // A client here reported: the parent's twin gets the same patch (while the link is
        // down, the next connection pushes the whole reported state instead).
        auto& s = self->state;
        auto who = iothub::parse_client_id(id);
        if (!s.proto || !s.opened || s.listening.count(id) == 0 || !who) {
          return;
        }
        s.proto->twin_request(*who, "PATCH", "rep:" + std::to_string(s.next_token++), patch);
        amqp::up::events evs;
        s.proto->take_events(evs);
        handle(self, evs);
      },
      [=](client_atom, const std::string& id, bool connected) {
        auto& s = self->state;
        if (connected) {
          s.here.insert(id);
          listen_for_scope(self);
        } else {
          s.here.erase(id);
          auto who = iothub::parse_client_id(id);
          // This edge's own modules stay heard (a handful; their methods come from the
          // parent's deployments); a leaf that left is not.
          if (who && !who->is_module() && s.listening.erase(id) != 0 && s.proto) {
            s.proto->unlisten(*who);
          }
        }
        if (s.proto) {
          amqp::up::events evs;
          s.proto->take_events(evs);
          handle(self, evs);
        }
      },
      [=](identities_atom) {
        // The scope changed (the scope sync, or a local change): listen for newcomers.
        listen_for_scope(self);
        auto& s = self->state;
        if (s.proto) {
          amqp::up::events evs;
          s.proto->take_events(evs);
          handle(self, evs);
        }
      },
      [=](closed_atom) {
        auto& s = self->state;
        if (s.proto) {
          s.proto->close("the edge hub is stopping");
          flush(self);
        }
        s.drain->unsubscribe_all();
        s.client.reset();
        self->quit();
      },
  });
}

} // namespace

caf::actor spawn_upstream_link(caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
                               upstream_link_config cfg) {
  return sys.spawn<caf::detached>(upstream_link, std::move(hub), std::move(cfg));
}

} // namespace outpost::actors
