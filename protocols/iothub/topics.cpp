#include "protocols/iothub/topics.hpp"

#include "protocols/common/decimal.hpp"
#include "protocols/iothub/detail/text.hpp"
#include "protocols/iothub/property_bag.hpp"

#include <limits>
#include <vector>

namespace outpost::iothub {
namespace {

constexpr std::string_view twin_prefix = "$iothub/twin/";
constexpr std::string_view method_response_prefix = "$iothub/methods/res/";
constexpr std::string_view request_id_key = "$rid";
constexpr int generic_bad_request = 400000; // edgeHub DeviceMessageHandler.GenericBadRequest

/// `int.TryParse`: optional sign, decimal digits, within `int`.
std::optional<int> parse_int(std::string_view text) {
  text = detail::trim(text);
  const bool negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    text.remove_prefix(1);
  }
  if (text.size() > 10) {
    return std::nullopt;
  }
  const auto digits = parse_decimal<std::int64_t>(text);
  if (!digits) {
    return std::nullopt;
  }
  const std::int64_t value = negative ? -*digits : *digits;
  if (value < std::numeric_limits<int>::min() || value > std::numeric_limits<int>::max()) {
    return std::nullopt;
  }
  return static_cast<int>(value);
}

/// `$rid` of a twin query (edgeHub TwinAddressHelper: raw values, a repeated key is an error).
result<std::string> twin_request_id(std::string_view query) {
  std::vector<std::string_view> keys;
  std::string request_id;
  for (const std::string_view part : detail::split(query, '&')) {
    const std::string_view key = part.substr(0, part.find('='));
    if (keys.size() >= max_bag_properties) {
      return errc::too_many_properties; // bounds the repeat check below (quadratic in keys)
    }
    for (const std::string_view seen : keys) {
      if (seen == key) {
        return errc::bad_property_bag;
      }
    }
    keys.push_back(key);
    if (key == request_id_key && key.size() < part.size()) {
      request_id = std::string{part.substr(key.size() + 1)};
    }
  }
  return request_id;
}

/// `$iothub/twin/` + `GET/...` or `PATCH/properties/reported/...` (facts §3.3).
result<inbound_topic> parse_twin_topic(std::string_view rest, const client_identity& who) {
  constexpr std::string_view get = "GET/";
  constexpr std::string_view patch_reported = "PATCH/properties/reported/";
  inbound_topic parsed{inbound_kind::twin_get, who, {}, 0};
  if (detail::starts_with(rest, get)) {
    rest.remove_prefix(get.size());
  } else if (detail::starts_with(rest, patch_reported)) {
    parsed.kind = inbound_kind::twin_patch_reported;
    rest.remove_prefix(patch_reported.size());
  } else {
    return errc::unsupported_twin_operation;
  }
  if (!rest.empty() && rest.front() != '?') {
    return errc::unsupported_twin_operation; // a sub-resource ("further specialization")
  }
  auto request_id = twin_request_id(rest.empty() ? rest : rest.substr(1));
  if (!request_id) {
    return request_id.error();
  }
  parsed.request_id = std::move(request_id.value());
  if (parsed.kind == inbound_kind::twin_get && parsed.request_id.empty()) {
    return errc::missing_request_id;
  }
  return parsed;
}

/// `$iothub/methods/res/` + `{status}/?$rid={rid}`, matched as edgeHub's template
/// `$iothub/methods/res/{statusCode}/?$rid={correlationId}` (segments without '/').
result<inbound_topic> parse_method_response_topic(std::string_view rest,
                                                  const client_identity& who) {
  constexpr std::string_view rid_query = "/?$rid=";
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || rest.substr(slash, rid_query.size()) != rid_query) {
    return errc::unknown_topic;
  }
  const std::string_view request_id = rest.substr(slash + rid_query.size());
  if (request_id.find('/') != std::string_view::npos) {
    return errc::unknown_topic;
  }
  if (request_id.empty()) {
    return errc::missing_request_id;
  }
  const int status = parse_int(rest.substr(0, slash)).value_or(generic_bad_request);
  return inbound_topic{inbound_kind::method_response, who, std::string{request_id}, status};
}

/// The identity and bag of a telemetry topic, before checks.
struct telemetry_parts {
  client_identity target;
  std::string_view bag;
};

/// `devices/{d}[/modules/{m}]/messages/events` + optional `/`, `/{bag}` or `/{bag}/`.
std::optional<telemetry_parts> split_telemetry_topic(std::string_view topic) {
  const auto s = detail::split(topic, '/');
  if (s.size() < 4 || s[0] != "devices") {
    return std::nullopt;
  }
  telemetry_parts parts{{std::string{s[1]}, {}}, {}};
  std::size_t rest = 4;
  if (s[2] == "modules" && s.size() >= 6 && s[4] == "messages" && s[5] == "events") {
    parts.target.module_id = std::string{s[3]};
    rest = 6;
  } else if (s[2] != "messages" || s[3] != "events") {
    return std::nullopt;
  }
  const std::size_t extra = s.size() - rest;
  if (extra > 2 || (extra == 2 && !s[rest + 1].empty())) {
    return std::nullopt;
  }
  parts.bag = extra == 0 ? std::string_view{} : s[rest];
  return parts;
}

result<inbound_topic> parse_telemetry_topic(std::string_view topic, const client_identity& who,
                                            routing::message& into) {
  const auto parts = split_telemetry_topic(topic);
  if (!parts) {
    return errc::unknown_topic;
  }
  if (parts->target != who) {
    return errc::client_id_mismatch;
  }
  if (auto decoded = decode_property_bag(parts->bag, into); !decoded) {
    return decoded.error();
  }
  into.set(routing::system_property::connection_device_id, who.device_id);
  if (who.is_module()) {
    into.set(routing::system_property::connection_module_id, who.module_id);
  }
  return inbound_topic{inbound_kind::telemetry, who, {}, 0};
}

/// `^devices/.+/modules/.+/#$` ('.' is any character but '\n').
bool is_module_messages_filter(std::string_view filter) noexcept {
  constexpr std::string_view head = "devices/";
  constexpr std::string_view tail = "/#";
  constexpr std::string_view modules = "/modules/";
  if (filter.size() < head.size() + tail.size() || !detail::starts_with(filter, head)
      || !detail::ends_with(filter, tail)) {
    return false;
  }
  const std::string_view middle =
      filter.substr(head.size(), filter.size() - head.size() - tail.size());
  if (middle.find('\n') != std::string_view::npos) {
    return false;
  }
  const auto at = middle.find(modules, 1);
  return at != std::string_view::npos && at + modules.size() < middle.size();
}

} // namespace

result<inbound_topic> parse_publish_topic(std::string_view topic, const client_identity& who,
                                          routing::message& into) {
  if (detail::starts_with(topic, twin_prefix)) {
    return parse_twin_topic(topic.substr(twin_prefix.size()), who);
  }
  if (detail::starts_with(topic, method_response_prefix)) {
    return parse_method_response_topic(topic.substr(method_response_prefix.size()), who);
  }
  return parse_telemetry_topic(topic, who, into);
}

subscription_kind classify_subscription(std::string_view filter) noexcept {
  if (detail::is_blank(filter)) {
    return subscription_kind::unknown;
  }
  if (detail::starts_with(filter, "$iothub/methods/POST/")) {
    return subscription_kind::methods;
  }
  if (detail::starts_with(filter, "$iothub/twin/PATCH/properties/desired/")) {
    return subscription_kind::twin_desired;
  }
  if (detail::ends_with(filter, "messages/devicebound/#")) {
    return subscription_kind::c2d;
  }
  if (filter == "$iothub/twin/res/#") {
    return subscription_kind::twin_response;
  }
  return is_module_messages_filter(filter) ? subscription_kind::module_inputs
                                           : subscription_kind::unknown;
}

bool subscription_allowed(const client_identity& who, std::string_view filter) noexcept {
  switch (classify_subscription(filter)) {
    case subscription_kind::methods:
    case subscription_kind::twin_desired:
    case subscription_kind::twin_response:
      return true; // per-connection namespaces: nothing of another identity is reachable there
    case subscription_kind::c2d: {
      if (who.is_module()) {
        return false; // IoT Hub has no C2D for modules
      }
      constexpr std::string_view prefix = "devices/";
      constexpr std::string_view suffix = "/messages/devicebound/#";
      return filter.size() == prefix.size() + who.device_id.size() + suffix.size()
             && detail::starts_with(filter, prefix)
             && filter.substr(prefix.size(), who.device_id.size()) == who.device_id
             && detail::ends_with(filter, suffix);
    }
    case subscription_kind::module_inputs: {
      if (!who.is_module()) {
        return false;
      }
      // "devices/{d}/modules/{m}/" then "#", "inputs/#" or "inputs/<name>/#".
      std::string_view rest = filter;
      for (const std::string_view part :
           {std::string_view{"devices/"}, std::string_view{who.device_id},
            std::string_view{"/modules/"}, std::string_view{who.module_id},
            std::string_view{"/"}}) {
        if (!detail::starts_with(rest, part)) {
          return false;
        }
        rest.remove_prefix(part.size());
      }
      return rest.find('+') == std::string_view::npos && rest.find('#') == rest.size() - 1;
    }
    case subscription_kind::unknown:
      break;
  }
  return false;
}

std::string module_input_topic(const client_identity& target, std::string_view input,
                               const routing::message& m) {
  std::string topic = "devices/" + target.device_id + "/modules/" + target.module_id + "/inputs/";
  topic.append(input);
  topic += '/';
  topic += encode_property_bag(m, true);
  return topic;
}

std::string c2d_topic(std::string_view device_id, const routing::message& m) {
  std::string topic = "devices/";
  topic.append(device_id);
  topic += "/messages/devicebound/";
  topic += encode_property_bag(m, false);
  return topic;
}

std::string twin_response_topic(int status, std::string_view request_id,
                                std::optional<std::int64_t> version) {
  std::string topic = "$iothub/twin/res/" + std::to_string(status) + "/?$rid=";
  topic.append(request_id);
  if (version) {
    topic += "&$version=" + std::to_string(*version);
  }
  return topic;
}

std::string desired_patch_topic(std::int64_t version) {
  return "$iothub/twin/PATCH/properties/desired/?$version=" + std::to_string(version);
}

std::string method_request_topic(std::string_view method, std::string_view request_id) {
  std::string topic = "$iothub/methods/POST/";
  topic.append(method);
  topic += "/?$rid=";
  topic.append(request_id);
  return topic;
}

} // namespace outpost::iothub
