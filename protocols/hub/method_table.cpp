#include "protocols/hub/method_table.hpp"

#include "protocols/iothub/hub_error.hpp"

#include <nlohmann/json.hpp>

namespace outpost::hub {

namespace {

/// The caller's answer when the call fails: IoT Hub's status and error body.
method_table::finish failure(std::uint64_t id, const iothub::hub_error& e) {
  return {id, e.status, e.body()};
}

} // namespace

std::uint64_t method_table::invoke(request r, bool listening, std::int64_t now_ms, outputs& out) {
  const auto id = next_id_++;
  if (calls_.size() >= max_calls_) {
    out.push_back(failure(id, {429, 429001, "too many direct method calls in flight"}));
    return id;
  }
  auto& c = calls_[id];
  c.r = std::move(r);
  if (listening) {
    send_call(id, c, now_ms, out);
  } else if (c.r.connect_timeout_ms > 0) {
    c.deadline_ms = now_ms + c.r.connect_timeout_ms; // parked until the target listens
    deadlines_.emplace(c.deadline_ms, id);
  } else {
    out.push_back(failure(id, {404, 404103, c.r.target + " is not online"}));
    calls_.erase(id);
  }
  return id;
}

void method_table::send_call(std::uint64_t id, call& c, std::int64_t now_ms, outputs& out) {
  deadlines_.erase({c.deadline_ms, id}); // parked before: its connect deadline is over
  c.sent = true;
  c.deadline_ms = now_ms + c.r.response_timeout_ms;
  deadlines_.emplace(c.deadline_ms, id);
  out.push_back(send{id, c.r.target, c.r.method, c.r.payload});
}

void method_table::listening(const std::string& target, std::int64_t now_ms, outputs& out) {
  for (auto& [id, c] : calls_) {
    if (!c.sent && c.r.target == target) {
      send_call(id, c, now_ms, out);
    }
  }
}

void method_table::answered(const std::string& from, std::uint64_t id, int status,
                            std::string payload, outputs& out) {
  auto i = calls_.find(id);
  if (i == calls_.end() || !i->second.sent || i->second.r.target != from) {
    return;
  }
  // The answer goes out verbatim when it is JSON (the SDKs send JSON); anything else as a
  // JSON string, so the caller always gets valid JSON.
  if (!nlohmann::json::accept(payload)) {
    payload = payload.empty() ? "null"
                              : nlohmann::json(payload).dump(
                                  -1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  out.push_back(
      finish{id, 200, "{\"status\":" + std::to_string(status) + ",\"payload\":" + payload + "}"});
  deadlines_.erase({i->second.deadline_ms, id});
  calls_.erase(i);
}

void method_table::on_tick(std::int64_t now_ms, outputs& out) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now_ms) {
    const auto id = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto i = calls_.find(id);
    const auto& c = i->second;
    if (c.sent) {
      out.push_back(failure(
          id, {504, 504101, "timed out waiting for " + c.r.target + " to answer " + c.r.method}));
    } else {
      out.push_back(failure(id, {404, 404103, c.r.target + " is not online"}));
    }
    calls_.erase(i);
  }
}

std::int64_t method_table::next_deadline() const noexcept {
  return deadlines_.empty() ? std::numeric_limits<std::int64_t>::max() : deadlines_.begin()->first;
}

} // namespace outpost::hub
