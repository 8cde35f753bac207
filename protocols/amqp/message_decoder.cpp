#include "protocols/amqp/message_decoder.hpp"

#include "protocols/amqp/detail/id_text.hpp"
#include "protocols/common/iso_time.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace outpost::amqp {

using routing::system_property;

namespace {

// AMQP 1.0 type codes (part 1, §1.6) this decoder reads.
constexpr std::uint8_t null_code = 0x40;
constexpr std::uint8_t true_code = 0x41;
constexpr std::uint8_t false_code = 0x42;
constexpr std::uint8_t uint0 = 0x43;
constexpr std::uint8_t ulong0 = 0x44;
constexpr std::uint8_t list0 = 0x45;
constexpr std::uint8_t ubyte_code = 0x50;
constexpr std::uint8_t byte_code = 0x51;
constexpr std::uint8_t smalluint = 0x52;
constexpr std::uint8_t smallulong = 0x53;
constexpr std::uint8_t smallint = 0x54;
constexpr std::uint8_t smalllong = 0x55;
constexpr std::uint8_t bool_code = 0x56;
constexpr std::uint8_t ushort_code = 0x60;
constexpr std::uint8_t short_code = 0x61;
constexpr std::uint8_t uint_code = 0x70;
constexpr std::uint8_t int_code = 0x71;
constexpr std::uint8_t ulong_code = 0x80;
constexpr std::uint8_t long_code = 0x81;
constexpr std::uint8_t timestamp_code = 0x83;
constexpr std::uint8_t uuid_code = 0x98;
constexpr std::uint8_t vbin8 = 0xa0;
constexpr std::uint8_t str8 = 0xa1;
constexpr std::uint8_t sym8 = 0xa3;
constexpr std::uint8_t vbin32 = 0xb0;
constexpr std::uint8_t str32 = 0xb1;
constexpr std::uint8_t sym32 = 0xb3;
constexpr std::uint8_t list8 = 0xc0;
constexpr std::uint8_t map8 = 0xc1;
constexpr std::uint8_t list32 = 0xd0;
constexpr std::uint8_t map32 = 0xd1;
constexpr std::uint8_t array8 = 0xe0;
constexpr std::uint8_t array32 = 0xf0;

// Message sections (part 3, §3.2), by descriptor code.
constexpr std::uint8_t header_section = 0x70;
constexpr std::uint8_t delivery_annotations_section = 0x71;
constexpr std::uint8_t message_annotations_section = 0x72;
constexpr std::uint8_t properties_section = 0x73;
constexpr std::uint8_t application_properties_section = 0x74;
constexpr std::uint8_t data_section = 0x75;
constexpr std::uint8_t amqp_value_section = 0x77;
constexpr std::uint8_t footer_section = 0x78;

constexpr int max_depth = 16; ///< nesting of skipped annotation values

/// One encoded value: its constructor code and its bytes after the constructor (for variable
/// and compound types, after the size and count).
struct value {
  std::uint8_t code = 0;
  std::string_view bytes;
  std::uint32_t count = 0; ///< elements of a list or map

  bool is_null() const { return code == null_code; }
};

class reader {
public:
  explicit reader(std::string_view in) : in_(in) {}

  bool empty() const { return in_.empty(); }

  /// The next primitive, compound or array value (not a described one: `false` for 0x00 and
  /// for codes this decoder does not know).
  bool next(value& v) {
    if (in_.empty()) {
      return false;
    }
    v.code = static_cast<std::uint8_t>(in_.front());
    in_.remove_prefix(1);
    return body(v);
  }

  /// The bytes of a value whose constructor `v.code` was read already (or is an array's).
  bool body(value& v) {
    v.count = 0;
    if (!known(v.code)) {
      return false;
    }
    switch (v.code >> 4) {
      case 0x4:
        return true;
      case 0x5:
        return take(1, v.bytes);
      case 0x6:
        return take(2, v.bytes);
      case 0x7:
        return take(4, v.bytes);
      case 0x8:
        return take(8, v.bytes);
      case 0x9:
        return take(16, v.bytes);
      case 0xa:
        return sized(1, v.bytes);
      case 0xb:
        return sized(4, v.bytes);
      case 0xc:
      case 0xe:
        return compound(1, v);
      default: // 0xd, 0xf
        return compound(4, v);
    }
  }

  /// A constructor code of AMQP's primitive, compound or array types (not 0x00, described).
  static bool known(std::uint8_t code) {
    switch (code >> 4) {
      case 0x4:
        return code <= list0;
      case 0x5:
        return code <= bool_code;
      case 0x6:
        return code <= short_code;
      case 0x7:
        return code <= 0x74; // uint, int, float, char, decimal32
      case 0x8:
        return code <= 0x84; // ulong, long, double, timestamp, decimal64
      case 0x9:
        return code == 0x94 || code == uuid_code;
      case 0xa:
        return code == vbin8 || code == str8 || code == sym8;
      case 0xb:
        return code == vbin32 || code == str32 || code == sym32;
      case 0xc:
        return code == list8 || code == map8;
      case 0xd:
        return code == list32 || code == map32;
      case 0xe:
        return code == array8;
      case 0xf:
        return code == array32;
      default:
        return false;
    }
  }

  /// A described section's numeric descriptor (`0x00 0x53 code` or `0x00 0x80 <8 bytes>`).
  bool descriptor(std::uint64_t& code) {
    value v;
    if (in_.empty() || in_.front() != '\x00') {
      return false;
    }
    in_.remove_prefix(1);
    return next(v) && unsigned_of(v, code) && (v.code == smallulong || v.code == ulong_code);
  }

  /// Skips one value of any kind this decoder knows, described ones and the contents of lists and
  /// maps included, checking every length.
  bool skip(int depth = 0) {
    if (depth > max_depth || in_.empty()) {
      return false;
    }
    if (in_.front() == '\x00') {
      // A descriptor is a ulong or a symbol (part 1, §1.2); any other (the fuzzer's empty
      // array) is left to Proton, whose mapping of it this decoder does not mirror.
      in_.remove_prefix(1);
      value d;
      if (!next(d)
          || (d.code != ulong0 && d.code != smallulong && d.code != ulong_code && d.code != sym8
              && d.code != sym32)) {
        return false;
      }
      // A described value that is itself described (the fuzzer's annotation values): Proton
      // reads the map around it differently, so it too is left to Proton.
      return !in_.empty() && in_.front() != '\x00' && skip(depth + 1);
    }
    value v;
    if (!next(v)) {
      return false;
    }
    return skip_contents(v, depth);
  }

  /// Checks what a list, map or array holds (each element whole, nothing left over).
  static bool skip_contents(const value& v, int depth) {
    if (depth > max_depth) {
      return false;
    }
    reader inner{v.bytes};
    if (v.code == array8 || v.code == array32) {
      return inner.skip_array(v.count, depth);
    }
    if (v.code != list8 && v.code != list32 && v.code != map8 && v.code != map32) {
      return true;
    }
    if ((v.code == map8 || v.code == map32) && v.count % 2 != 0) {
      return false;
    }
    for (std::uint32_t i = 0; i < v.count; ++i) {
      if (!inner.skip(depth + 1)) {
        return false;
      }
    }
    return inner.empty();
  }

  static bool unsigned_of(const value& v, std::uint64_t& out) {
    out = 0;
    switch (v.code) {
      case uint0:
      case ulong0:
        return true;
      case smalluint:
      case smallulong:
      case ubyte_code:
      case ushort_code:
      case uint_code:
      case ulong_code:
        for (char c : v.bytes) {
          out = (out << 8) | static_cast<unsigned char>(c);
        }
        return true;
      default:
        return false;
    }
  }

  static bool signed_of(const value& v, std::int64_t& out) {
    std::uint64_t u = 0;
    for (char c : v.bytes) {
      u = (u << 8) | static_cast<unsigned char>(c);
    }
    const auto bits = v.bytes.size() * 8;
    switch (v.code) {
      case byte_code:
      case smallint:
      case smalllong:
      case short_code:
      case int_code:
      case long_code:
      case timestamp_code:
        // Sign-extend the big-endian two's complement value.
        out = bits == 64 ? static_cast<std::int64_t>(u)
                         : static_cast<std::int64_t>(u << (64 - bits)) >> (64 - bits);
        return true;
      default:
        return false;
    }
  }

private:
  /// An array's one constructor (described or not), then `count` bodies of it.
  bool skip_array(std::uint32_t count, int depth) {
    if (in_.empty()) {
      return false;
    }
    if (in_.front() == '\x00') {
      in_.remove_prefix(1);
      if (!skip(depth + 1) || in_.empty()) {
        return false;
      }
    }
    value element;
    element.code = static_cast<std::uint8_t>(in_.front());
    in_.remove_prefix(1);
    // A zero-width element (null, true, uint0, ...) would let a few bytes claim 2^32 of them:
    // such arrays are left to Proton, so every element read here consumes input.
    if (!known(element.code) || (element.code >> 4) == 0x4) {
      return false;
    }
    for (std::uint32_t i = 0; i < count; ++i) {
      if (!body(element) || !skip_contents(element, depth + 1)) {
        return false;
      }
    }
    return in_.empty();
  }

  bool take(std::size_t n, std::string_view& out) {
    if (in_.size() < n) {
      return false;
    }
    out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }

  bool length(std::size_t width, std::uint32_t& out) {
    std::string_view b;
    if (!take(width, b)) {
      return false;
    }
    out = 0;
    for (char c : b) {
      out = (out << 8) | static_cast<unsigned char>(c);
    }
    return true;
  }

  bool sized(std::size_t width, std::string_view& out) {
    std::uint32_t n = 0;
    return length(width, n) && take(n, out);
  }

  /// A list or map: size (which counts the count's bytes), count, elements.
  bool compound(std::size_t width, value& v) {
    std::uint32_t size = 0;
    if (!length(width, size) || size < width || in_.size() < size) {
      return false;
    }
    if (!length(width, v.count)) {
      return false;
    }
    return take(size - width, v.bytes);
  }

  std::string_view in_;
};

bool is_string(const value& v) {
  return v.code == str8 || v.code == str32;
}
bool is_symbol(const value& v) {
  return v.code == sym8 || v.code == sym32;
}
bool is_binary(const value& v) {
  return v.code == vbin8 || v.code == vbin32;
}
bool is_list(const value& v) {
  return v.code == list0 || v.code == list8 || v.code == list32;
}
bool is_map(const value& v) {
  return v.code == map8 || v.code == map32;
}

/// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", lower case: Proton's `uuid::str()`.
std::string uuid_text(std::string_view b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) {
      out += '-';
    }
    const auto c = static_cast<unsigned char>(b[i]);
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

/// A message or correlation id: its text and type letter (see `from_amqp`); type 0 for none.
/// False for a type `from_amqp` does not map the same way.
bool id_of(const value& v, std::string& text, char& type) {
  type = 0;
  if (v.is_null()) {
    return true;
  }
  if (is_string(v)) {
    text.assign(v.bytes);
    type = 's';
    return true;
  }
  if (v.code == uuid_code) {
    text = uuid_text(v.bytes);
    type = 'u';
    return true;
  }
  if (is_binary(v)) {
    std::tie(text, type) = detail::binary_id_text(v.bytes);
    return true;
  }
  std::uint64_t n = 0;
  if ((v.code == ulong_code || v.code == smallulong || v.code == ulong0)
      && reader::unsigned_of(v, n)) {
    text = std::to_string(n);
    type = 'l';
    return true;
  }
  return false;
}

/// An application property's value as text, as `from_amqp` writes it; false for the types it
/// leaves to Proton's formatting (floating point, char, decimal, null) and compound values.
bool scalar_text(const value& v, std::string& out) {
  if (is_string(v) || is_symbol(v) || is_binary(v)) {
    out.assign(v.bytes);
    return true;
  }
  switch (v.code) {
    case true_code:
      out = "true";
      return true;
    case false_code:
      out = "false";
      return true;
    case bool_code:
      out = v.bytes[0] != 0 ? "true" : "false";
      return true;
    case uuid_code:
      out = uuid_text(v.bytes);
      return true;
    case timestamp_code: {
      std::int64_t ms = 0;
      reader::signed_of(v, ms);
      out = iso8601_ms(ms);
      return true;
    }
    default:
      break;
  }
  std::uint64_t u = 0;
  if (reader::unsigned_of(v, u)) {
    out = std::to_string(u);
    return true;
  }
  std::int64_t s = 0;
  if (reader::signed_of(v, s)) { // a timestamp was taken above
    out = std::to_string(s);
    return true;
  }
  return false;
}

/// What the sections hold, before it is put in `from_amqp`'s order.
struct fields {
  std::optional<std::string_view> body;
  std::string message_id;
  char message_id_type = 0;
  std::string correlation_id;
  char correlation_id_type = 0;
  std::string_view content_type;
  std::string_view content_encoding;
  std::string_view to;
  std::string_view user_id;
  std::int64_t expiry_ms = 0;
  std::vector<std::pair<std::string_view, std::string>> properties;
  std::optional<std::string_view> component_name;
  std::optional<std::string_view> interface_id;
};

/// A list's fields, each null or one of the types `ok` takes.
template <class Field>
bool each_field(const value& list, std::uint32_t max_fields, Field&& field) {
  if (list.count > max_fields) {
    return false;
  }
  reader r{list.bytes};
  for (std::uint32_t i = 0; i < list.count; ++i) {
    value v;
    if (!r.next(v) || !field(i, v)) {
      return false;
    }
  }
  return r.empty();
}

bool uint_or_null(const value& v) {
  std::uint64_t n = 0;
  return v.is_null()
         || ((v.code == uint0 || v.code == smalluint || v.code == uint_code)
             && reader::unsigned_of(v, n));
}
bool bool_or_null(const value& v) {
  return v.is_null() || v.code == true_code || v.code == false_code || v.code == bool_code;
}
/// Proton hands these fields out as C strings: one with a NUL would be cut short there.
bool c_string(const value& v) {
  return v.bytes.find('\0') == std::string_view::npos;
}
bool string_or_null(const value& v) {
  return v.is_null() || is_string(v);
}
bool symbol_or_null(const value& v) {
  return v.is_null() || is_symbol(v);
}
bool timestamp_or_null(const value& v) {
  return v.is_null() || v.code == timestamp_code;
}

bool header(const value& list) {
  return is_list(list) && each_field(list, 5, [](std::uint32_t i, const value& v) {
           switch (i) {
             case 0: // durable
             case 3: // first-acquirer
               return bool_or_null(v);
             case 1: // priority
               return v.is_null() || v.code == ubyte_code;
             default: // ttl, delivery-count
               return uint_or_null(v);
           }
         });
}

bool properties(const value& list, fields& f) {
  return is_list(list) && each_field(list, 13, [&f](std::uint32_t i, const value& v) {
           switch (i) {
             case 0:
               return id_of(v, f.message_id, f.message_id_type);
             case 1: // user-id
               if (is_binary(v)) {
                 f.user_id = v.bytes;
               }
               return v.is_null() || is_binary(v);
             case 2: // to
               f.to = v.bytes;
               return string_or_null(v) && c_string(v);
             case 5:
               return id_of(v, f.correlation_id, f.correlation_id_type);
             case 6:
               f.content_type = v.bytes;
               return symbol_or_null(v) && c_string(v);
             case 7:
               f.content_encoding = v.bytes;
               return symbol_or_null(v) && c_string(v);
             case 8:
               if (v.code == timestamp_code) {
                 reader::signed_of(v, f.expiry_ms);
               }
               return timestamp_or_null(v);
             case 9: // creation-time
               return timestamp_or_null(v);
             case 11: // group-sequence
               return uint_or_null(v);
             default: // subject, reply-to, group-id, reply-to-group-id
               return string_or_null(v);
           }
         });
}

bool application_properties(const value& map, fields& f) {
  if (!is_map(map) || map.count % 2 != 0) {
    return false;
  }
  reader r{map.bytes};
  for (std::uint32_t i = 0; i < map.count; i += 2) {
    value key;
    value v;
    std::string text;
    if (!r.next(key) || !is_string(key) || !r.next(v) || !scalar_text(v, text)) {
      return false;
    }
    // Proton's C++ message holds these in a sorted map: its order (and its handling of a
    // repeated key) is only ours when the keys arrive sorted and distinct.
    if (!f.properties.empty() && !(f.properties.back().first < key.bytes)) {
      return false;
    }
    f.properties.emplace_back(key.bytes, std::move(text));
  }
  return r.empty();
}

/// Annotation maps: keys symbol or ulong, values anything; `f` set for message annotations.
bool annotations(const value& map, fields* f) {
  if (!is_map(map) || map.count % 2 != 0) {
    return false;
  }
  reader r{map.bytes};
  for (std::uint32_t i = 0; i < map.count; i += 2) {
    value key;
    if (!r.next(key)
        || !(is_symbol(key) || key.code == smallulong || key.code == ulong_code
             || key.code == ulong0)) {
      return false;
    }
    if (f != nullptr && is_symbol(key)
        && (key.bytes == "dt-subject" || key.bytes == "iothub-interface-id")) {
      value v;
      if (!r.next(v) || !reader::skip_contents(v, 1)) {
        return false;
      }
      auto& slot = key.bytes == "dt-subject" ? f->component_name : f->interface_id;
      if (slot) {
        return false; // a repeated key: Proton's map keeps one, which is its business
      }
      if (is_string(v)) {
        slot = v.bytes;
      }
      continue;
    }
    if (!r.skip(1)) {
      return false;
    }
  }
  return r.empty();
}

bool section(reader& r, std::uint64_t code, fields& f) {
  value v;
  if (!r.next(v)) {
    return false;
  }
  switch (code) {
    case header_section:
      return header(v);
    case delivery_annotations_section:
    case footer_section:
      return annotations(v, nullptr);
    case message_annotations_section:
      return annotations(v, &f);
    case properties_section:
      return properties(v, f);
    case application_properties_section:
      return application_properties(v, f);
    case data_section:
      f.body = v.bytes;
      return is_binary(v);
    case amqp_value_section:
      if (f.body) {
        return false; // a second body section
      }
      f.body = v.bytes;
      return is_string(v) || is_binary(v) || v.is_null();
    default:
      return false; // amqp-sequence, or no section at all
  }
}

void assemble(fields& f, routing::message& out) {
  out.body.assign(f.body.value_or(std::string_view{}));
  if (f.message_id_type != 0) {
    out.set(system_property::message_id, std::move(f.message_id));
  }
  if (f.correlation_id_type != 0) {
    out.set(system_property::correlation_id, std::move(f.correlation_id));
  }
  const char mid = f.message_id_type;
  const char cid = f.correlation_id_type;
  if ((mid != 0 && mid != 's') || (cid != 0 && cid != 's')) {
    out.set(system_property::amqp_id_types, std::string{mid ? mid : 's', cid ? cid : 's'});
  }
  const std::pair<system_property, std::string_view> texts[] = {
      {system_property::content_type, f.content_type},
      {system_property::content_encoding, f.content_encoding},
      {system_property::to, f.to},
      {system_property::user_id, f.user_id},
  };
  for (const auto& [p, text] : texts) {
    if (!text.empty()) {
      out.set(p, std::string{text});
    }
  }
  if (f.expiry_ms > 0) {
    out.set(system_property::absolute_expiry_time, iso8601_ms(f.expiry_ms));
  }
  static const std::pair<std::string_view, system_property> system_app[] = {
      {"iothub-outputname", system_property::output_name},
      {"iothub-message-schema", system_property::message_schema},
      {"iothub-creation-time-utc", system_property::creation_time},
      {"iothub-operation", system_property::operation},
      {"iothub-ack", system_property::ack},
  };
  for (auto& [name, text] : f.properties) {
    const system_property* p = nullptr;
    for (const auto& [key, sp] : system_app) {
      if (name == key) {
        p = &sp;
        break;
      }
    }
    if (p != nullptr) {
      out.set(*p, std::move(text));
    } else {
      out.properties.emplace_back(std::string{name}, std::move(text));
    }
  }
  if (f.component_name) {
    out.set(system_property::component_name, std::string{*f.component_name});
  }
  if (f.interface_id) {
    out.set(system_property::interface_id, std::string{*f.interface_id});
  }
}

} // namespace

message_decoder::status message_decoder::decode(std::string_view bytes, routing::message& out) {
  out = routing::message{};
  reader r{bytes};
  fields f;
  std::uint64_t last = 0;
  if (r.empty()) {
    return status::other;
  }
  while (!r.empty()) {
    std::uint64_t code = 0;
    // Sections in the order the spec gives, each at most once (one body section).
    if (!r.descriptor(code) || code <= last || code > footer_section || !section(r, code, f)) {
      return status::other;
    }
    last = code;
  }
  assemble(f, out);
  return status::ok;
}

} // namespace outpost::amqp
