#include "routing/model/message.hpp"

#include "protocols/common/big_endian.hpp"

#include <algorithm>

namespace outpost::routing {

namespace {

constexpr char format_version = 1;

void put_string(std::string& out, std::string_view s) {
  put_be32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

/// Bounds-checked reader over the encoded bytes.
struct reader {
  std::string_view in;
  std::size_t pos = 0;
  bool ok = true;

  std::uint32_t u32() {
    if (in.size() - pos < 4) {
      ok = false;
      return 0;
    }
    auto v = get_be32(in, pos);
    pos += 4;
    return v;
  }
  std::uint8_t u8() {
    if (pos >= in.size()) {
      ok = false;
      return 0;
    }
    return static_cast<std::uint8_t>(in[pos++]);
  }
  std::string str() {
    const auto n = u32();
    if (!ok || in.size() - pos < n) {
      ok = false;
      return {};
    }
    std::string s{in.substr(pos, n)};
    pos += n;
    return s;
  }
};

} // namespace

std::string_view system_property_name(system_property p) noexcept {
  static constexpr std::string_view names[] = {
      "messageId",
      "correlationId",
      "to",
      "userId",
      "absoluteExpiryTime",
      "contentType",
      "contentEncoding",
      "messageSchema",
      "creationTime",
      "outputName",
      "interfaceId",
      "componentName",
      "operation",
      "ack",
      "connectionDeviceId",
      "connectionModuleId",
      "inputName",
      "enqueuedTime",
      "edgeMessageId",
      "amqpIdTypes",
  };
  const auto i = static_cast<std::size_t>(p);
  return i < system_property_count ? names[i] : std::string_view{};
}

std::optional<std::string_view> message::get(system_property p) const noexcept {
  for (const auto& [k, v] : system_properties) {
    if (k == p) {
      return std::string_view{v};
    }
  }
  return std::nullopt;
}

void message::set(system_property p, std::string value) {
  for (auto& [k, v] : system_properties) {
    if (k == p) {
      v = std::move(value);
      return;
    }
  }
  system_properties.emplace_back(p, std::move(value));
}

std::optional<std::string_view> message::property(std::string_view name) const noexcept {
  for (const auto& [k, v] : properties) {
    if (k == name) {
      return std::string_view{v};
    }
  }
  return std::nullopt;
}

// Layout: version, u32 count + (u8 id, str) system properties, u32 count + (str, str)
// application properties, str body. Strings are u32 big-endian length + bytes.
std::string encode(const message& m) {
  std::string out;
  std::size_t size = 1 + 4 + 4 + 4 + m.body.size();
  for (const auto& [k, v] : m.system_properties) {
    size += 5 + v.size();
  }
  for (const auto& [k, v] : m.properties) {
    size += 8 + k.size() + v.size();
  }
  out.reserve(size);
  out.push_back(format_version);
  put_be32(out, static_cast<std::uint32_t>(m.system_properties.size()));
  for (const auto& [k, v] : m.system_properties) {
    out.push_back(static_cast<char>(k));
    put_string(out, v);
  }
  put_be32(out, static_cast<std::uint32_t>(m.properties.size()));
  for (const auto& [k, v] : m.properties) {
    put_string(out, k);
    put_string(out, v);
  }
  put_string(out, m.body);
  return out;
}

result<message> decode(std::string_view bytes) {
  reader r{bytes};
  const auto bad = std::make_error_code(std::errc::bad_message);
  if (r.u8() != format_version) {
    return bad;
  }
  message m;
  const auto nsys = r.u32();
  for (std::uint32_t i = 0; r.ok && i < nsys; ++i) {
    const auto id = r.u8();
    if (id >= system_property_count) {
      return bad;
    }
    m.system_properties.emplace_back(static_cast<system_property>(id), r.str());
  }
  const auto napp = r.u32();
  for (std::uint32_t i = 0; r.ok && i < napp; ++i) {
    auto k = r.str();
    m.properties.emplace_back(std::move(k), r.str());
  }
  m.body = r.str();
  if (!r.ok || r.pos != bytes.size()) {
    return bad;
  }
  return m;
}

} // namespace outpost::routing
