#include "protocols/amqp/broker_connection.hpp"

#include "protocols/amqp/detail/driver_io.hpp"
#include "protocols/amqp/message_map.hpp"

#include <deque>
#include <map>

#include <proton/connection.hpp>
#include <proton/connection_options.hpp>
#include <proton/duration.hpp>
#include <proton/error_condition.hpp>
#include <proton/io/connection_driver.hpp>
#include <proton/message.hpp>
#include <proton/messaging_handler.hpp>
#include <proton/sender.hpp>
#include <proton/sender_options.hpp>
#include <proton/session.hpp>
#include <proton/target_options.hpp>
#include <proton/terminus.hpp>
#include <proton/timestamp.hpp>
#include <proton/tracker.hpp>
#include <proton/transport.hpp>

namespace outpost::amqp {

class broker_connection::handler final
    : public detail::client_driver<broker_connection::handler, bus::events> {
public:
  explicit handler(broker_settings settings)
      : client_driver(settings.container_id, "broker"),
        settings_(std::move(settings)) {}

  void start() {
    proton::connection_options opts;
    opts.handler(*this)
        .sasl_enabled(true)
        .idle_timeout(proton::duration(settings_.idle_timeout_ms))
        .max_frame_size(settings_.max_frame_size)
        .container_id(settings_.container_id)
        .virtual_host(settings_.hostname);
    if (settings_.user.empty()) {
      opts.sasl_allowed_mechs("ANONYMOUS");
    } else {
      // PLAIN over a plain socket only because the configuration chose `amqp://` with a
      // password; `amqps://` runs it inside TLS.
      opts.sasl_allowed_mechs("PLAIN")
          .sasl_allow_insecure_mechs(true)
          .user(settings_.user)
          .password(settings_.password);
    }
    driver_.connect(opts);
    dispatch();
  }

  void send(const routing::message& msg, std::uint64_t token) {
    if (finished_) {
      events_.push_back(bus::settled{token, bus::settled::how::released, "not connected"});
      return;
    }
    auto m = to_amqp(msg, {});
    m.durable(true); // the broker keeps it across its own restart, as the hub's store did
    queue_.emplace_back(std::move(m), token);
    ++in_flight_;
    flush();
  }

  std::size_t in_flight() const { return in_flight_; }

  void close(const std::string& why) {
    if (!closing_ && !finished_) {
      closing_ = true;
      driver_.connection().close(proton::error_condition("amqp:connection:forced", why));
      dispatch();
    }
  }

  // ---- Proton's callbacks --------------------------------------------------------------------

  void on_connection_open(proton::connection& c) override {
    // A durable target: a broker that creates the node on demand (RabbitMQ's "/queue/q")
    // makes it a durable one, so what it accepted survives its restart.
    sender_ = c.open_session().open_sender(
        settings_.address, proton::sender_options().auto_settle(true).target(
                               proton::target_options()
                                   .address(settings_.address)
                                   .durability_mode(proton::terminus::CONFIGURATION)));
  }

  void on_sendable(proton::sender& s) override {
    // Open once the broker grants credit: a broker refusing the node attaches, then detaches
    // without granting any, and must not count as a connection that worked.
    if (s == sender_ && !opened_ && !finished_) {
      opened_ = true;
      events_.push_back(bus::opened{});
    }
    if (s == sender_) {
      flush();
    }
  }

  void on_tracker_accept(proton::tracker& t) override { settled(t, bus::settled::how::accepted); }
  void on_tracker_reject(proton::tracker& t) override { settled(t, bus::settled::how::rejected); }
  void on_tracker_release(proton::tracker& t) override { settled(t, bus::settled::how::released); }
  void on_tracker_settle(proton::tracker& t) override {
    // Settled without an outcome we know (e.g. modified): try again later.
    settled(t, bus::settled::how::released);
  }

  void on_sender_close(proton::sender& s) override {
    // The broker refused the node (no such queue, not allowed) or detached it: the
    // connection goes with it and the owner tries again after its back-off.
    if (s == sender_ && !finished_) {
      const auto why = s.error().empty()
                           ? std::string{"the broker detached the sender"}
                           : "the broker refused " + settings_.address + ": " + s.error().what();
      close(why);
      end(why);
    }
    proton::messaging_handler::on_sender_close(s);
  }

  void on_connection_close(proton::connection& c) override {
    end(c.error().empty() ? "closed by the broker" : c.error().what());
    proton::messaging_handler::on_connection_close(c);
  }
  void on_transport_error(proton::transport& t) override { end(t.error().what()); }
  void on_error(const proton::error_condition&) override {} // the close events say it

private:
  void flush() {
    while (!queue_.empty() && sender_ && sender_.active() && sender_.credit() > 0) {
      auto& [m, token] = queue_.front();
      trackers_[sender_.send(m)] = token;
      queue_.pop_front();
    }
  }

  void settled(proton::tracker& t, bus::settled::how how) {
    auto it = trackers_.find(t);
    if (it == trackers_.end()) {
      return;
    }
    events_.push_back(bus::settled{it->second, how, {}});
    trackers_.erase(it);
    --in_flight_;
  }

  /// The connection is over: everything not settled comes back released, once.
  void end(const std::string& why) {
    finished_ = true;
    if (ended_) {
      return;
    }
    ended_ = true;
    for (auto& [m, token] : queue_) {
      events_.push_back(bus::settled{token, bus::settled::how::released, why});
    }
    queue_.clear();
    for (auto& [t, token] : trackers_) {
      events_.push_back(bus::settled{token, bus::settled::how::released, why});
    }
    trackers_.clear();
    in_flight_ = 0;
    events_.push_back(bus::closed{why});
  }

  friend class detail::client_driver<broker_connection::handler, bus::events>;

  broker_settings settings_;
  bool ended_ = false;
  bool closing_ = false;
  bool opened_ = false;
  proton::sender sender_;
  std::deque<std::pair<proton::message, std::uint64_t>> queue_; ///< waiting for credit
  std::map<proton::tracker, std::uint64_t> trackers_;           ///< sent, unsettled: token
  std::size_t in_flight_ = 0;
};

broker_connection::broker_connection(broker_settings settings)
    : handler_(std::make_unique<handler>(std::move(settings))) {}

broker_connection::~broker_connection() = default;

// Proton's C++ binding reports some engine failures by throwing: they end the connection.
template <class F>
void broker_connection::guarded(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    handler_->fail(e.what());
  }
}

void broker_connection::start(std::int64_t now_ms) {
  guarded([&] {
    handler_->start();
    next_tick_ = handler_->tick(now_ms);
  });
}

void broker_connection::on_bytes(std::string_view bytes, std::int64_t now_ms, bus::events& out) {
  guarded([&] {
    handler_->feed(bytes);
    next_tick_ = handler_->tick(now_ms);
  });
  handler_->take_events(out);
}

void broker_connection::on_disconnected(bus::events& out) {
  guarded([&] { handler_->disconnected(); });
  handler_->take_events(out);
}

void broker_connection::on_tick(std::int64_t now_ms, bus::events& out) {
  guarded([&] { next_tick_ = handler_->tick(now_ms); });
  handler_->take_events(out);
}

void broker_connection::send(const routing::message& msg, std::uint64_t token) {
  guarded([&] { handler_->send(msg, token); });
}

std::size_t broker_connection::in_flight() const noexcept {
  return handler_->in_flight();
}

void broker_connection::close(const std::string& why) {
  guarded([&] { handler_->close(why); });
}

std::string broker_connection::take_output() {
  std::string out;
  guarded([&] { out = handler_->take_output(); });
  return out;
}

void broker_connection::take_events(bus::events& out) {
  handler_->take_events(out);
}

bool broker_connection::finished() const noexcept {
  return handler_->finished();
}

} // namespace outpost::amqp
