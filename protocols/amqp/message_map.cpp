#include "protocols/amqp/message_map.hpp"

#include "protocols/amqp/detail/id_text.hpp"
#include "protocols/common/iso_time.hpp"

#include <cctype>
#include <cstdio>
#include <ctime>
#include <memory>
#include <utility>
#include <vector>

#include <proton/annotation_key.hpp>
#include <proton/binary.hpp>
#include <proton/codec.h>
#include <proton/codec/decoder.hpp>
#include <proton/codec/vector.hpp>
#include <proton/message.hpp>
#include <proton/message_id.hpp>
#include <proton/scalar.hpp>
#include <proton/symbol.hpp>
#include <proton/timestamp.hpp>
#include <proton/uuid.hpp>
#include <proton/value.hpp>

namespace outpost::amqp {

using routing::system_property;

namespace {

/// An id's string form and its type letter. A binary id that is UTF-8 text is that text (`b`);
/// any other is shown in hex (`x`): MQTT's property bag and the SDKs carry text only.
std::pair<std::string, char> id_text(const proton::message_id& id) {
  switch (id.type()) {
    case proton::UUID:
      return {proton::get<proton::uuid>(id).str(), 'u'};
    case proton::ULONG:
      return {std::to_string(proton::get<std::uint64_t>(id)), 'l'};
    case proton::BINARY: {
      const auto b = proton::get<proton::binary>(id);
      return detail::binary_id_text(
          std::string_view{reinterpret_cast<const char*>(b.data()), b.size()});
    }
    case proton::STRING:
      return {proton::get<std::string>(id), 's'};
    default:
      return {{}, 0};
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/// The id `text` as type `type` (a letter of `id_text`); a string when it does not parse.
proton::message_id id_value(const std::string& text, char type) {
  if (type == 'u' && text.size() == 36) {
    char bytes[16];
    std::size_t n = 0;
    for (std::size_t i = 0; i < text.size() && n < 16;) {
      if (text[i] == '-') {
        ++i;
        continue;
      }
      const int hi = i + 1 < text.size() ? hex_digit(text[i]) : -1;
      const int lo = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
      if (hi < 0 || lo < 0) {
        return text;
      }
      bytes[n++] = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    return n == 16 ? proton::message_id{proton::uuid::copy(bytes)} : proton::message_id{text};
  }
  if (type == 'l' && !text.empty() && text.size() <= 20) {
    std::uint64_t v = 0;
    for (char c : text) {
      if (c < '0' || c > '9') {
        return text;
      }
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return proton::message_id{v};
  }
  if (type == 'b') {
    return proton::message_id{proton::binary(text)};
  }
  if (type == 'x' && text.size() % 2 == 0) {
    std::string bytes;
    for (std::size_t i = 0; i < text.size(); i += 2) {
      const int hi = hex_digit(text[i]);
      const int lo = hex_digit(text[i + 1]);
      if (hi < 0 || lo < 0) {
        return text;
      }
      bytes += static_cast<char>(hi * 16 + lo);
    }
    return proton::message_id{proton::binary(bytes)};
  }
  return text;
}

std::string scalar_text(const proton::scalar& s) {
  switch (s.type()) {
    case proton::STRING:
      return proton::get<std::string>(s);
    case proton::SYMBOL:
      return proton::get<proton::symbol>(s);
    case proton::BINARY: {
      const auto b = proton::get<proton::binary>(s);
      return std::string(b.begin(), b.end());
    }
    case proton::UUID:
      return proton::get<proton::uuid>(s).str();
    case proton::TIMESTAMP:
      return iso8601_ms(proton::get<proton::timestamp>(s).milliseconds());
    case proton::BOOLEAN:
      return proton::get<bool>(s) ? "true" : "false";
    default:
      return proton::to_string(s);
  }
}

/// Application properties that are system properties in IoT Hub's model.
std::optional<system_property> system_app_property(const std::string& name) {
  static const std::pair<const char*, system_property> table[] = {
      {"iothub-outputname", system_property::output_name},
      {"iothub-message-schema", system_property::message_schema},
      {"iothub-creation-time-utc", system_property::creation_time},
      {"iothub-operation", system_property::operation},
      {"iothub-ack", system_property::ack},
  };
  for (const auto& [key, p] : table) {
    if (name == key) {
      return p;
    }
  }
  return std::nullopt;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-aliasing"
/// The C codec under a value: its binary is read in place, where `proton::get<binary>` would
/// first copy it into a vector (a second copy of every telemetry body).
struct data_access : proton::internal::data {
  static pn_data_t* get(const proton::internal::data& d) {
    return (d.*(&data_access::pn_object))();
  }
};
#pragma GCC diagnostic pop

result<std::string> body_of(const proton::message& in) {
  const auto& body = in.body();
  switch (body.type()) {
    case proton::NULL_TYPE:
      return std::string{};
    case proton::BINARY: {
      proton::codec::decoder dec{body};
      pn_data_t* data = data_access::get(dec);
      pn_data_rewind(data);
      if (!pn_data_next(data) || pn_data_type(data) != PN_BINARY) {
        return std::make_error_code(std::errc::bad_message);
      }
      const pn_bytes_t b = pn_data_get_binary(data);
      return std::string(b.start, b.size); // the one copy
    }
    case proton::STRING:
      return proton::get<std::string>(body);
    default:
      return std::make_error_code(std::errc::bad_message);
  }
}

} // namespace

result<routing::message> from_amqp(const proton::message& in) {
  routing::message out;
  auto body = body_of(in);
  if (!body) {
    return body.error();
  }
  out.body = std::move(*body);
  std::string types;
  const auto [mid, mid_type] = id_text(in.id());
  const auto [cid, cid_type] = id_text(in.correlation_id());
  if (mid_type != 0) {
    out.set(system_property::message_id, mid);
  }
  if (cid_type != 0) {
    out.set(system_property::correlation_id, cid);
  }
  if ((mid_type != 0 && mid_type != 's') || (cid_type != 0 && cid_type != 's')) {
    out.set(system_property::amqp_id_types,
            std::string{mid_type ? mid_type : 's', cid_type ? cid_type : 's'});
  }
  if (auto v = in.content_type(); !v.empty()) {
    out.set(system_property::content_type, v);
  }
  if (auto v = in.content_encoding(); !v.empty()) {
    out.set(system_property::content_encoding, v);
  }
  if (auto v = in.to(); !v.empty()) {
    out.set(system_property::to, v);
  }
  if (auto v = in.user(); !v.empty()) {
    out.set(system_property::user_id, v);
  }
  if (const auto exp = in.expiry_time().milliseconds(); exp > 0) {
    out.set(system_property::absolute_expiry_time, iso8601_ms(exp));
  }
  if (!in.properties().empty()) {
    std::vector<std::pair<std::string, proton::scalar>> props;
    proton::get(in.properties().value(), props);
    for (auto& [name, value] : props) {
      auto text = scalar_text(value);
      if (auto p = system_app_property(name)) {
        out.set(*p, std::move(text));
      } else {
        out.properties.emplace_back(std::move(name), std::move(text));
      }
    }
  }
  if (!in.message_annotations().empty()) {
    std::vector<std::pair<proton::annotation_key, proton::value>> annotations;
    proton::get(in.message_annotations().value(), annotations);
    for (const auto& [key, value] : annotations) {
      if (key.type() != proton::SYMBOL || value.type() != proton::STRING) {
        continue;
      }
      const std::string name = proton::get<proton::symbol>(key);
      if (name == "dt-subject") {
        out.set(system_property::component_name, proton::get<std::string>(value));
      } else if (name == "iothub-interface-id") {
        out.set(system_property::interface_id, proton::get<std::string>(value));
      }
    }
  }
  return out;
}

result<std::vector<routing::message>> from_amqp_batch(std::string_view payload,
                                                      std::size_t max_messages) {
  const auto bad = std::make_error_code(std::errc::bad_message);
  std::unique_ptr<pn_data_t, void (*)(pn_data_t*)> data{pn_data(0), &pn_data_free};
  std::vector<routing::message> out;
  proton::message inner;
  while (!payload.empty()) {
    pn_data_clear(data.get());
    const auto n = pn_data_decode(data.get(), payload.data(), payload.size());
    if (n <= 0) {
      return bad;
    }
    payload.remove_prefix(static_cast<std::size_t>(n));
    pn_data_rewind(data.get());
    if (!pn_data_next(data.get()) || pn_data_type(data.get()) != PN_DESCRIBED) {
      return bad;
    }
    pn_data_enter(data.get());
    if (!pn_data_next(data.get()) || pn_data_type(data.get()) != PN_ULONG) {
      return bad;
    }
    if (pn_data_get_ulong(data.get()) != 0x75) {
      continue; // header, annotations, properties, application properties, footer
    }
    if (!pn_data_next(data.get()) || pn_data_type(data.get()) != PN_BINARY) {
      return bad;
    }
    if (out.size() == max_messages) {
      return bad;
    }
    const pn_bytes_t b = pn_data_get_binary(data.get());
    if (b.size < 3 || b.start[0] != 0) {
      return bad; // a message is sections, each a described value (Proton would take "")
    }
    try {
      inner.clear();
      inner.decode(std::vector<char>(b.start, b.start + b.size));
    } catch (const std::exception&) {
      return bad; // proton::error: not an encoded message
    }
    auto msg = from_amqp(inner);
    if (!msg) {
      return msg.error();
    }
    out.push_back(std::move(*msg));
  }
  if (out.empty()) {
    return bad;
  }
  return out;
}

namespace {

/// The properties both directions carry: ids, the properties section, application
/// properties (with `extra` system properties as IoT Hub's application properties), a Data
/// body.
proton::message common_message(const routing::message& in, bool output_name) {
  proton::message out;
  const auto types = in.get(system_property::amqp_id_types).value_or("ss");
  if (auto v = in.get(system_property::message_id)) {
    out.id(id_value(std::string{*v}, types.size() > 0 ? types[0] : 's'));
  }
  if (auto v = in.get(system_property::correlation_id)) {
    out.correlation_id(id_value(std::string{*v}, types.size() > 1 ? types[1] : 's'));
  }
  if (auto v = in.get(system_property::content_type)) {
    out.content_type(std::string{*v});
  }
  if (auto v = in.get(system_property::content_encoding)) {
    out.content_encoding(std::string{*v});
  }
  if (auto v = in.get(system_property::to)) {
    out.to(std::string{*v});
  }
  if (auto v = in.get(system_property::user_id)) {
    out.user(std::string{*v});
  }
  if (auto v = in.get(system_property::absolute_expiry_time)) {
    if (auto ms = parse_iso8601_ms(std::string{*v})) {
      out.expiry_time(proton::timestamp{*ms});
    }
  }
  std::vector<std::pair<std::string, proton::scalar>> props;
  for (const auto& [name, value] : in.properties) {
    props.emplace_back(name, proton::scalar{value});
  }
  const std::pair<system_property, const char*> as_props[] = {
      {system_property::message_schema, "iothub-message-schema"},
      {system_property::creation_time, "iothub-creation-time-utc"},
      {system_property::operation, "iothub-operation"},
      {system_property::ack, "iothub-ack"},
  };
  for (const auto& [p, name] : as_props) {
    if (auto v = in.get(p)) {
      props.emplace_back(name, proton::scalar{std::string{*v}});
    }
  }
  if (output_name) {
    if (auto v = in.get(system_property::output_name)) {
      props.emplace_back("iothub-outputname", proton::scalar{std::string{*v}});
    }
  }
  if (!props.empty()) {
    out.properties().value(proton::value{props});
  }
  out.body(proton::binary(in.body));
  out.inferred(true); // a Data section, which the SDKs read (`body.content`)
  return out;
}

} // namespace

proton::message to_amqp_telemetry(const routing::message& in) {
  auto out = common_message(in, true);
  auto& annotations = out.message_annotations();
  const std::pair<system_property, const char*> as_annotations[] = {
      {system_property::component_name, "dt-subject"},
      {system_property::interface_id, "iothub-interface-id"},
  };
  for (const auto& [p, name] : as_annotations) {
    if (auto v = in.get(p)) {
      annotations.put(proton::symbol{name}, proton::value{std::string{*v}});
    }
  }
  return out;
}

proton::message to_amqp(const routing::message& in, const outbound_stamp& stamp) {
  auto out = common_message(in, false);
  auto& annotations = out.message_annotations();
  const std::pair<system_property, const char*> as_annotations[] = {
      {system_property::input_name, "x-opt-input-name"},
      {system_property::connection_device_id, "iothub-connection-device-id"},
      {system_property::connection_module_id, "iothub-connection-module-id"},
      {system_property::component_name, "dt-subject"},
      {system_property::interface_id, "iothub-interface-id"},
  };
  for (const auto& [p, name] : as_annotations) {
    if (auto v = in.get(p)) {
      annotations.put(proton::symbol{name}, proton::value{std::string{*v}});
    }
  }
  if (auto v = in.get(system_property::enqueued_time)) {
    if (auto ms = parse_iso8601_ms(std::string{*v})) {
      annotations.put(proton::symbol{"iothub-enqueuedtime"}, proton::timestamp{*ms});
    }
  }
  if (stamp.sequence_number != 0) {
    annotations.put(proton::symbol{"x-opt-sequence-number"},
                    static_cast<std::int64_t>(stamp.sequence_number));
  }
  annotations.put(proton::symbol{"iothub-deliverycount"}, stamp.delivery_count);
  if (!stamp.lock_token.empty()) {
    annotations.put(proton::symbol{"x-opt-lock-token"}, id_value(stamp.lock_token, 'u'));
  }
  return out;
}

result<std::int64_t> parse_iso8601_ms(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed)
          != 6
      || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  std::int64_t ms = 0;
  std::size_t i = static_cast<std::size_t>(consumed);
  if (i < text.size() && text[i] == '.') {
    int digits = 0;
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      if (digits < 3) {
        ms = ms * 10 + (text[i] - '0');
      }
      ++digits;
    }
    for (; digits < 3; ++digits) {
      ms *= 10;
    }
  }
  if (i + 1 != text.size() || text[i] != 'Z') {
    return std::make_error_code(std::errc::invalid_argument);
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

} // namespace outpost::amqp
