#pragma once

// Sample messages shared by the routing tests.

#include "routing/model/message.hpp"

#include <string>

namespace outpost::routing::testing {

inline const char* sample_json =
    R"({"temperature":35.5,"humidity":60,"name":"thermo","active":true,"off":false,)"
    R"("nothing":null,"tags":["a","b","c"],"nested":{"level":{"deep":7}},)"
    R"("arr":[{"v":1},{"v":2}],"text":"Hello World","zero":0,"neg":-4.5,"big":1e300,)"
    R"("str_num":"42","unicode":"h\u00e9llo","$weird":"x"})";

/// Application and system properties plus a JSON body, from module "sensor" output "out1".
inline message props_message(std::string content_type = "application/json") {
  message m;
  m.properties = {{"temperature", "35"},
                  {"alert", "yes"},
                  {"status", "Active"},
                  {"empty", ""},
                  {"name", "Sensor-01"},
                  {"$custom", "app-dollar"},
                  {"a+1", "weird"},
                  {"unit",
                   "\xC2\xB0"
                   "C"},
                  {"TRUE", "upper"}};
  m.set(system_property::connection_device_id, "dev1");
  m.set(system_property::connection_module_id, "sensor");
  m.set(system_property::output_name, "out1");
  m.set(system_property::content_type, std::move(content_type));
  m.set(system_property::content_encoding, "utf-8");
  m.set(system_property::message_id, "mid-1");
  m.set(system_property::correlation_id, "cid-1");
  m.set(system_property::user_id, "user1");
  m.set(system_property::to, "/devices/dev1/messages/events");
  m.set(system_property::enqueued_time, "2024-01-01T00:00:00Z");
  m.body = sample_json;
  return m;
}

/// App properties that shadow a system property and a body path.
inline message shadow_message() {
  message m = props_message();
  m.properties.emplace_back("$connectionDeviceId", "app-dev");
  m.properties.emplace_back("$body.name", "from-app");
  return m;
}

inline std::string utf16le(const std::string& ascii) {
  std::string out;
  out += "\xFF\xFE"; // byte order mark
  for (const char c : ascii) {
    out.push_back(c);
    out.push_back('\0');
  }
  return out;
}

inline std::string utf32le(const std::string& ascii) {
  std::string out;
  for (const char c : ascii) {
    out.push_back(c);
    out.append(3, '\0');
  }
  return out;
}

inline message json_message(std::string body, std::string encoding = "utf-8",
                            std::string content_type = "application/json") {
  message m;
  m.set(system_property::content_type, std::move(content_type));
  m.set(system_property::content_encoding, std::move(encoding));
  m.body = std::move(body);
  return m;
}

/// A leaf device's telemetry.
inline message device_message(std::string device = "leaf1") {
  message m;
  m.set(system_property::connection_device_id, std::move(device));
  return m;
}

/// A module's message on an output (no output when `output` is empty).
inline message module_message(std::string module, std::string output) {
  message m;
  m.set(system_property::connection_device_id, "edge1");
  m.set(system_property::connection_module_id, std::move(module));
  if (!output.empty()) {
    m.set(system_property::output_name, std::move(output));
  }
  return m;
}

/// A reported-properties change, as the hub makes it (iotedge-facts §5.5).
inline message twin_change_message(std::string body) {
  message m = json_message(std::move(body));
  m.set(system_property::message_schema, "twinChangeNotification");
  m.set(system_property::connection_device_id, "edge1");
  m.set(system_property::connection_module_id, "$edgeHub");
  return m;
}

} // namespace outpost::routing::testing
