#include "protocols/hub/method_table.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace outpost::hub {

namespace {

std::string error_body(std::int32_t code, const std::string& message) {
  return nlohmann::json{{"errorCode", code}, {"message", message}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

std::uint64_t method_table::invoke(request r, bool listening, std::int64_t now_ms, outputs& out) {
  const auto id = next_id_++;
  if (calls_.size() >= max_calls_) {
    out.push_back(finish{id, 429, error_body(429001, "too many direct method calls in flight")});
    return id;
  }
  auto& c = calls_[id];
  c.r = std::move(r);
  if (listening) {
    send_call(id, c, now_ms, out);
  } else if (c.r.connect_timeout_ms > 0) {
    c.deadline_ms = now_ms + c.r.connect_timeout_ms; // parked until the target listens
  } else {
    out.push_back(finish{id, 404, error_body(404103, c.r.target + " is not online")});
    calls_.erase(id);
  }
  return id;
}

void method_table::send_call(std::uint64_t id, call& c, std::int64_t now_ms, outputs& out) {
  c.sent = true;
  c.deadline_ms = now_ms + c.r.response_timeout_ms;
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
  calls_.erase(i);
}

void method_table::on_tick(std::int64_t now_ms, outputs& out) {
  for (auto i = calls_.begin(); i != calls_.end();) {
    auto& c = i->second;
    if (c.deadline_ms > now_ms) {
      ++i;
      continue;
    }
    if (c.sent) {
      out.push_back(finish{
          i->first, 504,
          error_body(504101, "timed out waiting for " + c.r.target + " to answer " + c.r.method)});
    } else {
      out.push_back(finish{i->first, 404, error_body(404103, c.r.target + " is not online")});
    }
    i = calls_.erase(i);
  }
}

std::int64_t method_table::next_deadline() const noexcept {
  std::int64_t next = std::numeric_limits<std::int64_t>::max();
  for (const auto& [id, c] : calls_) {
    next = std::min(next, c.deadline_ms);
  }
  return next;
}

} // namespace outpost::hub
