#include "actors/hub/session_metrics.hpp"

#include "actors/hub/hub_metrics.hpp"
#include "actors/hub/mqtt_session.hpp"

#include <spdlog/spdlog.h>

namespace outpost::actors {

void session_metrics::set_identity(const iothub::client_identity& who) {
  id_ = who.id();
  received_ = &hub_.metrics->received.Add({{"id", id_}, {"route_output", ""}});
}

session_metrics::routed_series& session_metrics::routed() {
  if (!routed_) {
    routed_ = std::make_unique<routed_series>();
  }
  return *routed_;
}

/// edgehub_messages_received_total{id, route_output}: one series per module output used.
void session_metrics::count_received(std::string_view output) {
  if (output.empty()) {
    received_->Increment();
    return;
  }
  auto& r = routed();
  if (!r.last_output_counter || output != r.last_output) {
    r.last_output.assign(output);
    // Each output name is a series: past the cap, further names share "other" (and are not
    // remembered, so the map stays bounded too).
    if (auto found = r.received_by_output.find(r.last_output);
        found != r.received_by_output.end()) {
      r.last_output_counter = found->second;
    } else if (r.received_by_output.size() < hub_.max_output_series) {
      r.last_output_counter =
          &hub_.metrics->received.Add({{"id", id_}, {"route_output", r.last_output}});
      r.received_by_output.emplace(r.last_output, r.last_output_counter);
    } else {
      if (!r.other_output_counter) {
        r.other_output_counter =
            &hub_.metrics->received.Add({{"id", id_}, {"route_output", "other"}});
      }
      r.last_output_counter = r.other_output_counter;
    }
  }
  r.last_output_counter->Increment();
}

void session_metrics::received(const routing::message& m, std::size_t body_bytes) {
  if (!size_) {
    // Created on the first publish: idle connections hold no series.
    size_ = &hub_.metrics->message_size.add({{"id", id_}});
  }
  size_->observe(static_cast<double>(body_bytes));
  count_received(m.get(routing::system_property::output_name).value_or(""));
}

void session_metrics::dropped(hub::drop_reason why, const routing::message& m) {
  if (why == hub::drop_reason::undecodable) {
    spdlog::error("[{} {}] undecodable stored message dropped", protocol_, id_);
    return;
  }
  if (why != hub::drop_reason::no_route) {
    hub_.metrics->dropped.Add({{"reason", hub::to_string(why)}, {"from", id_}}).Increment();
    return;
  }
  const auto out_name = m.get(routing::system_property::output_name).value_or("");
  // Only output names that have a series of their own label it (see count_received).
  const bool own = out_name.empty()
                   || (routed_ && routed_->received_by_output.count(std::string{out_name}) != 0);
  hub_.metrics->dropped
      .Add({{"reason", "no_route"},
            {"from", id_},
            {"from_route_output", own ? std::string{out_name} : std::string{"other"}}})
      .Increment();
}

/// edgehub_messages_sent_total and edgehub_message_process_duration_seconds, with the series
/// of each (sender, input) looked up once per session.
void session_metrics::delivered(const routing::message& msg, const hub::binding& b,
                                std::int64_t enqueued_ms) {
  const auto device = msg.get(routing::system_property::connection_device_id).value_or("");
  const auto module = msg.get(routing::system_property::connection_module_id).value_or("");
  auto output = msg.get(routing::system_property::output_name).value_or("");
  auto key = std::string{device} + "/" + std::string{module} + "/" + std::string{output} + "|"
             + b.target.input;
  auto& sent = routed().sent;
  if (sent.size() >= 4 * hub_.max_output_series && !sent.count(key)) {
    // Senders' output names are labels too: past the cap they share "other".
    output = "other";
    key = std::string{device} + "/" + std::string{module} + "/other|" + b.target.input;
  }
  auto& series = sent[key];
  if (!series.first) {
    const auto from =
        module.empty() ? std::string{device} : std::string{device} + "/" + std::string{module};
    const auto priority = std::to_string(b.priority);
    series.first = &hub_.metrics->sent.Add({{"from", from},
                                            {"to", id_},
                                            {"from_route_output", std::string{output}},
                                            {"to_route_input", b.target.input},
                                            {"priority", priority}});
    series.second =
        &hub_.metrics->process_duration.add({{"from", from}, {"to", id_}, {"priority", priority}});
  }
  series.first->Increment();
  if (enqueued_ms > 0) {
    series.second->observe(static_cast<double>(hub_.now_ms() - enqueued_ms) / 1000.0);
  }
}

void session_metrics::routed(const routing::message& m,
                             const std::vector<hub::bound_target>& targets) {
  if (monitored_) {
    hub_.monitor->record(m, targets, hub_.now_ms());
  }
}

void session_metrics::store_refused(std::error_code ec) {
  spdlog::warn("[{} {}] store refused a message ({}): not reading until it fits", protocol_, id_,
               ec.message());
  hub_.metrics->unack.Add({{"reason", "storage_failure"}, {"from", id_}}).Increment();
}

} // namespace outpost::actors
