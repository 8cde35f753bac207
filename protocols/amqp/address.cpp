#include "protocols/amqp/address.hpp"

#include "protocols/iothub/encoding.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace outpost::amqp {

namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x))
                  == std::tolower(static_cast<unsigned char>(y));
         });
}

result<void> invalid() {
  return std::make_error_code(std::errc::invalid_argument);
}

/// Drops `amqps://host` or `amqp://host` (keeping the path) and the leading '/'.
std::string_view path_of(std::string_view address) {
  for (std::string_view scheme : {"amqps://", "amqp://", "wss://"}) {
    if (address.size() >= scheme.size() && iequal(address.substr(0, scheme.size()), scheme)) {
      address.remove_prefix(scheme.size());
      const auto slash = address.find('/');
      address = slash == std::string_view::npos ? std::string_view{} : address.substr(slash);
      break;
    }
  }
  if (!address.empty() && address.front() == '/') {
    address.remove_prefix(1);
  }
  return address;
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      break;
    }
    path.remove_prefix(slash + 1);
  }
  return out;
}

/// `devices/{d}[/modules/{m}]` at the front of `s`: the identity and how many segments it took.
result<std::size_t> identity_prefix(const std::vector<std::string_view>& s,
                                    iothub::client_identity& who) {
  if (s.size() < 2 || !iequal(s[0], "devices")) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  who.device_id = iothub::percent_decode(s[1]);
  if (!iothub::is_valid_device_id(who.device_id)) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  if (s.size() >= 4 && iequal(s[2], "modules")) {
    who.module_id = iothub::percent_decode(s[3]);
    if (!iothub::is_valid_module_id(who.module_id)) {
      return std::make_error_code(std::errc::invalid_argument);
    }
    return std::size_t{4};
  }
  return std::size_t{2};
}

} // namespace

const char* to_string(link_kind k) noexcept {
  switch (k) {
    case link_kind::cbs:
      return "cbs";
    case link_kind::events:
      return "events";
    case link_kind::devicebound:
      return "devicebound";
    case link_kind::twin:
      return "twin";
    case link_kind::methods:
      return "methods";
    case link_kind::service_devicebound:
      return "service_devicebound";
  }
  return "unknown";
}

result<link_address> parse_link_address(std::string_view address) {
  const auto path = path_of(address);
  if (iequal(path, "$cbs")) {
    return link_address{link_kind::cbs, {}};
  }
  const auto s = segments(path);
  if (s.size() == 2 && iequal(s[0], "messages") && iequal(s[1], "devicebound")) {
    return link_address{link_kind::service_devicebound, {}};
  }
  link_address out;
  auto used = identity_prefix(s, out.who);
  if (!used) {
    return used.error();
  }
  const auto rest = s.size() - *used;
  const auto at = [&](std::size_t i) {
    return s[*used + i];
  };
  if (rest == 2 && iequal(at(0), "messages") && iequal(at(1), "events")) {
    out.kind = link_kind::events;
  } else if (rest == 2 && iequal(at(0), "messages") && iequal(at(1), "devicebound")
             && !out.who.is_module()) {
    out.kind = link_kind::devicebound;
  } else if (rest == 1 && iequal(at(0), "twin")) {
    out.kind = link_kind::twin;
  } else if (rest == 2 && iequal(at(0), "methods") && iequal(at(1), "devicebound")) {
    out.kind = link_kind::methods;
  } else {
    return invalid().error();
  }
  return out;
}

result<audience> parse_audience(std::string_view name) {
  // The SDKs send the token's sr as is (percent-encoded); others send it decoded.
  const std::string decoded = iothub::percent_decode(name);
  std::string_view rest = decoded;
  for (std::string_view scheme : {"amqps://", "amqp://"}) {
    if (rest.size() >= scheme.size() && iequal(rest.substr(0, scheme.size()), scheme)) {
      rest.remove_prefix(scheme.size());
    }
  }
  audience out;
  const auto slash = rest.find('/');
  out.host = std::string{rest.substr(0, slash)};
  if (out.host.empty()) {
    return invalid().error();
  }
  if (slash == std::string_view::npos || slash + 1 == rest.size()) {
    return out; // the hub itself
  }
  const auto s = segments(rest.substr(slash + 1));
  auto used = identity_prefix(s, out.who);
  if (!used || *used != s.size()) {
    return invalid().error();
  }
  return out;
}

} // namespace outpost::amqp
