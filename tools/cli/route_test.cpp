#include "tools/cli/route_test.hpp"

#include "routing/router/explain.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <sstream>
#include <variant>

namespace outpost::cli {

namespace {

/// The message a test file describes, or what is wrong with it.
std::variant<routing::message, std::string> read_message(const std::string& path) {
  std::ifstream in{path};
  if (!in) {
    return "cannot read " + path;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return path + ": expected a JSON object {\"body\", \"properties\", \"systemProperties\"}";
  }
  routing::message m;
  if (auto body = doc.find("body"); body != doc.end()) {
    m.body = body->is_string() ? body->get<std::string>() : body->dump();
  }
  if (auto props = doc.find("properties"); props != doc.end()) {
    if (!props->is_object()) {
      return path + ": \"properties\" must be an object of strings";
    }
    for (const auto& [name, v] : props->items()) {
      if (!v.is_string()) {
        return path + ": application property '" + name
               + "' must be a string (IoT Hub application properties are strings)";
      }
      m.properties.emplace_back(name, v.get<std::string>());
    }
  }
  if (auto sys = doc.find("systemProperties"); sys != doc.end()) {
    if (!sys->is_object()) {
      return path + ": \"systemProperties\" must be an object of strings";
    }
    for (const auto& [name, v] : sys->items()) {
      const auto bare = name.rfind('$', 0) == 0 ? name.substr(1) : name;
      bool known = false;
      for (std::size_t i = 0; i < routing::system_property_count; ++i) {
        const auto p = static_cast<routing::system_property>(i);
        if (routing::system_property_name(p) == bare) {
          if (!v.is_string()) {
            return path + ": system property '" + name + "' must be a string";
          }
          m.set(p, v.get<std::string>());
          known = true;
        }
      }
      if (!known) {
        return path + ": unknown system property '" + name
               + "' (e.g. contentType, contentEncoding, connectionDeviceId, connectionModuleId, "
                 "outputName, messageId, correlationId, userId, to, enqueuedTime)";
      }
    }
  }
  return m;
}

} // namespace

int run_route_test(const std::string& route, const std::string& message_file) {
  auto m = read_message(message_file);
  if (auto* why = std::get_if<std::string>(&m)) {
    std::cerr << "outpost: " << *why << "\n";
    return 2;
  }
  auto out = routing::explain(route, std::get<routing::message>(m));
  if (auto* err = std::get_if<routing::route_error>(&out)) {
    std::cerr << "outpost: " << err->to_string() << "\n";
    return 2;
  }
  const auto& text = std::get<std::string>(out);
  std::cout << text;
  return text.find("result:    MATCH") != std::string::npos ? 0 : 1;
}

} // namespace outpost::cli
