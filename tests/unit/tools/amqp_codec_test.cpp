// outpost-amqp-loadgen's client codec (tools/loadgen/amqp_codec.*) against Qpid Proton's C codec:
// what we encode Proton decodes to the fields we meant, what Proton encodes we read back, and
// truncated, mutated and hostile bytes give an error or a value, never a crash or an overread
// (each input sits in a heap block of exactly its size, so ASan sees a byte too far).
//
// Values from both decoders are written in one notation and compared as text:
//   null true ubyte:1 ushort:1 uint:1 ulong:1 byte:-1 short:-1 int:-1 long:-1 float:1.5
//   double:1.5 dec:<hex> char:65 ts:1 uuid:<hex> b"<hex>" "string" :symbol
//   [list, items] {key: value} array[elements] @0x10 described  @:symbol described

#include "tools/loadgen/amqp_codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <proton/codec.h>
#include <proton/error.h>
#include <proton/message.h>

namespace outpost::loadgen::amqp {
namespace {

// ---- notation ---------------------------------------------------------------------------------

std::string hex(std::string_view b) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (char c : b) {
    const auto u = static_cast<unsigned char>(c);
    out += digits[u >> 4];
    out += digits[u & 15];
  }
  return out;
}

std::string hex_code(std::uint64_t v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

std::string number(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

std::string big_endian(std::uint64_t v, int width) {
  std::string out;
  for (int i = width - 1; i >= 0; --i) {
    out += static_cast<char>(v >> (8 * i));
  }
  return out;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += out.empty() ? "" : ", ";
    out += item;
  }
  return out;
}

// ---- Proton's side ----------------------------------------------------------------------------

struct data_free {
  void operator()(pn_data_t* d) const { pn_data_free(d); }
};
using data_ptr = std::unique_ptr<pn_data_t, data_free>;

struct message_free {
  void operator()(pn_message_t* m) const { pn_message_free(m); }
};
using message_ptr = std::unique_ptr<pn_message_t, message_free>;

std::string text(pn_bytes_t b) {
  return std::string{b.start, b.size};
}

pn_bytes_t bytes(std::string_view s) {
  return pn_bytes(s.size(), s.data());
}

/// Proton's current node in the notation.
std::string show_pn(pn_data_t* d) {
  switch (pn_data_type(d)) {
    case PN_NULL:
      return "null";
    case PN_BOOL:
      return pn_data_get_bool(d) ? "true" : "false";
    case PN_UBYTE:
      return "ubyte:" + std::to_string(pn_data_get_ubyte(d));
    case PN_USHORT:
      return "ushort:" + std::to_string(pn_data_get_ushort(d));
    case PN_UINT:
      return "uint:" + std::to_string(pn_data_get_uint(d));
    case PN_ULONG:
      return "ulong:" + std::to_string(pn_data_get_ulong(d));
    case PN_BYTE:
      return "byte:" + std::to_string(pn_data_get_byte(d));
    case PN_SHORT:
      return "short:" + std::to_string(pn_data_get_short(d));
    case PN_INT:
      return "int:" + std::to_string(pn_data_get_int(d));
    case PN_LONG:
      return "long:" + std::to_string(pn_data_get_long(d));
    case PN_FLOAT:
      return "float:" + number(pn_data_get_float(d));
    case PN_DOUBLE:
      return "double:" + number(pn_data_get_double(d));
    case PN_DECIMAL32:
      return "dec:" + hex(big_endian(pn_data_get_decimal32(d), 4));
    case PN_DECIMAL64:
      return "dec:" + hex(big_endian(pn_data_get_decimal64(d), 8));
    case PN_DECIMAL128: {
      const auto v = pn_data_get_decimal128(d);
      return "dec:" + hex(std::string_view{v.bytes, sizeof v.bytes});
    }
    case PN_CHAR:
      return "char:" + std::to_string(pn_data_get_char(d));
    case PN_TIMESTAMP:
      return "ts:" + std::to_string(pn_data_get_timestamp(d));
    case PN_UUID: {
      const auto v = pn_data_get_uuid(d);
      return "uuid:" + hex(std::string_view{v.bytes, sizeof v.bytes});
    }
    case PN_BINARY:
      return "b\"" + hex(text(pn_data_get_binary(d))) + "\"";
    case PN_STRING:
      return "\"" + text(pn_data_get_string(d)) + "\"";
    case PN_SYMBOL:
      return ":" + text(pn_data_get_symbol(d));
    case PN_DESCRIBED: {
      pn_data_enter(d);
      pn_data_next(d);
      const auto descriptor =
          pn_data_type(d) == PN_ULONG ? hex_code(pn_data_get_ulong(d)) : show_pn(d);
      pn_data_next(d);
      const auto described = show_pn(d);
      pn_data_exit(d);
      return "@" + descriptor + " " + described;
    }
    case PN_LIST: {
      const auto n = pn_data_get_list(d);
      std::vector<std::string> items;
      pn_data_enter(d);
      for (std::size_t i = 0; i < n && pn_data_next(d); ++i) {
        items.push_back(show_pn(d));
      }
      pn_data_exit(d);
      return "[" + join(items) + "]";
    }
    case PN_MAP: {
      const auto n = pn_data_get_map(d);
      std::vector<std::string> items;
      pn_data_enter(d);
      for (std::size_t i = 0; i + 1 < n && pn_data_next(d); i += 2) {
        auto key = show_pn(d);
        pn_data_next(d);
        items.push_back(key + ": " + show_pn(d));
      }
      pn_data_exit(d);
      return "{" + join(items) + "}";
    }
    case PN_ARRAY: {
      const auto n = pn_data_get_array(d);
      const bool described = pn_data_is_array_described(d);
      std::string prefix;
      std::vector<std::string> items;
      pn_data_enter(d);
      if (described && pn_data_next(d)) {
        prefix =
            "@" + (pn_data_type(d) == PN_ULONG ? hex_code(pn_data_get_ulong(d)) : show_pn(d)) + " ";
      }
      for (std::size_t i = 0; i < n && pn_data_next(d); ++i) {
        items.push_back(show_pn(d));
      }
      pn_data_exit(d);
      return prefix + "array[" + join(items) + "]";
    }
    default:
      return "?" + std::to_string(pn_data_type(d));
  }
}

/// Proton decodes one value from `in`: the value in the notation and the bytes it took.
::testing::AssertionResult proton_decode(std::string_view in, std::string& shown,
                                         std::size_t& used) {
  data_ptr d{pn_data(0)};
  const auto n = pn_data_decode(d.get(), in.data(), in.size());
  if (n <= 0) {
    return ::testing::AssertionFailure() << "pn_data_decode: " << n << " on " << hex(in);
  }
  pn_data_rewind(d.get());
  if (!pn_data_next(d.get())) {
    return ::testing::AssertionFailure() << "pn_data_decode gave no value";
  }
  shown = show_pn(d.get());
  used = static_cast<std::size_t>(n);
  return ::testing::AssertionSuccess();
}

/// A frame as Proton sees it: the header read by hand, the performative by pn_data_decode.
struct proton_frame {
  std::uint16_t channel = 0;
  std::string performative; ///< in the notation; empty for an empty frame
  std::string payload;      ///< the bytes after the performative
};

::testing::AssertionResult proton_decode_frame(std::string_view raw, proton_frame& f) {
  if (raw.size() < 8) {
    return ::testing::AssertionFailure() << "a frame of " << raw.size() << " bytes";
  }
  std::uint32_t size = 0;
  for (int i = 0; i < 4; ++i) {
    size = (size << 8) | static_cast<unsigned char>(raw[i]);
  }
  if (size != raw.size() || raw[4] != 2 || raw[5] != 0) {
    return ::testing::AssertionFailure() << "header size " << size << " of " << raw.size()
                                         << ", doff " << int{raw[4]} << ", type " << int{raw[5]};
  }
  f.channel = static_cast<std::uint16_t>(static_cast<unsigned char>(raw[6]) << 8
                                         | static_cast<unsigned char>(raw[7]));
  const auto body = raw.substr(8);
  f.performative.clear();
  f.payload.clear();
  if (body.empty()) {
    return ::testing::AssertionSuccess();
  }
  std::size_t used = 0;
  if (auto r = proton_decode(body, f.performative, used); !r) {
    return r;
  }
  f.payload = std::string{body.substr(used)};
  return ::testing::AssertionSuccess();
}

/// Proton encodes the value it holds.
std::string proton_encode(pn_data_t* d) {
  const auto size = pn_data_encoded_size(d);
  EXPECT_GT(size, 0);
  std::string out(static_cast<std::size_t>(size > 0 ? size : 0), '\0');
  const auto n = pn_data_encode(d, out.data(), out.size());
  EXPECT_EQ(n, size) << pn_data_errno(d);
  return out;
}

std::string proton_encode(pn_message_t* m) {
  std::string out(4096, '\0');
  std::size_t size = out.size();
  EXPECT_EQ(pn_message_encode(m, out.data(), &size), 0);
  out.resize(size);
  return out;
}

// ---- our side ---------------------------------------------------------------------------------

/// Our decoder's values in the notation. Lists, maps and arrays are walked item by item;
/// `budget` bounds the items of a hostile walk (an array of 2^32 zero-width elements).
struct shower {
  std::size_t budget = 100000;

  error show(const value& v, std::string& out, int depth = 0) {
    if (depth > 64) {
      return "(test) nested too deep to show";
    }
    if (v.described) {
      out += "@";
      out += v.descriptor_symbol.empty() ? hex_code(v.descriptor)
                                         : ":" + std::string{v.descriptor_symbol};
      out += " ";
    }
    switch (v.kind) {
      case type::null:
        out += "null";
        return nullptr;
      case type::boolean:
        out += v.u ? "true" : "false";
        return nullptr;
      case type::ubyte:
        out += "ubyte:" + std::to_string(v.u);
        return nullptr;
      case type::ushort:
        out += "ushort:" + std::to_string(v.u);
        return nullptr;
      case type::uint:
        out += "uint:" + std::to_string(v.u);
        return nullptr;
      case type::ulong:
        out += "ulong:" + std::to_string(v.u);
        return nullptr;
      case type::byte:
        out += "byte:" + std::to_string(v.i);
        return nullptr;
      case type::short_:
        out += "short:" + std::to_string(v.i);
        return nullptr;
      case type::int_:
        out += "int:" + std::to_string(v.i);
        return nullptr;
      case type::long_:
        out += "long:" + std::to_string(v.i);
        return nullptr;
      case type::float_:
        out += "float:" + number(v.f);
        return nullptr;
      case type::double_:
        out += "double:" + number(v.f);
        return nullptr;
      case type::decimal:
        out += "dec:" + hex(v.bytes);
        return nullptr;
      case type::char_:
        out += "char:" + std::to_string(v.u);
        return nullptr;
      case type::timestamp:
        out += "ts:" + std::to_string(v.i);
        return nullptr;
      case type::uuid:
        out += "uuid:" + hex(v.bytes);
        return nullptr;
      case type::binary:
        out += "b\"" + hex(v.bytes) + "\"";
        return nullptr;
      case type::string:
        out += "\"" + std::string{v.bytes} + "\"";
        return nullptr;
      case type::symbol:
        out += ":" + std::string{v.bytes};
        return nullptr;
      case type::list:
      case type::map: {
        const bool map = v.kind == type::map;
        out += map ? "{" : "[";
        reader r(v.bytes);
        for (std::uint32_t i = 0; i < v.count; ++i) {
          if (budget == 0) {
            return "(test) too many items to show";
          }
          --budget;
          out += i == 0 ? "" : map && i % 2 == 1 ? ": " : ", ";
          value item;
          if (auto e = r.next(item)) {
            return e;
          }
          if (auto e = show(item, out, depth + 1)) {
            return e;
          }
        }
        out += map ? "}" : "]";
        return nullptr;
      }
      case type::array: {
        out += "array[";
        reader r(v.bytes);
        for (std::uint32_t i = 0; i < v.count; ++i) {
          if (budget == 0) {
            return "(test) too many items to show";
          }
          --budget;
          out += i == 0 ? "" : ", ";
          value item;
          if (auto e = r.next_element(v.element, item)) {
            return e;
          }
          if (auto e = show(item, out, depth + 1)) {
            return e;
          }
        }
        out += "]";
        return nullptr;
      }
    }
    return "(test) unknown kind";
  }
};

/// One value read by our reader and shown; `used` = the bytes it took.
::testing::AssertionResult our_decode(std::string_view in, std::string& shown,
                                      std::size_t* used = nullptr) {
  reader r(in);
  value v;
  if (auto e = r.next(v)) {
    return ::testing::AssertionFailure() << "reader: " << e << " on " << hex(in);
  }
  shown.clear();
  if (auto e = shower{}.show(v, shown)) {
    return ::testing::AssertionFailure() << "walking the value: " << e << " on " << hex(in);
  }
  if (used != nullptr) {
    *used = r.position();
  }
  return ::testing::AssertionSuccess();
}

/// An AMQP frame (doff 2, type 0) around `body`.
std::string frame_of(std::string_view body, std::uint16_t channel = 0) {
  std::string out;
  const auto at = start_frame(out, channel);
  out.append(body);
  finish_frame(out, at);
  return out;
}

/// The put-token request exactly as amqp_raw.cpp builds it.
std::string put_token_message(const std::string& id, const std::string& host,
                              const std::string& token) {
  std::string m;
  encode_properties(m, "put-" + id, "cbs");
  encode_application_properties(m, {{"operation", "put-token"},
                                    {"type", "servicebus.windows.net:sastoken"},
                                    {"name", host + "%2Fdevices%2F" + id}});
  encode_amqp_value_string(m, token);
  return m;
}

/// A SAS token for `id` padded to `size` characters (IoT Hub's run ~150-250).
std::string token_of(const std::string& id, std::size_t size) {
  std::string t = "SharedAccessSignature sr=hub.example%2Fdevices%2F" + id + "&sig=";
  while (t.size() < size) {
    t += static_cast<char>('A' + t.size() % 26);
  }
  t += "&se=1700000000";
  return t;
}

/// The reply the hub sends to a put-token, encoded by Proton: a header, a message annotation,
/// properties, application-properties (status-code `status` as an int) and an amqp-value body.
std::string proton_reply(std::int32_t status, bool with_status = true) {
  message_ptr m{pn_message()};
  pn_message_set_durable(m.get(), true);
  pn_msgid_t correlation{};
  correlation.type = PN_STRING;
  correlation.u.as_bytes = bytes("put-dev1");
  pn_message_set_correlation_id(m.get(), correlation);
  pn_message_set_address(m.get(), "cbs");
  auto* annotations = pn_message_annotations(m.get());
  pn_data_put_map(annotations);
  pn_data_enter(annotations);
  pn_data_put_symbol(annotations, bytes("x-opt-test"));
  pn_data_put_string(annotations, bytes("annotated"));
  pn_data_exit(annotations);
  auto* props = pn_message_properties(m.get());
  pn_data_put_map(props);
  pn_data_enter(props);
  if (with_status) {
    pn_data_put_string(props, bytes("status-code"));
    pn_data_put_int(props, status);
  }
  pn_data_put_string(props, bytes("status-description"));
  pn_data_put_string(props, bytes("OK"));
  pn_data_exit(props);
  pn_data_put_string(pn_message_body(m.get()), bytes("done"));
  return proton_encode(m.get());
}

// ---- (1) our frames through Proton ------------------------------------------------------------

TEST(LoadgenAmqpCodec, ProtocolHeaderAndHeartbeat) {
  EXPECT_EQ(protocol_header, std::string_view("AMQP\0\1\0\0", 8));
  std::string out;
  encode_empty_frame(out);
  EXPECT_EQ(out, std::string("\0\0\0\x08\x02\0\0\0", 8));
  proton_frame f;
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.performative, "");
  EXPECT_EQ(f.payload, "");

  frame ours;
  performative p;
  ASSERT_EQ(parse_frame(out, ours), nullptr);
  EXPECT_TRUE(ours.body.empty());
  ASSERT_EQ(read_performative(ours.body, p), nullptr);
  EXPECT_EQ(p.code, 0u);
}

TEST(LoadgenAmqpCodec, OpenDecodesInProton) {
  std::string out;
  encode_open(out, {"dev1", "hub.example", 65536, 0});
  proton_frame f;
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.channel, 0);
  EXPECT_EQ(f.performative, "@0x10 [\"dev1\", \"hub.example\", uint:65536, ushort:0]");
  EXPECT_EQ(f.payload, "");

  out.clear();
  encode_open(out, {"c", "h", 4294967295u, 65535});
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.performative, "@0x10 [\"c\", \"h\", uint:4294967295, ushort:65535]");

  // Our own decoder agrees (absent idle-time-out: none).
  frame raw;
  performative p;
  open_frame o;
  ASSERT_EQ(parse_frame(out, raw), nullptr);
  ASSERT_EQ(read_performative(raw.body, p), nullptr);
  ASSERT_EQ(p.code, code::open);
  ASSERT_EQ(decode_open(p.list, o), nullptr);
  EXPECT_EQ(o.container_id, "c");
  EXPECT_EQ(o.max_frame_size, 4294967295u);
  EXPECT_EQ(o.channel_max, 65535);
  EXPECT_EQ(o.idle_timeout_ms, 0u);
}

TEST(LoadgenAmqpCodec, BeginDecodesInProton) {
  std::string out;
  encode_begin(out, 0, {});
  proton_frame f;
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.channel, 0);
  EXPECT_EQ(f.performative, "@0x11 [null, uint:0, uint:2147483647, uint:2147483647]");

  out.clear();
  encode_begin(out, 513, {300, 7, 0});
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.channel, 513);
  EXPECT_EQ(f.performative, "@0x11 [null, uint:300, uint:7, uint:0]");
  EXPECT_EQ(f.payload, "");
}

TEST(LoadgenAmqpCodec, AttachDecodesInProton) {
  // The preamble's $cbs sender and receiver, as amqp_raw.cpp writes them.
  std::string out;
  attach_fields a;
  a.name = "dev1-cbs-out";
  a.handle = 0;
  a.source_address = "$cbs";
  a.target_address = "$cbs";
  encode_attach(out, 0, a);
  proton_frame f;
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.performative,
            "@0x12 [\"dev1-cbs-out\", uint:0, false, null, null, "
            "@0x28 [\"$cbs\"], @0x29 [\"$cbs\"], null, null, uint:0]");
  EXPECT_EQ(f.payload, "");

  out.clear();
  a.name = "dev1-cbs-in";
  a.handle = 1;
  a.receiver = true;
  a.target_address = "cbs";
  encode_attach(out, 0, a);
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.performative,
            "@0x12 [\"dev1-cbs-in\", uint:1, true, null, null, "
            "@0x28 [\"$cbs\"], @0x29 [\"cbs\"]]");

  // The events sender: settle modes set, no source address, a long target address.
  out.clear();
  attach_fields e;
  e.name = "dev1-events";
  e.handle = 300;
  e.snd_settle_mode = 0;
  e.rcv_settle_mode = 1;
  e.target_address = "/devices/" + std::string(300, 'd') + "/messages/events";
  encode_attach(out, 7, e);
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.channel, 7);
  EXPECT_EQ(f.performative,
            "@0x12 [\"dev1-events\", uint:300, false, ubyte:0, ubyte:1, "
            "@0x28 [], @0x29 [\""
                + e.target_address + "\"], null, null, uint:0]");

  // Our decoder reads what the hub echoes the same way.
  frame raw;
  performative p;
  attach_frame af;
  ASSERT_EQ(parse_frame(out, raw), nullptr);
  ASSERT_EQ(read_performative(raw.body, p), nullptr);
  ASSERT_EQ(decode_attach(p.list, af), nullptr);
  EXPECT_EQ(af.name, "dev1-events");
  EXPECT_EQ(af.handle, 300u);
  EXPECT_FALSE(af.receiver);
  EXPECT_TRUE(af.has_source);
  EXPECT_TRUE(af.has_target);
  EXPECT_EQ(af.initial_delivery_count, 0u);
}

TEST(LoadgenAmqpCodec, FlowDecodesInProton) {
  std::string out;
  flow_fields fl;
  fl.next_incoming_id = 1;
  fl.next_outgoing_id = 4096;
  fl.handle = 1;
  fl.delivery_count = 0;
  fl.link_credit = 10;
  encode_flow(out, 0, fl);
  proton_frame f;
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.performative,
            "@0x13 [uint:1, uint:2147483647, uint:4096, uint:2147483647, uint:1, "
            "uint:0, uint:10]");

  out.clear();
  encode_flow(out, 2, {});
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.channel, 2);
  EXPECT_EQ(f.performative,
            "@0x13 [null, uint:2147483647, uint:0, uint:2147483647, null, null, null]");

  frame raw;
  performative p;
  flow_frame ff;
  ASSERT_EQ(parse_frame(out, raw), nullptr);
  ASSERT_EQ(read_performative(raw.body, p), nullptr);
  ASSERT_EQ(decode_flow(p.list, ff), nullptr);
  EXPECT_FALSE(ff.next_incoming_id);
  EXPECT_EQ(ff.incoming_window, 2147483647u);
  EXPECT_FALSE(ff.handle);
  EXPECT_FALSE(ff.link_credit);
  EXPECT_FALSE(ff.drain);
}

TEST(LoadgenAmqpCodec, TemplateTransferDecodesInProtonWithPatchedIdAndTag) {
  for (const std::size_t payload : {std::size_t{16}, std::size_t{256}, std::size_t{5000}}) {
    SCOPED_TRACE(payload);
    std::string message;
    encode_data(message, std::string(payload, 'x'));
    const transfer_template t(3, 2, message);

    std::string out = "prefix"; // append() writes after what is there
    t.append(out, 0x01020304u, 0x1122334455667788ull);
    const auto first_end = out.size();
    t.append(out, 0xfffffffeu, 42);
    EXPECT_EQ(first_end - 6, t.size());
    EXPECT_EQ(out.size() - first_end, t.size());

    const std::uint64_t tags[] = {0x1122334455667788ull, 42};
    const std::uint32_t ids[] = {0x01020304u, 0xfffffffeu};
    const std::string_view frames[] = {std::string_view{out}.substr(6, t.size()),
                                       std::string_view{out}.substr(first_end)};
    for (int i = 0; i < 2; ++i) {
      char tag[8];
      std::memcpy(tag, &tags[i], sizeof tag);
      proton_frame f;
      ASSERT_TRUE(proton_decode_frame(frames[i], f));
      EXPECT_EQ(f.channel, 3);
      EXPECT_EQ(f.performative, "@0x14 [uint:2, uint:" + std::to_string(ids[i]) + ", b\""
                                    + hex(std::string_view{tag, sizeof tag})
                                    + "\", uint:0, false]");
      EXPECT_EQ(f.payload, message);

      // The payload is a data section Proton reads as the message's body.
      message_ptr m{pn_message()};
      ASSERT_EQ(pn_message_decode(m.get(), f.payload.data(), f.payload.size()), 0);
      auto* body = pn_message_body(m.get());
      pn_data_rewind(body);
      ASSERT_TRUE(pn_data_next(body));
      ASSERT_EQ(pn_data_type(body), PN_BINARY);
      EXPECT_EQ(text(pn_data_get_binary(body)), std::string(payload, 'x'));

      // And ours.
      frame raw;
      performative p;
      transfer_frame tf;
      message_view mv;
      ASSERT_EQ(parse_frame(frames[i], raw), nullptr);
      ASSERT_EQ(read_performative(raw.body, p), nullptr);
      ASSERT_EQ(decode_transfer(p.list, tf), nullptr);
      EXPECT_EQ(tf.handle, 2u);
      EXPECT_EQ(tf.delivery_id, ids[i]);
      EXPECT_FALSE(tf.settled);
      EXPECT_EQ(p.payload, message);
      ASSERT_EQ(decode_message(p.payload, mv), nullptr);
      EXPECT_EQ(mv.body.kind, type::binary);
      EXPECT_EQ(mv.body.bytes, std::string(payload, 'x'));
    }
  }
}

TEST(LoadgenAmqpCodec, DispositionDecodesInProton) {
  std::string out;
  encode_disposition(out, 0, {true, 5, 9, true, code::accepted});
  proton_frame f;
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.performative, "@0x15 [true, uint:5, uint:9, true, @0x24 []]");

  out.clear();
  encode_disposition(out, 1, {false, 70000, 70000, false, code::released});
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.channel, 1);
  EXPECT_EQ(f.performative, "@0x15 [false, uint:70000, uint:70000, false, @0x26 []]");
  EXPECT_EQ(f.payload, "");

  frame raw;
  performative p;
  disposition_frame d;
  ASSERT_EQ(parse_frame(out, raw), nullptr);
  ASSERT_EQ(read_performative(raw.body, p), nullptr);
  ASSERT_EQ(decode_disposition(p.list, d), nullptr);
  EXPECT_FALSE(d.receiver);
  EXPECT_EQ(d.first, 70000u);
  EXPECT_EQ(d.last, 70000u);
  EXPECT_FALSE(d.settled);
  EXPECT_EQ(d.state, code::released);
}

TEST(LoadgenAmqpCodec, CloseDecodesInProton) {
  std::string out;
  encode_close(out);
  proton_frame f;
  ASSERT_TRUE(proton_decode_frame(out, f));
  EXPECT_EQ(f.channel, 0);
  EXPECT_EQ(f.performative, "@0x18 []");
  EXPECT_EQ(f.payload, "");
}

// ---- (2) the put-token request through Proton -------------------------------------------------

TEST(LoadgenAmqpCodec, PutTokenMessageDecodesInProton) {
  for (const std::size_t size : {std::size_t{100}, std::size_t{400}}) {
    SCOPED_TRACE(size);
    const auto token = token_of("dev1", size);
    const auto message = put_token_message("dev1", "hub.example", token);
    std::string out;
    encode_transfer(out, 0, {0, 0, "put", false}, message);

    proton_frame f;
    ASSERT_TRUE(proton_decode_frame(out, f));
    EXPECT_EQ(f.performative, "@0x14 [uint:0, uint:0, b\"707574\", uint:0, false]");
    ASSERT_EQ(f.payload, message);

    message_ptr m{pn_message()};
    ASSERT_EQ(pn_message_decode(m.get(), f.payload.data(), f.payload.size()), 0)
        << pn_error_text(pn_message_error(m.get()));
    const auto id = pn_message_get_id(m.get());
    ASSERT_EQ(id.type, PN_STRING);
    EXPECT_EQ(text(id.u.as_bytes), "put-dev1");
    ASSERT_NE(pn_message_get_reply_to(m.get()), nullptr);
    EXPECT_STREQ(pn_message_get_reply_to(m.get()), "cbs");
    EXPECT_EQ(pn_message_get_address(m.get()), nullptr);
    EXPECT_EQ(pn_message_get_subject(m.get()), nullptr);
    EXPECT_EQ(pn_message_get_user_id(m.get()).size, 0u);

    auto* props = pn_message_properties(m.get());
    pn_data_rewind(props);
    ASSERT_TRUE(pn_data_next(props));
    EXPECT_EQ(show_pn(props),
              "{\"operation\": \"put-token\", "
              "\"type\": \"servicebus.windows.net:sastoken\", "
              "\"name\": \"hub.example%2Fdevices%2Fdev1\"}");
    auto* body = pn_message_body(m.get());
    pn_data_rewind(body);
    ASSERT_TRUE(pn_data_next(body));
    EXPECT_EQ(show_pn(body), "\"" + token + "\"");
    EXPECT_FALSE(pn_message_is_inferred(m.get())); // an amqp-value body

    // Our message-section decoder reads it back the same way.
    message_view mv;
    ASSERT_EQ(decode_message(message, mv), nullptr);
    std::string shown;
    ASSERT_EQ(shower{}.show(mv.properties, shown), nullptr);
    EXPECT_EQ(shown, "@0x73 [\"put-dev1\", null, null, null, \"cbs\"]");
    value op;
    bool found = false;
    ASSERT_EQ(map_lookup(mv.application_properties, "operation", op, found), nullptr);
    ASSERT_TRUE(found);
    EXPECT_EQ(as_text(op), "put-token");
    EXPECT_EQ(mv.body.kind, type::string);
    EXPECT_EQ(mv.body.bytes, token);
  }
}

// ---- (3) Proton's values through our decoder --------------------------------------------------

/// One of every type Proton writes, in a described list.
data_ptr every_type() {
  data_ptr owner{pn_data(0)};
  auto* d = owner.get();
  pn_data_put_described(d);
  pn_data_enter(d);
  pn_data_put_ulong(d, 0x137000000001ull);
  pn_data_put_list(d);
  pn_data_enter(d);
  pn_data_put_null(d);
  pn_data_put_bool(d, true);
  pn_data_put_bool(d, false);
  pn_data_put_ubyte(d, 200);
  pn_data_put_ushort(d, 60000);
  pn_data_put_uint(d, 0);
  pn_data_put_uint(d, 7);
  pn_data_put_uint(d, 255);
  pn_data_put_uint(d, 0x89abcdef);
  pn_data_put_ulong(d, 0);
  pn_data_put_ulong(d, 9);
  pn_data_put_ulong(d, 0x0123456789abcdefull);
  pn_data_put_ulong(d, std::numeric_limits<std::uint64_t>::max());
  pn_data_put_byte(d, -5);
  pn_data_put_short(d, -30000);
  pn_data_put_int(d, -100);
  pn_data_put_int(d, -2000000000);
  pn_data_put_long(d, -5);
  pn_data_put_long(d, std::numeric_limits<std::int64_t>::min());
  pn_data_put_float(d, 1.5f);
  pn_data_put_double(d, -2.25);
  pn_data_put_timestamp(d, 1700000000123);
  pn_data_put_timestamp(d, -1);
  pn_uuid_t uuid;
  for (int i = 0; i < 16; ++i) {
    uuid.bytes[i] = static_cast<char>(0xf0 + i);
  }
  pn_data_put_uuid(d, uuid);
  pn_data_put_char(d, 0x1f600);
  pn_data_put_decimal32(d, 0x01020304u);
  pn_data_put_decimal64(d, 0x0102030405060708ull);
  pn_decimal128_t d128;
  for (int i = 0; i < 16; ++i) {
    d128.bytes[i] = static_cast<char>(i);
  }
  pn_data_put_decimal128(d, d128);
  pn_data_put_binary(d, bytes(std::string_view{"\x00\x01\xfe\xff", 4}));
  pn_data_put_binary(d, bytes(""));
  static const std::string long_binary(300, '\x5a');
  pn_data_put_binary(d, bytes(long_binary));
  pn_data_put_string(d, bytes("h\xc3\xa9llo"));
  static const std::string long_string(1000, 's');
  pn_data_put_string(d, bytes(long_string));
  pn_data_put_symbol(d, bytes("amqp:symbol"));
  pn_data_put_list(d); // a list
  pn_data_enter(d);
  pn_data_put_uint(d, 1);
  pn_data_put_string(d, bytes("a"));
  pn_data_put_list(d); // nested, empty
  pn_data_exit(d);
  pn_data_put_list(d); // empty
  pn_data_put_map(d);
  pn_data_enter(d);
  pn_data_put_string(d, bytes("k"));
  pn_data_put_int(d, 1);
  pn_data_put_symbol(d, bytes("s"));
  pn_data_put_null(d);
  pn_data_exit(d);
  pn_data_put_map(d); // empty
  pn_data_put_array(d, false, PN_INT);
  pn_data_enter(d);
  pn_data_put_int(d, 1);
  pn_data_put_int(d, 2);
  pn_data_put_int(d, -3);
  pn_data_exit(d);
  pn_data_put_array(d, false, PN_SYMBOL);
  pn_data_enter(d);
  pn_data_put_symbol(d, bytes("amqp:one"));
  pn_data_put_symbol(d, bytes("amqp:two"));
  pn_data_exit(d);
  pn_data_put_array(d, false, PN_BOOL);
  pn_data_enter(d);
  pn_data_put_bool(d, true);
  pn_data_put_bool(d, false);
  pn_data_exit(d);
  pn_data_put_array(d, false, PN_ULONG); // empty
  pn_data_put_described(d);              // a symbol descriptor
  pn_data_enter(d);
  pn_data_put_symbol(d, bytes("com.example:thing"));
  pn_data_put_string(d, bytes("v"));
  pn_data_exit(d);
  pn_data_exit(d);
  pn_data_exit(d);
  return owner;
}

TEST(LoadgenAmqpCodec, ReadsEveryTypeProtonEncodes) {
  auto d = every_type();
  const auto encoded = proton_encode(d.get());
  pn_data_rewind(d.get());
  ASSERT_TRUE(pn_data_next(d.get()));
  const auto expected = show_pn(d.get());

  const std::string written =
      "@0x137000000001 [null, true, false, ubyte:200, ushort:60000, uint:0, uint:7, uint:255, "
      "uint:2309737967, ulong:0, ulong:9, ulong:81985529216486895, ulong:18446744073709551615, "
      "byte:-5, short:-30000, int:-100, int:-2000000000, long:-5, long:-9223372036854775808, "
      "float:1.5, double:-2.25, ts:1700000000123, ts:-1, "
      "uuid:f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff, char:128512, dec:01020304, "
      "dec:0102030405060708, dec:000102030405060708090a0b0c0d0e0f, b\"0001feff\", b\"\", b\""
      + hex(std::string(300, '\x5a')) + "\", \"h\xc3\xa9llo\", \"" + std::string(1000, 's')
      + "\", :amqp:symbol, [uint:1, \"a\", []], [], {\"k\": int:1, :s: null}, {}, "
        "array[int:1, int:2, int:-3], array[:amqp:one, :amqp:two], array[true, false], "
        "array[], @:com.example:thing \"v\"]";
  EXPECT_EQ(expected, written) << "the test's Proton walk";

  std::string shown;
  std::size_t used = 0;
  ASSERT_TRUE(our_decode(encoded, shown, &used));
  EXPECT_EQ(used, encoded.size());
  EXPECT_EQ(shown, written);

  // The typed accessors on a few of them.
  reader r(encoded);
  value list;
  ASSERT_EQ(r.next(list), nullptr);
  EXPECT_TRUE(r.at_end());
  ASSERT_TRUE(list.described);
  EXPECT_EQ(list.descriptor, 0x137000000001ull);
  fields in(list);
  value v;
  ASSERT_EQ(in.skip(3), nullptr);
  ASSERT_EQ(in.next(v), nullptr); // ubyte 200
  EXPECT_EQ(as_uint(v), 200u);
  EXPECT_EQ(as_int(v), 200);
  EXPECT_EQ(as_bool(v), std::nullopt);
  ASSERT_EQ(in.skip(8), nullptr);
  ASSERT_EQ(in.next(v), nullptr); // ulong max
  EXPECT_EQ(as_uint(v), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(as_int(v), std::nullopt) << "does not fit";
  ASSERT_EQ(in.next(v), nullptr); // byte -5
  EXPECT_EQ(as_int(v), -5);
  EXPECT_EQ(as_uint(v), std::nullopt);
}

TEST(LoadgenAmqpCodec, EveryConstructorAgreesWithProton) {
  // Hand-written encodings, compact and wide, decoded by Proton and by us.
  const std::vector<std::string> values = {
      {"\x40", 1},
      {"\x41", 1},
      {"\x42", 1},
      {"\x56\x00", 2},
      {"\x56\x01", 2},
      {"\x50\xff", 2},
      {"\x60\xff\xfe", 3},
      {"\x43", 1},
      {"\x52\x07", 2},
      {"\x70\x00\x00\x01\x00", 5},
      {"\x44", 1},
      {"\x53\xfe", 2},
      {"\x80\x80\x00\x00\x00\x00\x00\x00\x01", 9},
      {"\x51\x80", 2},
      {"\x61\x80\x00", 3},
      {"\x54\xff", 2},
      {"\x71\x80\x00\x00\x00", 5},
      {"\x55\x80", 2},
      {"\x81\xff\xff\xff\xff\xff\xff\xff\xfe", 9},
      {"\x72\xc0\x49\x0f\xdb", 5},
      {"\x82\x40\x09\x21\xfb\x54\x44\x2d\x18", 9},
      {"\x73\x00\x00\x00\x41", 5},
      {"\x83\x00\x00\x01\x8b\xcf\xe5\x68\x00", 9},
      {"\xa0\x02\xab\xcd", 4},
      {"\xb0\x00\x00\x00\x01\xee", 6},
      {"\xa1\x02hi", 4},
      {"\xb1\x00\x00\x00\x03hey", 8},
      {"\xa3\x03sym", 5},
      {"\xb3\x00\x00\x00\x01s", 6},
      {"\x45", 1},
      {"\xc0\x03\x02\x43\x41", 5},
      {"\xd0\x00\x00\x00\x07\x00\x00\x00\x02\x52\x01\x40", 12},
      {"\xc1\x05\x02\xa1\x01k\x42", 7},
      {"\xd1\x00\x00\x00\x08\x00\x00\x00\x02\xa3\x01k\x41", 13},
      {"\xe0\x04\x02\x50\x01\x02", 6},
      {"\xf0\x00\x00\x00\x0d\x00\x00\x00\x02\x70\x00\x00\x00\x01\x00\x00\x00\x02", 18},
      {"\xe0\x05\x02\xa1\x01\x61\x00", 7},
      {"\x00\x53\x24\x45", 4},
      {"\x00\xa3\x03x:y\x43", 7},
      {"\x00\x80\x00\x00\x00\x00\x00\x00\x00\x73\xc0\x01\x00", 13},
  };
  for (const auto& v : values) {
    SCOPED_TRACE(hex(v));
    std::string theirs;
    std::string ours;
    std::size_t their_used = 0;
    std::size_t our_used = 0;
    ASSERT_TRUE(proton_decode(v, theirs, their_used));
    ASSERT_TRUE(our_decode(v, ours, &our_used));
    EXPECT_EQ(ours, theirs);
    EXPECT_EQ(our_used, v.size());
    EXPECT_EQ(their_used, v.size());
  }
}

TEST(LoadgenAmqpCodec, ReadsAProtonReplyThroughTheMessageDecoder) {
  const auto reply = proton_reply(200);
  message_view m;
  ASSERT_EQ(decode_message(reply, m), nullptr);

  value status;
  bool found = false;
  ASSERT_EQ(map_lookup(m.application_properties, "status-code", status, found), nullptr);
  ASSERT_TRUE(found);
  EXPECT_EQ(status.kind, type::int_);
  EXPECT_EQ(as_int(status), 200);
  value description;
  ASSERT_EQ(map_lookup(m.application_properties, "status-description", description, found),
            nullptr);
  ASSERT_TRUE(found);
  EXPECT_EQ(as_text(description), "OK");
  ASSERT_EQ(map_lookup(m.application_properties, "status", description, found), nullptr);
  EXPECT_FALSE(found);
  ASSERT_EQ(map_lookup(m.properties, "status-code", description, found), nullptr);
  EXPECT_FALSE(found) << "properties are a list, not a map";

  // Header and annotations skipped; properties and body kept.
  std::string shown;
  ASSERT_EQ(shower{}.show(m.properties, shown), nullptr);
  EXPECT_EQ(shown.substr(0, 7), "@0x73 [");
  EXPECT_NE(shown.find("\"cbs\""), std::string::npos) << shown;
  EXPECT_NE(shown.find("\"put-dev1\""), std::string::npos) << shown;
  EXPECT_EQ(m.body.kind, type::string);
  EXPECT_EQ(m.body.bytes, "done");

  // Inside a transfer frame, as the hub sends it; and a refusal, and a reply without a code.
  for (const auto& [reply_bytes, expected_code] :
       {std::pair{proton_reply(200), std::optional<std::int64_t>{200}},
        std::pair{proton_reply(401), std::optional<std::int64_t>{401}},
        std::pair{proton_reply(0, false), std::optional<std::int64_t>{}}}) {
    std::string out;
    encode_transfer(out, 0, {1, 0, "r", true}, reply_bytes);
    frame raw;
    performative p;
    transfer_frame t;
    ASSERT_EQ(parse_frame(out, raw), nullptr);
    ASSERT_EQ(read_performative(raw.body, p), nullptr);
    ASSERT_EQ(decode_transfer(p.list, t), nullptr);
    EXPECT_TRUE(t.settled);
    ASSERT_EQ(decode_message(p.payload, m), nullptr);
    ASSERT_EQ(map_lookup(m.application_properties, "status-code", status, found), nullptr);
    EXPECT_EQ(found ? as_int(status) : std::nullopt, expected_code);
  }
}

// ---- (4) bad input ----------------------------------------------------------------------------

/// Everything the raw engine does with bytes from the hub (amqp_raw.cpp on_bytes, on_frame,
/// dispatch, on_reply), plus a walk of every value: an error or a value, never a crash.
struct pipeline {
  std::size_t frames = 0;
  std::size_t errors = 0;

  void run(std::string_view data) {
    std::size_t pos = 0;
    while (pos < data.size()) {
      const auto rest = data.substr(pos);
      std::size_t size = 0;
      if (split_frame(rest, 1u << 20, size) != nullptr) {
        ++errors;
        return;
      }
      if (size > rest.size()) {
        ADD_FAILURE() << "split_frame claims " << size << " of " << rest.size() << " bytes";
        return;
      }
      if (size == 0) {
        one(rest); // not complete: parse what there is anyway
        return;
      }
      one(rest.substr(0, size));
      pos += size;
    }
  }

  void one(std::string_view raw) {
    ++frames;
    if (frame_error(raw) != nullptr) {
      ++errors;
    }
  }

  static error frame_error(std::string_view raw) {
    frame f;
    performative p;
    if (auto e = parse_frame(raw, f)) {
      return e;
    }
    if (auto e = read_performative(f.body, p)) {
      return e;
    }
    std::string shown;
    if (auto e = shower{}.show(p.list, shown)) {
      return e;
    }
    switch (p.code) {
      case code::open: {
        open_frame o;
        return decode_open(p.list, o);
      }
      case code::begin: {
        begin_frame b;
        return decode_begin(p.list, b);
      }
      case code::attach: {
        attach_frame a;
        return decode_attach(p.list, a);
      }
      case code::flow: {
        flow_frame fl;
        return decode_flow(p.list, fl);
      }
      case code::transfer: {
        transfer_frame t;
        if (auto e = decode_transfer(p.list, t)) {
          return e;
        }
        message_view m;
        if (auto e = decode_message(p.payload, m)) {
          return e;
        }
        value status;
        bool found = false;
        if (auto e = map_lookup(m.application_properties, "status-code", status, found)) {
          return e;
        }
        if (found) {
          (void)as_int(status);
        }
        if (auto e = map_lookup(m.properties, "x", status, found)) {
          return e;
        }
        shower s;
        for (const auto* section : {&m.properties, &m.application_properties, &m.body}) {
          if (auto e = s.show(*section, shown)) {
            return e;
          }
        }
        return nullptr;
      }
      case code::disposition: {
        disposition_frame d;
        return decode_disposition(p.list, d);
      }
      case code::detach: {
        detach_frame d;
        return decode_detach(p.list, d);
      }
      case code::end:
      case code::close: {
        error_fields e;
        return decode_error_only(p.list, e);
      }
      default:
        return nullptr;
    }
  }
};

/// `bytes` in a heap block of exactly its size (ASan flags a read one past it).
void run_exact(pipeline& p, std::string_view bytes) {
  std::unique_ptr<char[]> block{new char[bytes.size()]};
  if (!bytes.empty()) {
    std::memcpy(block.get(), bytes.data(), bytes.size());
  }
  p.run(std::string_view{block.get(), bytes.size()});
}

/// A performative frame written with the codec's primitives: what a hub sends (errors,
/// remote channels, idle time-outs) as well as what we send.
template <class F>
std::string hub_frame(std::uint64_t code, std::uint32_t count, F&& write) {
  std::string body;
  put_descriptor(body, code);
  compound list(body, false);
  write(body);
  list.finish(count);
  return frame_of(body);
}

void put_error(std::string& out, std::string_view condition, std::string_view description) {
  put_descriptor(out, code::error_list);
  compound e(out, false);
  put_symbol(out, condition);
  put_string(out, description);
  e.finish(2);
}

/// Frames of both directions: the corpus the truncation and mutation tests start from.
std::vector<std::string> corpus() {
  std::vector<std::string> c;
  std::string out;
  const auto add = [&] {
    c.push_back(out);
    out.clear();
  };
  encode_open(out, {"dev1", "hub.example", 65536, 0});
  add();
  encode_begin(out, 0, {});
  add();
  attach_fields a;
  a.name = "dev1-cbs-out";
  a.source_address = "$cbs";
  a.target_address = "$cbs";
  encode_attach(out, 0, a);
  add();
  a.receiver = true;
  a.handle = 1;
  encode_attach(out, 0, a);
  add();
  flow_fields fl;
  fl.next_incoming_id = 0;
  fl.handle = 1;
  fl.delivery_count = 0;
  fl.link_credit = 1;
  encode_flow(out, 0, fl);
  add();
  std::string data;
  encode_data(data, "0123456789abcdef");
  transfer_template(0, 2, data).append(out, 77, 0x0102030405060708ull);
  add();
  encode_transfer(out, 0, {0, 0, "put", false},
                  put_token_message("dev1", "hub.example", token_of("dev1", 120)));
  add();
  encode_transfer(out, 0, {1, 0, "r", false}, proton_reply(200));
  add();
  encode_disposition(out, 0, {true, 0, 3, true, code::accepted});
  add();
  encode_close(out);
  add();
  encode_empty_frame(out);
  add();
  // The hub's side.
  c.push_back(hub_frame(code::open, 5, [](std::string& b) {
    put_string(b, "outpost");
    put_null(b);
    put_uint(b, 1u << 20);
    put_ushort(b, 255);
    put_uint(b, 240000);
  }));
  c.push_back(hub_frame(code::begin, 4, [](std::string& b) {
    put_ushort(b, 0);
    put_uint(b, 1);
    put_uint(b, 5000);
    put_uint(b, 5000);
  }));
  c.push_back(hub_frame(code::detach, 3, [](std::string& b) {
    put_uint(b, 2);
    put_bool(b, true);
    put_error(b, "amqp:unauthorized-access", "bad token");
  }));
  c.push_back(hub_frame(code::end, 1,
                        [](std::string& b) { put_error(b, "amqp:internal-error", "stopping"); }));
  c.push_back(hub_frame(code::close, 1,
                        [](std::string& b) { put_error(b, "amqp:connection:forced", "bye"); }));
  c.push_back(hub_frame(code::disposition, 5, [](std::string& b) {
    put_bool(b, true);
    put_uint(b, 10);
    put_null(b);
    put_bool(b, false);
    put_descriptor(b, code::rejected);
    compound r(b, false);
    put_error(b, "amqp:not-allowed", "no");
    r.finish(1);
  }));
  // Every type, under an unknown descriptor and inside a transfer's message.
  auto all = every_type();
  const auto encoded = proton_encode(all.get());
  c.push_back(frame_of(encoded));
  std::string sections;
  put_descriptor(sections, code::application_properties);
  compound map(sections, true);
  put_string(sections, "status-code");
  sections += encoded;
  map.finish(2);
  put_descriptor(sections, code::amqp_value);
  sections += encoded;
  encode_transfer(out, 0, {1, 1, "e", true}, sections);
  add();
  return c;
}

TEST(LoadgenAmqpCodec, TheHubFramesOfTheCorpusDecode) {
  const auto c = corpus();
  pipeline p;
  for (const auto& f : c) {
    SCOPED_TRACE(hex(f));
    EXPECT_EQ(pipeline::frame_error(f), nullptr);
    run_exact(p, f);
  }
  EXPECT_EQ(p.errors, 0u);
  EXPECT_EQ(p.frames, c.size());

  // corpus() order: 11 to 16 are the hub's open, begin, detach, end, close and disposition.
  ASSERT_EQ(c.size(), 19u);
  frame raw;
  performative perf;
  detach_frame d;
  ASSERT_EQ(parse_frame(c[13], raw), nullptr);
  ASSERT_EQ(read_performative(raw.body, perf), nullptr);
  ASSERT_EQ(decode_detach(perf.list, d), nullptr);
  EXPECT_TRUE(d.closed);
  EXPECT_TRUE(d.failure.present);
  EXPECT_EQ(d.failure.condition, "amqp:unauthorized-access");
  EXPECT_EQ(d.failure.description, "bad token");
  open_frame o;
  ASSERT_EQ(parse_frame(c[11], raw), nullptr);
  ASSERT_EQ(read_performative(raw.body, perf), nullptr);
  ASSERT_EQ(decode_open(perf.list, o), nullptr);
  EXPECT_EQ(o.container_id, "outpost");
  EXPECT_EQ(o.max_frame_size, 1u << 20);
  EXPECT_EQ(o.channel_max, 255);
  EXPECT_EQ(o.idle_timeout_ms, 240000u);
  begin_frame b;
  ASSERT_EQ(parse_frame(c[12], raw), nullptr);
  ASSERT_EQ(read_performative(raw.body, perf), nullptr);
  ASSERT_EQ(decode_begin(perf.list, b), nullptr);
  EXPECT_EQ(b.remote_channel, 0);
  disposition_frame disp;
  ASSERT_EQ(parse_frame(c[16], raw), nullptr);
  ASSERT_EQ(read_performative(raw.body, perf), nullptr);
  ASSERT_EQ(decode_disposition(perf.list, disp), nullptr);
  EXPECT_EQ(disp.last, 10u) << "absent last = first";
  EXPECT_EQ(disp.state, code::rejected);
}

TEST(LoadgenAmqpCodec, EveryTruncationIsAnErrorOrAValue) {
  for (const auto& f : corpus()) {
    SCOPED_TRACE(hex(f));
    // How much of the body is the performative (the rest is a transfer's message).
    std::size_t performative_end = 8;
    if (f.size() > 8) {
      reader r(std::string_view{f}.substr(8));
      value v;
      ASSERT_EQ(r.next(v), nullptr);
      performative_end += r.position();
    }
    for (std::size_t n = 0; n < f.size(); ++n) {
      std::unique_ptr<char[]> block{new char[n]};
      std::memcpy(block.get(), f.data(), n);
      const std::string_view cut{block.get(), n};
      std::size_t size = 1;
      ASSERT_EQ(split_frame(cut, 1u << 20, size), nullptr);
      EXPECT_EQ(size, 0u) << "a truncated frame is incomplete, at " << n;
      const auto e = pipeline::frame_error(cut);
      if (n < 8) {
        EXPECT_NE(e, nullptr) << "at " << n;
      } else if (n > 8 && n < performative_end) {
        EXPECT_NE(e, nullptr) << "a cut performative, at " << n;
      } else if (n == 8) {
        EXPECT_EQ(e, nullptr) << "a bare header is an empty frame";
      }
      pipeline p;
      p.run(cut);
    }
  }
  // Proton-encoded values: every proper prefix fails in our reader.
  auto all = every_type();
  const auto encoded = proton_encode(all.get());
  for (std::size_t n = 0; n < encoded.size(); ++n) {
    std::unique_ptr<char[]> block{new char[n]};
    std::memcpy(block.get(), encoded.data(), n);
    reader r(std::string_view{block.get(), n});
    value v;
    EXPECT_NE(r.next(v), nullptr) << "at " << n;
  }
}

TEST(LoadgenAmqpCodec, MutatedFramesAreAnErrorOrAValue) {
  const auto c = corpus();
  std::mt19937_64 rng(0x0a3c0dec5eedull); // fixed: the same 100,000 inputs on every run
  const auto below = [&](std::size_t n) {
    return n == 0 ? 0 : static_cast<std::size_t>(rng() % n);
  };
  static const unsigned char interesting[] = {0x00, 0x01, 0x02, 0x40, 0x41, 0x43, 0x45, 0x53,
                                              0x70, 0x7f, 0x80, 0xa0, 0xa1, 0xa3, 0xb0, 0xb1,
                                              0xc0, 0xc1, 0xd0, 0xd1, 0xe0, 0xf0, 0xfe, 0xff};
  pipeline p;
  std::size_t inputs = 0;
  for (int i = 0; i < 100000; ++i) {
    std::string m = c[below(c.size())];
    if (below(8) == 0) {
      m += c[below(c.size())]; // two frames back to back
    }
    const auto edits = 1 + below(4);
    for (std::size_t k = 0; k < edits; ++k) {
      const auto at = below(m.size());
      switch (below(8)) {
        case 0: // flip a bit
          if (!m.empty()) {
            m[at] = static_cast<char>(m[at] ^ (1 << below(8)));
          }
          break;
        case 1: // any byte
          if (!m.empty()) {
            m[at] = static_cast<char>(rng());
          }
          break;
        case 2: // a constructor or a size edge
        case 3:
          if (!m.empty()) {
            m[at] = static_cast<char>(interesting[below(sizeof interesting)]);
          }
          break;
        case 4: // cut
          m.resize(at);
          break;
        case 5: // insert
          m.insert(at, 1 + below(3), static_cast<char>(interesting[below(sizeof interesting)]));
          break;
        case 6: // delete
          m.erase(at, 1 + below(8));
          break;
        case 7: { // a 4-byte size of 0, 2^31-1, 2^32-1 or random, at a random place
          const std::uint32_t sizes[] = {0, 0x7fffffff, 0xffffffff,
                                         static_cast<std::uint32_t>(rng())};
          const auto v = sizes[below(4)];
          for (int b = 0; b < 4 && at + b < m.size(); ++b) {
            m[at + b] = static_cast<char>(v >> (24 - 8 * b));
          }
          break;
        }
      }
    }
    // Frames whose header survived keep their declared size, most do not: also feed the body
    // under a corrected header, so the mutations reach the decoders.
    run_exact(p, m);
    if (m.size() >= 8) {
      std::string fixed = m;
      const auto size = static_cast<std::uint32_t>(fixed.size());
      for (int b = 0; b < 4; ++b) {
        fixed[b] = static_cast<char>(size >> (24 - 8 * b));
      }
      fixed[4] = '\x02';
      run_exact(p, fixed);
    }
    ++inputs;
  }
  EXPECT_EQ(inputs, 100000u);
  // Sanity: the mutations reached the decoders, and both outcomes happened.
  EXPECT_GT(p.frames, 150000u);
  EXPECT_GT(p.errors, 10000u);
  EXPECT_LT(p.errors, p.frames);
}

std::string repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) {
    out.append(s);
  }
  return out;
}

TEST(LoadgenAmqpCodec, DeepDescriptorChainsAreRefused) {
  // A described value whose value is described ...: 16 levels are read, 17 are not.
  const std::string link{"\x00\x53\x10", 3};
  for (const auto& [levels, ok] :
       {std::pair{std::size_t{1}, true}, std::pair{std::size_t{16}, true},
        std::pair{std::size_t{17}, false}, std::pair{std::size_t{100000}, false}}) {
    SCOPED_TRACE(levels);
    const auto chain = repeat(link, levels) + "\x45";
    reader r(chain);
    value v;
    const auto e = r.next(v);
    if (ok) {
      ASSERT_EQ(e, nullptr);
      EXPECT_TRUE(v.described);
      EXPECT_EQ(v.descriptor, code::open);
      EXPECT_EQ(v.kind, type::list);
    } else {
      ASSERT_NE(e, nullptr);
      EXPECT_STREQ(e, "descriptors nested too deep");
    }
  }
  // A descriptor described by a descriptor described by ...
  {
    const auto chain = std::string(100000, '\0') + "\x53\x10\x45";
    reader r(chain);
    value v;
    const auto e = r.next(v);
    ASSERT_NE(e, nullptr);
    EXPECT_STREQ(e, "descriptors nested too deep");
  }
  // In a frame: the performative is refused; in a message: the section is; in an array: too.
  {
    const auto raw = frame_of(repeat(link, 100000) + "\x45");
    frame f;
    performative p;
    ASSERT_EQ(parse_frame(raw, f), nullptr);
    EXPECT_NE(read_performative(f.body, p), nullptr);
    message_view m;
    EXPECT_NE(decode_message(repeat(link, 100000) + "\x45", m), nullptr);
    const auto array = std::string{"\xe0\xff\x01\x00", 4} + std::string(100000, '\0');
    reader r(array);
    value v;
    EXPECT_NE(r.next(v), nullptr);
  }
}

TEST(LoadgenAmqpCodec, HostileSizesAndCountsAreRefused) {
  const auto refused = [](std::string_view bytes) {
    std::unique_ptr<char[]> block{new char[bytes.size()]};
    std::memcpy(block.get(), bytes.data(), bytes.size());
    reader r(std::string_view{block.get(), bytes.size()});
    value v;
    return r.next(v) != nullptr;
  };
  EXPECT_TRUE(refused(std::string_view{"\xb1\xff\xff\xff\xff\x61\x62\x63", 8}))
      << "string past the end";
  EXPECT_TRUE(refused(std::string_view{"\xa0\x05\x61\x62", 4})) << "binary past the end";
  EXPECT_TRUE(refused(std::string_view{"\xd0\x00\x00\x00\x04\xff\xff\xff\xff", 9}))
      << "list count larger than its bytes";
  EXPECT_TRUE(refused(std::string_view{"\xc0\x00", 2})) << "list8 without its count";
  EXPECT_TRUE(refused(std::string_view{"\xc1\x03\x01\x41\x41", 5})) << "a map of an odd count";
  EXPECT_TRUE(refused(std::string_view{"\xf0\x00\x00\x00\x04\x00\x00\x00\x01", 9}))
      << "array without its constructor";
  EXPECT_TRUE(refused(std::string_view{"\x00\x41\x45", 3})) << "a boolean descriptor";
  EXPECT_TRUE(refused(std::string_view{"\x00", 1})) << "a descriptor alone";
  EXPECT_TRUE(refused(std::string_view{"\x99", 1})) << "an unknown constructor";
  EXPECT_TRUE(refused(std::string_view{"\x98\x00\x01", 3})) << "a short uuid";

  // An array of 2^32-1 nulls is a value; its elements are read one at a time, none overread.
  const std::string_view nulls{"\xf0\x00\x00\x00\x05\xff\xff\xff\xff\x40", 10};
  reader r(nulls);
  value v;
  ASSERT_EQ(r.next(v), nullptr);
  EXPECT_EQ(v.kind, type::array);
  EXPECT_EQ(v.count, 0xffffffffu);
  reader elements(v.bytes);
  value e;
  EXPECT_EQ(elements.next_element(v.element, e), nullptr);
  EXPECT_EQ(e.kind, type::null);
  // ... but an array of ints that claims more than it holds runs out.
  const std::string_view ints{"\xe0\x06\x03\x71\x00\x00\x00\x01", 8};
  reader r2(ints);
  ASSERT_EQ(r2.next(v), nullptr);
  reader items(v.bytes);
  EXPECT_EQ(items.next_element(v.element, e), nullptr);
  EXPECT_EQ(e.i, 1);
  EXPECT_NE(items.next_element(v.element, e), nullptr);

  // Frames: sizes below the header or above the limit; a data offset inside the header or past
  // the frame; a performative that is not a described list.
  std::size_t size = 0;
  EXPECT_NE(split_frame(std::string_view{"\0\0\0\x07\x02\0\0\0", 8}, 512, size), nullptr);
  EXPECT_NE(split_frame(std::string_view{"\0\0\x02\x01", 4}, 512, size), nullptr);
  EXPECT_EQ(split_frame(std::string_view{"\0\0\x02", 3}, 512, size), nullptr);
  EXPECT_EQ(size, 0u);
  frame f;
  EXPECT_NE(parse_frame(std::string_view{"\0\0\0\x08\x01\0\0\0", 8}, f), nullptr);
  EXPECT_NE(parse_frame(std::string_view{"\0\0\0\x08\x03\0\0\0", 8}, f), nullptr);
  performative p;
  EXPECT_NE(read_performative(std::string_view{"\x45", 1}, p), nullptr);
  EXPECT_NE(read_performative(std::string_view{"\x00\xa3\x01x\x45", 5}, p), nullptr);
  EXPECT_NE(read_performative(std::string_view{"\x00\x53\x10\x41", 4}, p), nullptr);
  message_view m;
  EXPECT_NE(decode_message(std::string_view{"\xa1\x01x", 3}, m), nullptr)
      << "an undescribed section";
  EXPECT_NE(decode_message(std::string_view{"\x00\x53\x74\x45", 4}, m), nullptr)
      << "application-properties that are not a map";
}

} // namespace
} // namespace outpost::loadgen::amqp
