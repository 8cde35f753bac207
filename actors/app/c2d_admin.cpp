#include "actors/app/c2d_admin.hpp"

#include "actors/app/iothub_response.hpp"
#include "protocols/iothub/encoding.hpp"

#include <caf/all.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <random>
#include <string>

namespace outpost::app {

namespace {

using transport::http_response;
using json = nlohmann::json;

/// A random message id like the service SDK's (a UUID v4 in text).
std::string new_message_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const auto a = rng();
  const auto b = rng();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

/// The C2D message of the request body; nullopt (and `why`) when it is bad.
std::optional<routing::message> c2d_message(const std::string& device, const json& j,
                                            std::int64_t& ttl_ms, std::string& why) {
  if (!j.is_object()) {
    why = "the body must be a JSON object";
    return std::nullopt;
  }
  routing::message m;
  const auto text = [&](const char* key, std::string& out) {
    if (!j.contains(key)) {
      return true;
    }
    if (!j[key].is_string()) {
      why = std::string{key} + " must be a string";
      return false;
    }
    out = j[key].get<std::string>();
    return true;
  };
  std::string message_id = new_message_id();
  std::string correlation_id, ack, content_type, content_encoding;
  if (!text("body", m.body) || !text("messageId", message_id)
      || !text("correlationId", correlation_id) || !text("ack", ack)
      || !text("contentType", content_type) || !text("contentEncoding", content_encoding)) {
    return std::nullopt;
  }
  if (m.body.size() > 64 * 1024) {
    why = "a C2D message body is at most 64 KiB (IoT Hub's limit)";
    return std::nullopt;
  }
  if (!ack.empty() && ack != "none" && ack != "positive" && ack != "negative" && ack != "full") {
    why = "ack must be none, positive, negative or full";
    return std::nullopt;
  }
  ttl_ms = 3600 * 1000;
  if (j.contains("ttlSeconds")) {
    if (!j["ttlSeconds"].is_number_integer() || j["ttlSeconds"].get<std::int64_t>() < 1
        || j["ttlSeconds"].get<std::int64_t>() > 2 * 24 * 3600) {
      why = "ttlSeconds must be an integer from 1 to 172800 (IoT Hub's 2 days)";
      return std::nullopt;
    }
    ttl_ms = j["ttlSeconds"].get<std::int64_t>() * 1000;
  }
  m.set(routing::system_property::message_id, message_id);
  m.set(routing::system_property::to, "/devices/" + device + "/messages/deviceBound");
  const std::pair<routing::system_property, const std::string*> optional_props[] = {
      {routing::system_property::correlation_id, &correlation_id},
      {routing::system_property::ack, &ack},
      {routing::system_property::content_type, &content_type},
      {routing::system_property::content_encoding, &content_encoding}};
  for (const auto& [p, v] : optional_props) {
    if (!v->empty()) {
      m.set(p, *v);
    }
  }
  if (j.contains("properties")) {
    if (!j["properties"].is_object() || j["properties"].size() > 64) {
      why = "properties must be an object of at most 64 string values";
      return std::nullopt;
    }
    for (const auto& [k, v] : j["properties"].items()) {
      if (!v.is_string() || k.empty()) {
        why = "property " + k + " must have a name and a string value";
        return std::nullopt;
      }
      m.properties.emplace_back(k, v.get<std::string>());
    }
  }
  return m;
}

} // namespace

std::optional<http_response> c2d_admin(caf::actor_system& sys, const actors::c2d_actor& c2d,
                                       const std::shared_ptr<actors::identity_snapshot>& identities,
                                       const transport::http_request& req) {
  const std::string path = iothub::percent_decode(req.target.substr(0, req.target.find('?')));
  constexpr std::string_view prefix = "/devices/";
  constexpr std::string_view suffix = "/messages/deviceBound";
  if (path.size() <= prefix.size() + suffix.size() || path.rfind(prefix, 0) != 0
      || path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  const auto device = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (req.method != "POST") {
    return iothub_error(405, 405001, "method not allowed on " + path);
  }
  if (device.find('/') != std::string::npos || identities->get()->count(device) == 0) {
    return iothub_error(404, 404001, "device " + device + " is not registered");
  }
  std::int64_t ttl_ms = 0;
  std::string why;
  auto msg = c2d_message(device, json::parse(req.body, nullptr, false), ttl_ms, why);
  if (!msg) {
    return iothub_error(400, 400004, why);
  }
  caf::scoped_actor self{sys};
  http_response res = iothub_error(503, 503001, "the C2D queues did not answer");
  self->request(c2d, std::chrono::seconds(30), actors::c2d_send_atom::value, device,
                std::move(*msg), ttl_ms)
      .receive(
          [&](actors::c2d_reply& r) { res = iothub_response(r.http_status, std::move(r.body)); },
          [](caf::error&) {});
  return res;
}

} // namespace outpost::app
