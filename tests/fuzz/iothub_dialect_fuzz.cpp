// Fuzz target for the IoT Hub MQTT dialect (protocols/iothub): what unauthenticated and
// authenticated peers send in CONNECT and PUBLISH. The input is split at NUL bytes into fields:
//   0 client id, 1 username, 2 SAS password, 3 PUBLISH topic, 4 property bag,
//   5 subscription filter, 6 extra application properties ("k\1v\1k\1v..."), 7 flags.
// For arbitrary bytes, only what the headers promise:
// - nothing crashes, leaks or hits undefined behaviour;
// - parse_client_id yields valid ids, and parsing identity.id() again gives the same identity;
// - parse_sas_token yields a non-empty sr and sig and a non-negative se; verify_sas_token (fixed
//   key, a trivial injected HMAC) only succeeds for an unexpired token; a token built by
//   make_sas_token for the parsed identity parses and verifies;
// - a decoded bag (decode_property_bag, or the telemetry bag of parse_publish_topic) never has
//   more than max_bag_properties application properties; telemetry is stamped with the
//   publisher's ids; twin GET and method responses carry a non-empty $rid; the target is
//   always the publisher;
// - decode(encode(m)) keeps the emitted system properties and the first occurrence of every
//   application property, for messages whose keys and values are valid UTF-8 and whose keys
//   are non-empty and not inbound system keys (those become system properties on the way in);
// - subscription_allowed grants only classified filters, never a bare '#', C2D only for the
//   device's own `devices/{d}/messages/devicebound/#`, inputs only under the module's own
//   `devices/{d}/modules/{m}/`; the identity's own standard filters are granted.
// Any violation traps. Built with libFuzzer under OUTPOST_FUZZ, and replayed by ctest
// (replay_main.cpp) over corpus/iothub_dialect in every build.

#include "protocols/iothub/encoding.hpp"
#include "protocols/iothub/identity.hpp"
#include "protocols/iothub/property_bag.hpp"
#include "protocols/iothub/sas.hpp"
#include "protocols/iothub/topics.hpp"
#include "routing/model/message.hpp"
#include "tests/fuzz/fields.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

namespace iothub = outpost::iothub;
namespace routing = outpost::routing;
using routing::system_property;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

constexpr std::size_t field_count = 8;
constexpr std::string_view hub_hostname = "hub.azure-devices.net";
constexpr std::int64_t now_seconds = 1'700'000'000;

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto end = s.find(sep);
    parts.push_back(s.substr(0, end));
    if (end == std::string_view::npos) {
      return parts;
    }
    s.remove_prefix(end + 1);
  }
}

/// Not a real HMAC: deterministic 32 bytes of (key, data), enough to tell tokens apart.
std::string fake_hmac(std::string_view key, std::string_view data) {
  std::uint64_t h = 1469598103934665603ULL;
  const auto mix = [&h](std::string_view s) {
    for (const char c : s) {
      h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
    h = (h ^ 0xFF) * 1099511628211ULL;
  };
  mix(key);
  mix(data);
  std::string out;
  for (int i = 0; i < 4; ++i) {
    h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9ULL;
    for (int b = 0; b < 8; ++b) {
      out.push_back(static_cast<char>((h >> (8 * b)) & 0xFF));
    }
  }
  return out;
}

/// Well-formed UTF-8 (RFC 3629), as encoding.hpp's percent_decode keeps it.
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      lo = b0 == 0xE0 ? 0xA0 : 0x80;
      hi = b0 == 0xED ? 0x9F : 0xBF;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      lo = b0 == 0xF0 ? 0x90 : 0x80;
      hi = b0 == 0xF4 ? 0x8F : 0xBF;
    } else {
      return false;
    }
    if (s.size() - i < len) {
      return false;
    }
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b1 < lo || b1 > hi) {
      return false;
    }
    for (std::size_t k = 2; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if (b < 0x80 || b > 0xBF) {
        return false;
      }
    }
    i += len;
  }
  return true;
}

const std::string& key_base64() {
  static const std::string key = iothub::base64_encode("fuzz-primary-key-0123456789abcdef");
  return key;
}

void check_identity(const iothub::client_identity& who) {
  check(iothub::is_valid_device_id(who.device_id));
  check(who.module_id.empty() || iothub::is_valid_module_id(who.module_id));
  const auto again = iothub::parse_client_id(who.id());
  check(again && *again == who);
}

void check_sas(std::string_view password, const iothub::client_identity& who, std::uint8_t flags) {
  const iothub::sas_check sas{hub_hostname,
                              "edge.local",
                              who,
                              now_seconds,
                              {key_base64(), "not base64!"},
                              (flags & 1) != 0 ? 300 : 0};
  const auto token = iothub::parse_sas_token(password);
  if (token) {
    check(!token->resource.empty() && !token->signature.empty() && token->expiry >= 0);
    if (iothub::verify_sas_token(*token, sas, fake_hmac)) {
      check(token->expiry + sas.clock_skew_seconds >= now_seconds);
    }
  }
  // A token as the SDKs build it (ids URL-encoded in the resource URI) for this identity.
  std::string uri = std::string{hub_hostname} + "/devices/" + iothub::percent_encode(who.device_id);
  if (who.is_module() && (flags & 2) == 0) {
    uri += "/modules/" + iothub::percent_encode(who.module_id);
  }
  const std::int64_t expiry = now_seconds + static_cast<std::int64_t>(password.size()) * 7;
  const auto made = iothub::make_sas_token(uri, key_base64(), expiry, fake_hmac);
  const auto parsed = iothub::parse_sas_token(made);
  check(parsed.has_value());
  check(parsed->expiry == expiry && parsed->resource_decoded == uri);
  check(static_cast<bool>(iothub::verify_sas_token(*parsed, sas, fake_hmac)));
}

bool is_inbound_system_key(std::string_view key) {
  return iothub::inbound_system_property(key).has_value();
}

constexpr std::pair<std::string_view, system_property> outbound_system[] = {
    {"$.mid", system_property::message_id},
    {"$.cid", system_property::correlation_id},
    {"$.to", system_property::to},
    {"$.uid", system_property::user_id},
    {"$.exp", system_property::absolute_expiry_time},
    {"$.ct", system_property::content_type},
    {"$.ce", system_property::content_encoding},
    {"$.schema", system_property::message_schema},
    {"$.ctime", system_property::creation_time},
    {"$.sub", system_property::component_name},
    {"iothub-operation", system_property::operation},
    {"ack", system_property::ack},
};
constexpr std::pair<std::string_view, system_property> sender_system[] = {
    {"$.cdid", system_property::connection_device_id},
    {"$.cmid", system_property::connection_module_id},
};

/// decode(encode(m)): emitted system properties come back as they were; application
/// properties come back once each, first occurrence, in order, then the sender's ids.
void check_round_trip(const routing::message& m, bool to_module) {
  const std::string bag = iothub::encode_property_bag(m, to_module);
  check(bag.find('/') == std::string::npos);
  std::vector<std::string_view> emitted;
  std::vector<std::pair<std::string, std::string>> expected;
  std::size_t pairs = 0;
  bool comparable = true;
  for (const auto& [key, p] : outbound_system) {
    if (auto v = m.get(p)) {
      emitted.push_back(key);
      comparable = comparable && valid_utf8(*v);
      ++pairs;
    }
  }
  std::vector<std::pair<std::string, std::string>> sender;
  if (to_module) {
    for (const auto& [key, p] : sender_system) {
      if (auto v = m.get(p)) {
        emitted.push_back(key);
        sender.emplace_back(std::string{key}, std::string{*v});
        comparable = comparable && valid_utf8(*v);
      }
    }
  }
  const auto seen = [](const auto& list, std::string_view key) {
    for (const auto& e : list) {
      if (std::string_view{e} == key) {
        return true;
      }
    }
    return false;
  };
  std::unordered_set<std::string_view> names;
  for (const auto& [k, v] : m.properties) {
    if (seen(emitted, k) || !names.insert(k).second) {
      continue;
    }
    comparable =
        comparable && !k.empty() && valid_utf8(k) && valid_utf8(v) && !is_inbound_system_key(k);
    expected.emplace_back(k, v);
  }
  expected.insert(expected.end(), sender.begin(), sender.end());
  pairs += expected.size();
  routing::message back;
  const auto decoded = iothub::decode_property_bag(bag, back);
  if (!comparable) {
    return;
  }
  if (pairs > iothub::max_bag_properties) {
    check(!decoded && decoded.error() == iothub::errc::too_many_properties);
    return;
  }
  check(static_cast<bool>(decoded));
  check(back.properties == expected);
  std::size_t system_count = 0;
  for (const auto& [key, p] : outbound_system) {
    const auto v = m.get(p);
    check(back.get(p) == v);
    system_count += v ? 1 : 0;
  }
  check(back.system_properties.size() == system_count);
}

void check_topic(std::string_view topic, const iothub::client_identity& who, bool to_module) {
  routing::message m;
  const auto parsed = iothub::parse_publish_topic(topic, who, m);
  check(m.properties.size() <= iothub::max_bag_properties);
  if (!parsed) {
    return;
  }
  check(parsed->target == who);
  switch (parsed->kind) {
    case iothub::inbound_kind::telemetry:
      check(m.get(system_property::connection_device_id) == std::string_view{who.device_id});
      if (who.is_module()) {
        check(m.get(system_property::connection_module_id) == std::string_view{who.module_id});
      }
      check_round_trip(m, to_module);
      break;
    case iothub::inbound_kind::twin_get:
    case iothub::inbound_kind::method_response:
      check(!parsed->request_id.empty());
      break;
    case iothub::inbound_kind::twin_patch_reported:
      break;
  }
}

void check_bag(std::string_view bag, std::string_view extra, bool to_module) {
  routing::message m;
  const auto decoded = iothub::decode_property_bag(bag, m);
  check(m.properties.size() <= iothub::max_bag_properties);
  if (!decoded) {
    check(decoded.error() == iothub::errc::bad_property_bag
          || decoded.error() == iothub::errc::too_many_properties);
    return;
  }
  for (const auto& [k, v] : m.properties) {
    check(!k.empty() && !is_inbound_system_key(k));
  }
  check_round_trip(m, to_module);
  // The same message with extra application properties (repeats and clashes included) and
  // the sender's ids, as a message routed to a module input.
  const auto parts = split(extra, '\1');
  for (std::size_t i = 0; i + 1 < parts.size(); i += 2) {
    m.properties.emplace_back(std::string{parts[i]}, std::string{parts[i + 1]});
  }
  m.set(system_property::connection_device_id, "dev-1");
  if (parts.size() % 2 == 1) {
    m.set(system_property::connection_module_id, std::string{parts.back()});
  }
  check_round_trip(m, to_module);
}

void check_subscription(const iothub::client_identity& who, std::string_view filter) {
  const auto kind = iothub::classify_subscription(filter);
  if (!iothub::subscription_allowed(who, filter)) {
    return;
  }
  check(kind != iothub::subscription_kind::unknown);
  check(filter != "#");
  if (kind == iothub::subscription_kind::c2d) {
    check(!who.is_module());
    check(filter == "devices/" + who.device_id + "/messages/devicebound/#");
  }
  if (kind == iothub::subscription_kind::module_inputs) {
    const std::string prefix = "devices/" + who.device_id + "/modules/" + who.module_id + "/";
    check(who.is_module() && filter.substr(0, prefix.size()) == prefix);
    check(filter.back() == '#');
  }
}

void check_own_subscriptions(const iothub::client_identity& who) {
  check(iothub::subscription_allowed(who, "$iothub/methods/POST/#"));
  check(iothub::subscription_allowed(who, "$iothub/twin/res/#"));
  check(iothub::subscription_allowed(who, "$iothub/twin/PATCH/properties/desired/#"));
  check(!iothub::subscription_allowed(who, "#"));
  const std::string c2d = "devices/" + who.device_id + "/messages/devicebound/#";
  check(iothub::subscription_allowed(who, c2d) == !who.is_module());
  if (who.is_module()) {
    check(iothub::subscription_allowed(
        who, "devices/" + who.device_id + "/modules/" + who.module_id + "/#"));
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto f = outpost::fuzz::split_fields<field_count>(in);
  const std::uint8_t flags = f[7].empty() ? 0 : static_cast<std::uint8_t>(f[7][0]);
  const bool to_module = (flags & 4) != 0;

  iothub::client_identity who{"dev-1", ""};
  if (const auto id = iothub::parse_client_id(f[0])) {
    check_identity(*id);
    who = *id;
  } else {
    check(id.error() == iothub::errc::bad_client_id);
  }
  check_own_subscriptions(who);

  if (const auto user = iothub::parse_username(f[1]); !user) {
    check(user.error() == iothub::errc::bad_username);
  }
  check_sas(f[2], who, flags);
  check_topic(f[3], who, to_module);
  check_bag(f[4], f[6], to_module);
  check_subscription(who, f[5]);
  check_subscription(who, f[3]);
  return 0;
}
