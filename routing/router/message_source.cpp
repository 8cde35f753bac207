#include "routing/router/message_source.hpp"

#include "routing/query/text.hpp"

#include <array>

namespace outpost::routing {

namespace {

char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool blank(char c) noexcept {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && blank(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

} // namespace

std::string message_source::to_string() const {
  switch (what) {
    case kind::telemetry:
      return "/messages";
    case kind::twin_change_notification:
      return "/twinChangeNotifications";
    case kind::module:
      break;
  }
  std::string out = "/messages/modules/";
  out.append(module);
  if (!output.empty()) {
    out.append("/outputs/").append(output);
  }
  return out;
}

message_source source_of(const message& m) noexcept {
  if (const auto schema = m.get(system_property::message_schema);
      schema && text::iequals(*schema, "twinChangeNotification")) {
    return {message_source::kind::twin_change_notification, {}, {}};
  }
  if (const auto module = m.get(system_property::connection_module_id);
      module && !module->empty()) {
    const auto output = m.get(system_property::output_name);
    return {message_source::kind::module, *module, output ? *output : std::string_view{}};
  }
  return {};
}

source_filter source_filter::from_route(std::string_view source) {
  // CustomMessageSource.Create: Trim, TrimEnd('*'), and TrimEnd('/') unless one character is
  // left; BaseMessageSource then stores Trim().TrimEnd('/') + "/".
  std::string_view s = trim(source);
  while (!s.empty() && s.back() == '*') {
    s.remove_suffix(1);
  }
  if (s.size() > 1) {
    while (!s.empty() && s.back() == '/') {
      s.remove_suffix(1);
    }
  }
  s = trim(s);
  while (!s.empty() && s.back() == '/') {
    s.remove_suffix(1);
  }
  source_filter f;
  f.prefix_ = std::string(s) + "/";
  return f;
}

bool source_filter::matches(const message_source& s) const noexcept {
  // Compare the prefix piecewise against the message source plus '/', without building it.
  std::array<std::string_view, 5> pieces{};
  std::size_t count = 0;
  switch (s.what) {
    case message_source::kind::telemetry:
      pieces = {"/messages/"};
      count = 1;
      break;
    case message_source::kind::twin_change_notification:
      pieces = {"/twinChangeNotifications/"};
      count = 1;
      break;
    case message_source::kind::module:
      if (s.output.empty()) {
        pieces = {"/messages/modules/", s.module, "/"};
        count = 3;
      } else {
        pieces = {"/messages/modules/", s.module, "/outputs/", s.output, "/"};
        count = 5;
      }
      break;
  }
  std::size_t k = 0;
  for (std::size_t p = 0; p < count && k < prefix_.size(); ++p) {
    for (const char c : pieces[p]) {
      if (k == prefix_.size()) {
        return true;
      }
      if (lower(c) != lower(prefix_[k])) {
        return false;
      }
      ++k;
    }
  }
  return k == prefix_.size();
}

bool source_filter::is_twin_change() const noexcept {
  return text::iequals(prefix_, "/twinChangeNotifications/");
}

} // namespace outpost::routing
