#include "tools/loadgen/amqp_codec.hpp"

#include <cstring>
#include <limits>

namespace outpost::loadgen::amqp {

namespace {

// Descriptor chains (a described descriptor of a described descriptor ...) are the only
// recursion of the reader: bounded, so hostile input cannot exhaust the stack.
constexpr int max_depth = 16;

void put_be16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

void put_be32(std::string& out, std::uint32_t v) {
  put_be16(out, static_cast<std::uint16_t>(v >> 16));
  put_be16(out, static_cast<std::uint16_t>(v));
}

void patch_be32(std::string& out, std::size_t at, std::uint32_t v) {
  out[at] = static_cast<char>(v >> 24);
  out[at + 1] = static_cast<char>(v >> 16);
  out[at + 2] = static_cast<char>(v >> 8);
  out[at + 3] = static_cast<char>(v);
}

std::uint64_t be(std::string_view b) {
  std::uint64_t v = 0;
  for (char c : b) {
    v = (v << 8) | static_cast<unsigned char>(c);
  }
  return v;
}

/// Variable-width data: the 1-byte size form when it fits.
void put_variable(std::string& out, std::uint8_t small, std::uint8_t large, std::string_view v) {
  if (v.size() <= 255) {
    out.push_back(static_cast<char>(small));
    out.push_back(static_cast<char>(v.size()));
  } else {
    out.push_back(static_cast<char>(large));
    put_be32(out, static_cast<std::uint32_t>(v.size()));
  }
  out.append(v);
}

void put_optional_uint(std::string& out, const std::optional<std::uint32_t>& v) {
  if (v) {
    put_uint(out, *v);
  } else {
    put_null(out);
  }
}

/// A performative frame: header, descriptor, a list32 of `fields` written by `body`.
template <class F>
void performative_frame(std::string& out, std::uint16_t channel, std::uint64_t code,
                        std::uint32_t count, F&& body) {
  const auto at = start_frame(out, channel);
  put_descriptor(out, code);
  compound list(out, false);
  body();
  list.finish(count);
  finish_frame(out, at);
}

/// A source or target with just an address (none when empty: every field defaulted).
void put_terminus(std::string& out, std::uint64_t code, std::string_view address) {
  put_descriptor(out, code);
  compound list(out, false);
  if (address.empty()) {
    list.finish(0);
    return;
  }
  put_string(out, address);
  list.finish(1);
}

} // namespace

// ---- encoding ---------------------------------------------------------------------------------

void put_null(std::string& out) {
  out.push_back('\x40');
}

void put_bool(std::string& out, bool v) {
  out.push_back(v ? '\x41' : '\x42');
}

void put_ubyte(std::string& out, std::uint8_t v) {
  out.push_back('\x50');
  out.push_back(static_cast<char>(v));
}

void put_ushort(std::string& out, std::uint16_t v) {
  out.push_back('\x60');
  put_be16(out, v);
}

void put_uint(std::string& out, std::uint32_t v) {
  if (v == 0) {
    out.push_back('\x43');
  } else if (v < 256) {
    out.push_back('\x52');
    out.push_back(static_cast<char>(v));
  } else {
    out.push_back('\x70');
    put_be32(out, v);
  }
}

void put_ulong(std::string& out, std::uint64_t v) {
  if (v == 0) {
    out.push_back('\x44');
  } else if (v < 256) {
    out.push_back('\x53');
    out.push_back(static_cast<char>(v));
  } else {
    out.push_back('\x80');
    put_be32(out, static_cast<std::uint32_t>(v >> 32));
    put_be32(out, static_cast<std::uint32_t>(v));
  }
}

void put_int(std::string& out, std::int32_t v) {
  if (v >= -128 && v <= 127) {
    out.push_back('\x54');
    out.push_back(static_cast<char>(v));
  } else {
    out.push_back('\x71');
    put_be32(out, static_cast<std::uint32_t>(v));
  }
}

void put_string(std::string& out, std::string_view v) {
  put_variable(out, 0xa1, 0xb1, v);
}

void put_symbol(std::string& out, std::string_view v) {
  put_variable(out, 0xa3, 0xb3, v);
}

void put_binary(std::string& out, std::string_view v) {
  put_variable(out, 0xa0, 0xb0, v);
}

void put_descriptor(std::string& out, std::uint64_t code) {
  out.push_back('\x00');
  put_ulong(out, code);
}

compound::compound(std::string& out, bool map) : out_(out), at_(out.size()) {
  out_.push_back(map ? '\xd1' : '\xd0');
  out_.append(8, '\0'); // size and count: finish()
}

void compound::finish(std::uint32_t count) {
  // size counts the bytes after the size field: the count and the items.
  patch_be32(out_, at_ + 1, static_cast<std::uint32_t>(out_.size() - at_ - 5));
  patch_be32(out_, at_ + 5, count);
}

std::size_t start_frame(std::string& out, std::uint16_t channel) {
  const auto at = out.size();
  out.append(4, '\0');
  out.push_back('\x02'); // doff: 2 words, no extended header
  out.push_back('\x00'); // AMQP frame
  put_be16(out, channel);
  return at;
}

void finish_frame(std::string& out, std::size_t at) {
  patch_be32(out, at, static_cast<std::uint32_t>(out.size() - at));
}

void encode_empty_frame(std::string& out) {
  finish_frame(out, start_frame(out, 0));
}

void encode_open(std::string& out, const open_fields& f) {
  performative_frame(out, 0, code::open, 4, [&] {
    put_string(out, f.container_id);
    put_string(out, f.hostname);
    put_uint(out, f.max_frame_size);
    put_ushort(out, f.channel_max);
  });
}

void encode_begin(std::string& out, std::uint16_t channel, const begin_fields& f) {
  performative_frame(out, channel, code::begin, 4, [&] {
    put_null(out); // remote-channel: we begin the session
    put_uint(out, f.next_outgoing_id);
    put_uint(out, f.incoming_window);
    put_uint(out, f.outgoing_window);
  });
}

void encode_attach(std::string& out, std::uint16_t channel, const attach_fields& f) {
  const bool sender = !f.receiver;
  performative_frame(out, channel, code::attach, sender ? 10 : 7, [&] {
    put_string(out, f.name);
    put_uint(out, f.handle);
    put_bool(out, f.receiver);
    f.snd_settle_mode ? put_ubyte(out, *f.snd_settle_mode) : put_null(out);
    f.rcv_settle_mode ? put_ubyte(out, *f.rcv_settle_mode) : put_null(out);
    put_terminus(out, code::source, f.source_address);
    put_terminus(out, code::target, f.target_address);
    if (sender) {
      put_null(out);    // unsettled
      put_null(out);    // incomplete-unsettled
      put_uint(out, 0); // initial-delivery-count: required of a sender
    }
  });
}

void encode_flow(std::string& out, std::uint16_t channel, const flow_fields& f) {
  performative_frame(out, channel, code::flow, 7, [&] {
    put_optional_uint(out, f.next_incoming_id);
    put_uint(out, f.incoming_window);
    put_uint(out, f.next_outgoing_id);
    put_uint(out, f.outgoing_window);
    put_optional_uint(out, f.handle);
    put_optional_uint(out, f.delivery_count);
    put_optional_uint(out, f.link_credit);
  });
}

namespace {

/// A transfer; `id_at` and `tag_at` say where delivery-id's 4 bytes and the tag's bytes went.
void encode_transfer_at(std::string& out, std::uint16_t channel, const transfer_fields& f,
                        std::string_view message, std::size_t& id_at, std::size_t& tag_at) {
  const auto at = start_frame(out, channel);
  put_descriptor(out, code::transfer);
  compound list(out, false);
  put_uint(out, f.handle);
  out.push_back('\x70'); // a full uint whatever the value: patchable in place
  id_at = out.size();
  put_be32(out, f.delivery_id);
  put_binary(out, f.delivery_tag);
  tag_at = out.size() - f.delivery_tag.size();
  put_uint(out, f.message_format);
  put_bool(out, f.settled);
  list.finish(5);
  out.append(message);
  finish_frame(out, at);
}

} // namespace

void encode_transfer(std::string& out, std::uint16_t channel, const transfer_fields& f,
                     std::string_view message) {
  std::size_t id_at = 0;
  std::size_t tag_at = 0;
  encode_transfer_at(out, channel, f, message, id_at, tag_at);
}

void encode_disposition(std::string& out, std::uint16_t channel, const disposition_fields& f) {
  performative_frame(out, channel, code::disposition, 5, [&] {
    put_bool(out, f.receiver);
    put_uint(out, f.first);
    put_uint(out, f.last);
    put_bool(out, f.settled);
    put_descriptor(out, f.state);
    compound outcome(out, false);
    outcome.finish(0);
  });
}

void encode_close(std::string& out) {
  performative_frame(out, 0, code::close, 0, [] {});
}

void encode_properties(std::string& out, std::string_view message_id, std::string_view reply_to) {
  put_descriptor(out, code::properties);
  compound list(out, false);
  put_string(out, message_id);
  put_null(out); // user-id
  put_null(out); // to
  put_null(out); // subject
  put_string(out, reply_to);
  list.finish(5);
}

void encode_application_properties(
    std::string& out, const std::vector<std::pair<std::string, std::string>>& string_properties) {
  put_descriptor(out, code::application_properties);
  compound map(out, true);
  for (const auto& [k, v] : string_properties) {
    put_string(out, k);
    put_string(out, v);
  }
  map.finish(static_cast<std::uint32_t>(string_properties.size() * 2));
}

void encode_amqp_value_string(std::string& out, std::string_view body) {
  put_descriptor(out, code::amqp_value);
  put_string(out, body);
}

void encode_data(std::string& out, std::string_view body) {
  put_descriptor(out, code::data);
  put_binary(out, body);
}

transfer_template::transfer_template(std::uint16_t channel, std::uint32_t handle,
                                     std::string_view message, std::uint32_t message_format) {
  const char tag[8] = {};
  transfer_fields f;
  f.handle = handle;
  f.message_format = message_format;
  f.delivery_tag = std::string_view{tag, sizeof tag};
  encode_transfer_at(frame_, channel, f, message, id_at_, tag_at_);
}

void transfer_template::append(std::string& out, std::uint32_t delivery_id,
                               std::uint64_t tag) const {
  const auto at = out.size();
  out.append(frame_);
  patch_be32(out, at + id_at_, delivery_id);
  std::memcpy(out.data() + at + tag_at_, &tag, sizeof tag); // any 8 bytes unique per link
}

// ---- decoding ---------------------------------------------------------------------------------

bool reader::take(std::size_t n, std::string_view& out) {
  if (n > in_.size() - pos_) {
    return false;
  }
  out = in_.substr(pos_, n);
  pos_ += n;
  return true;
}

error reader::next(value& v) {
  return read(v, 0);
}

error reader::next_element(std::uint8_t ctor, value& v) {
  v = value{};
  return read_typed(ctor, v, 0);
}

error reader::read(value& v, int depth) {
  if (depth > max_depth) {
    return "descriptors nested too deep";
  }
  std::string_view c;
  if (!take(1, c)) {
    return "truncated value";
  }
  const auto ctor = static_cast<std::uint8_t>(c[0]);
  if (ctor != 0x00) {
    v = value{};
    return read_typed(ctor, v, depth);
  }
  value d;
  if (auto e = read(d, depth + 1)) {
    return e;
  }
  if (auto e = read(v, depth + 1)) {
    return e;
  }
  v.described = true;
  if (d.kind == type::ulong) {
    v.descriptor = d.u;
    v.descriptor_symbol = {};
  } else if (d.kind == type::symbol) {
    v.descriptor = 0;
    v.descriptor_symbol = d.bytes;
  } else {
    return "a descriptor must be a ulong or a symbol";
  }
  return nullptr;
}

namespace {

/// Fixed-width primitives by constructor: a table, as every field of every frame looks here.
struct fixed_entry {
  bool known = false;
  type t = type::null;
  std::uint8_t width = 0;
};

struct fixed_table {
  fixed_entry e[256];
  constexpr fixed_table() : e{} {
    set(0x40, type::null, 0);
    set(0x41, type::boolean, 0);
    set(0x42, type::boolean, 0);
    set(0x56, type::boolean, 1);
    set(0x50, type::ubyte, 1);
    set(0x60, type::ushort, 2);
    set(0x70, type::uint, 4);
    set(0x52, type::uint, 1);
    set(0x43, type::uint, 0);
    set(0x80, type::ulong, 8);
    set(0x53, type::ulong, 1);
    set(0x44, type::ulong, 0);
    set(0x51, type::byte, 1);
    set(0x61, type::short_, 2);
    set(0x71, type::int_, 4);
    set(0x54, type::int_, 1);
    set(0x81, type::long_, 8);
    set(0x55, type::long_, 1);
    set(0x72, type::float_, 4);
    set(0x82, type::double_, 8);
    set(0x74, type::decimal, 4);
    set(0x84, type::decimal, 8);
    set(0x94, type::decimal, 16);
    set(0x73, type::char_, 4);
    set(0x83, type::timestamp, 8);
    set(0x98, type::uuid, 16);
  }
  constexpr void set(std::uint8_t ctor, type t, std::uint8_t width) { e[ctor] = {true, t, width}; }
};

constexpr fixed_table fixed_types;

std::int64_t sign_extend(std::uint64_t v, std::size_t width) {
  if (width == 0 || width >= 8) {
    return static_cast<std::int64_t>(v);
  }
  const auto bits = static_cast<unsigned>(width * 8);
  const std::uint64_t sign = std::uint64_t{1} << (bits - 1);
  return static_cast<std::int64_t>((v ^ sign) - sign);
}

void set_fixed(std::uint8_t ctor, type t, std::string_view b, value& v) {
  v.kind = t;
  v.bytes = b;
  const auto raw = be(b);
  switch (t) {
    case type::boolean:
      v.u = ctor == 0x41 || (ctor == 0x56 && raw != 0);
      break;
    case type::byte:
    case type::short_:
    case type::int_:
    case type::long_:
    case type::timestamp:
      v.i = sign_extend(raw, b.size());
      break;
    case type::float_: {
      float f;
      const auto bits = static_cast<std::uint32_t>(raw);
      std::memcpy(&f, &bits, sizeof f);
      v.f = f;
      break;
    }
    case type::double_:
      std::memcpy(&v.f, &raw, sizeof v.f);
      break;
    default:
      v.u = raw;
  }
}

} // namespace

error reader::read_typed(std::uint8_t ctor, value& v, int depth) {
  std::string_view b;
  if (const auto& f = fixed_types.e[ctor]; f.known) {
    if (!take(f.width, b)) {
      return "truncated fixed-width value";
    }
    set_fixed(ctor, f.t, b, v);
    return nullptr;
  }
  switch (ctor) {
    case 0xa0:
    case 0xa1:
    case 0xa3:
    case 0xb0:
    case 0xb1:
    case 0xb3: {
      const std::size_t size_width = (ctor & 0xf0) == 0xa0 ? 1 : 4;
      if (!take(size_width, b) || !take(be(b), v.bytes)) {
        return "truncated variable-width value";
      }
      const auto low = ctor & 0x0f;
      v.kind = low == 0 ? type::binary : low == 1 ? type::string : type::symbol;
      return nullptr;
    }
    case 0x45:
      v.kind = type::list;
      return nullptr;
    case 0xc0:
    case 0xc1:
    case 0xd0:
    case 0xd1: {
      const std::size_t w = (ctor & 0xf0) == 0xc0 ? 1 : 4;
      std::string_view body;
      if (!take(w, b) || !take(be(b), body) || body.size() < w) {
        return "truncated list or map";
      }
      v.kind = (ctor & 0x0f) == 0 ? type::list : type::map;
      v.count = static_cast<std::uint32_t>(be(body.substr(0, w)));
      v.bytes = body.substr(w);
      // Every item takes at least a byte: a larger count is a lie.
      if (v.count > v.bytes.size() || (v.kind == type::map && v.count % 2 != 0)) {
        return "bad list or map count";
      }
      return nullptr;
    }
    case 0xe0:
    case 0xf0:
      return read_array(ctor, v, depth);
    default:
      return "unknown type constructor";
  }
}

error reader::read_array(std::uint8_t ctor, value& v, int depth) {
  const std::size_t w = ctor == 0xe0 ? 1 : 4;
  std::string_view b;
  std::string_view body;
  if (!take(w, b) || !take(be(b), body) || body.size() < w + 1) {
    return "truncated array";
  }
  v.kind = type::array;
  v.count = static_cast<std::uint32_t>(be(body.substr(0, w)));
  reader inner(body.substr(w));
  std::string_view element;
  if (!inner.take(1, element)) {
    return "truncated array";
  }
  v.element = static_cast<std::uint8_t>(element[0]);
  if (v.element == 0x00) {
    // Described elements: one descriptor for all, then their constructor.
    value d;
    if (auto e = inner.read(d, depth + 1)) {
      return e;
    }
    if (!inner.take(1, element)) {
      return "truncated array";
    }
    v.element = static_cast<std::uint8_t>(element[0]);
    v.described = true;
    v.descriptor = d.u;
  }
  v.bytes = inner.in_.substr(inner.pos_);
  return nullptr;
}

error fields::next(value& v) {
  if (left_ == 0) {
    v = value{};
    return nullptr;
  }
  --left_;
  return r_.next(v);
}

error fields::skip(int n) {
  value v;
  for (int i = 0; i < n; ++i) {
    if (auto e = next(v)) {
      return e;
    }
  }
  return nullptr;
}

std::optional<std::uint64_t> as_uint(const value& v) {
  switch (v.kind) {
    case type::ubyte:
    case type::ushort:
    case type::uint:
    case type::ulong:
      return v.u;
    default:
      return std::nullopt;
  }
}

std::optional<std::int64_t> as_int(const value& v) {
  switch (v.kind) {
    case type::byte:
    case type::short_:
    case type::int_:
    case type::long_:
      return v.i;
    case type::ubyte:
    case type::ushort:
    case type::uint:
      return static_cast<std::int64_t>(v.u);
    case type::ulong:
      if (v.u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return static_cast<std::int64_t>(v.u);
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::optional<bool> as_bool(const value& v) {
  if (v.kind == type::boolean) {
    return v.u != 0;
  }
  return std::nullopt;
}

std::optional<std::string_view> as_text(const value& v) {
  if (v.kind == type::string || v.kind == type::symbol) {
    return v.bytes;
  }
  return std::nullopt;
}

error split_frame(std::string_view in, std::uint32_t max_size, std::size_t& size) {
  size = 0;
  if (in.size() < 4) {
    return nullptr;
  }
  const auto declared = be(in.substr(0, 4));
  if (declared < frame_header_size) {
    return "frame shorter than its header";
  }
  if (declared > max_size) {
    return "frame larger than max-frame-size";
  }
  if (in.size() >= declared) {
    size = static_cast<std::size_t>(declared);
  }
  return nullptr;
}

error parse_frame(std::string_view raw, frame& f) {
  if (raw.size() < frame_header_size) {
    return "frame shorter than its header";
  }
  const std::size_t offset = static_cast<std::uint8_t>(raw[4]) * std::size_t{4};
  if (offset < frame_header_size || offset > raw.size()) {
    return "bad data offset";
  }
  f.type = static_cast<std::uint8_t>(raw[5]);
  f.channel = static_cast<std::uint16_t>(be(raw.substr(6, 2)));
  f.body = raw.substr(offset);
  return nullptr;
}

error read_performative(std::string_view body, performative& p) {
  p = performative{};
  if (body.empty()) {
    return nullptr; // a heartbeat
  }
  reader r(body);
  if (auto e = r.next(p.list)) {
    return e;
  }
  if (!p.list.described || !p.list.descriptor_symbol.empty() || p.list.kind != type::list) {
    return "a performative must be a described list";
  }
  p.code = p.list.descriptor;
  p.payload = body.substr(r.position());
  return nullptr;
}

namespace {

/// Reads one field of a performative into an optional unsigned T (null = nullopt).
template <class T>
error uint_field(fields& in, std::optional<T>& out) {
  value v;
  if (auto e = in.next(v)) {
    return e;
  }
  out.reset();
  if (v.kind == type::null) {
    return nullptr;
  }
  const auto u = as_uint(v);
  if (!u || *u > std::numeric_limits<T>::max()) {
    return "expected an unsigned integer field";
  }
  out = static_cast<T>(*u);
  return nullptr;
}

/// A mandatory uint field.
template <class T>
error required_uint(fields& in, T& out) {
  std::optional<T> v;
  if (auto e = uint_field(in, v)) {
    return e;
  }
  if (!v) {
    return "a mandatory field is missing";
  }
  out = *v;
  return nullptr;
}

error bool_field(fields& in, bool& out, bool absent) {
  value v;
  if (auto e = in.next(v)) {
    return e;
  }
  if (v.kind == type::null) {
    out = absent;
    return nullptr;
  }
  const auto b = as_bool(v);
  if (!b) {
    return "expected a boolean field";
  }
  out = *b;
  return nullptr;
}

error text_field(fields& in, std::string_view& out) {
  value v;
  if (auto e = in.next(v)) {
    return e;
  }
  if (v.kind == type::null) {
    out = {};
    return nullptr;
  }
  const auto t = as_text(v);
  if (!t) {
    return "expected a string or symbol field";
  }
  out = *t;
  return nullptr;
}

/// A terminus field (source, target): present or null.
error terminus_field(fields& in, bool& present) {
  value v;
  if (auto e = in.next(v)) {
    return e;
  }
  present = v.kind != type::null;
  return nullptr;
}

error error_field(fields& in, error_fields& out) {
  value v;
  if (auto e = in.next(v)) {
    return e;
  }
  out = error_fields{};
  if (v.kind == type::null) {
    return nullptr;
  }
  if (v.kind != type::list || !v.described || v.descriptor != code::error_list) {
    return "expected an error";
  }
  out.present = true;
  fields e(v);
  if (auto err = text_field(e, out.condition)) {
    return err;
  }
  return text_field(e, out.description);
}

} // namespace

error decode_open(const value& list, open_frame& f) {
  fields in(list);
  f = open_frame{};
  std::optional<std::uint32_t> max_frame;
  std::optional<std::uint16_t> channel_max;
  std::optional<std::uint32_t> idle;
  error e = text_field(in, f.container_id);
  e = e ? e : in.skip(1); // hostname
  e = e ? e : uint_field(in, max_frame);
  e = e ? e : uint_field(in, channel_max);
  e = e ? e : uint_field(in, idle);
  f.max_frame_size = max_frame.value_or(f.max_frame_size);
  f.channel_max = channel_max.value_or(f.channel_max);
  f.idle_timeout_ms = idle.value_or(0);
  return e;
}

error decode_begin(const value& list, begin_frame& f) {
  fields in(list);
  f = begin_frame{};
  error e = uint_field(in, f.remote_channel);
  e = e ? e : required_uint(in, f.next_outgoing_id);
  e = e ? e : required_uint(in, f.incoming_window);
  return e ? e : required_uint(in, f.outgoing_window);
}

error decode_attach(const value& list, attach_frame& f) {
  fields in(list);
  f = attach_frame{};
  std::optional<std::uint32_t> initial;
  error e = text_field(in, f.name);
  e = e ? e : required_uint(in, f.handle);
  e = e ? e : bool_field(in, f.receiver, false);
  e = e ? e : in.skip(2); // settle modes
  e = e ? e : terminus_field(in, f.has_source);
  e = e ? e : terminus_field(in, f.has_target);
  e = e ? e : in.skip(2); // unsettled, incomplete-unsettled
  e = e ? e : uint_field(in, initial);
  f.initial_delivery_count = initial.value_or(0);
  return e;
}

error decode_flow(const value& list, flow_frame& f) {
  fields in(list);
  f = flow_frame{};
  error e = uint_field(in, f.next_incoming_id);
  e = e ? e : required_uint(in, f.incoming_window);
  e = e ? e : required_uint(in, f.next_outgoing_id);
  e = e ? e : required_uint(in, f.outgoing_window);
  e = e ? e : uint_field(in, f.handle);
  e = e ? e : uint_field(in, f.delivery_count);
  e = e ? e : uint_field(in, f.link_credit);
  e = e ? e : in.skip(1); // available
  return e ? e : bool_field(in, f.drain, false);
}

error decode_transfer(const value& list, transfer_frame& f) {
  fields in(list);
  f = transfer_frame{};
  error e = required_uint(in, f.handle);
  e = e ? e : uint_field(in, f.delivery_id);
  e = e ? e : in.skip(2); // delivery-tag, message-format
  e = e ? e : bool_field(in, f.settled, false);
  e = e ? e : bool_field(in, f.more, false);
  e = e ? e : in.skip(3); // rcv-settle-mode, state, resume
  return e ? e : bool_field(in, f.aborted, false);
}

error decode_disposition(const value& list, disposition_frame& f) {
  fields in(list);
  f = disposition_frame{};
  std::optional<std::uint32_t> last;
  error e = bool_field(in, f.receiver, false);
  e = e ? e : required_uint(in, f.first);
  e = e ? e : uint_field(in, last);
  e = e ? e : bool_field(in, f.settled, false);
  if (e) {
    return e;
  }
  f.last = last.value_or(f.first);
  value state;
  if (auto err = in.next(state)) {
    return err;
  }
  if (state.described) {
    f.state = state.descriptor;
  } else if (state.kind != type::null) {
    return "a delivery state must be described";
  }
  return nullptr;
}

error decode_detach(const value& list, detach_frame& f) {
  fields in(list);
  f = detach_frame{};
  error e = required_uint(in, f.handle);
  e = e ? e : bool_field(in, f.closed, false);
  return e ? e : error_field(in, f.failure);
}

error decode_error_only(const value& list, error_fields& f) {
  fields in(list);
  return error_field(in, f);
}

namespace {

error take_section(const value& s, message_view& m) {
  switch (s.descriptor) {
    case code::properties:
      if (s.kind != type::list) {
        return "properties must be a list";
      }
      m.properties = s;
      return nullptr;
    case code::application_properties:
      if (s.kind != type::map) {
        return "application-properties must be a map";
      }
      m.application_properties = s;
      return nullptr;
    case code::amqp_value:
    case code::data:
      if (m.body.kind == type::null) {
        m.body = s;
      }
      return nullptr;
    default:
      return nullptr; // header, annotations, sequence bodies, footer: not needed
  }
}

} // namespace

error decode_message(std::string_view bytes, message_view& m) {
  m = message_view{};
  reader r(bytes);
  while (!r.at_end()) {
    value s;
    if (auto e = r.next(s)) {
      return e;
    }
    if (!s.described) {
      return "a message section must be described";
    }
    if (auto e = take_section(s, m)) {
      return e;
    }
  }
  return nullptr;
}

error map_lookup(const value& m, std::string_view key, value& out, bool& found) {
  found = false;
  if (m.kind != type::map) {
    return nullptr;
  }
  reader r(m.bytes);
  for (std::uint32_t i = 0; i + 1 < m.count; i += 2) {
    value k;
    value v;
    if (auto e = r.next(k)) {
      return e;
    }
    if (auto e = r.next(v)) {
      return e;
    }
    const auto text = as_text(k);
    if (text && *text == key) {
      out = v;
      found = true;
      return nullptr;
    }
  }
  return nullptr;
}

} // namespace outpost::loadgen::amqp
