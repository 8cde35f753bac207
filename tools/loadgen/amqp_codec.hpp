#pragma once

// A minimal AMQP 1.0 codec for outpost-amqp-loadgen's raw engine (OASIS AMQP 1.0: types §1.6,
// transport §2.7, messaging §3.2). Plain code: bytes in, bytes out, no sockets. The encoder
// writes what a client sends; the decoder reads any AMQP type well enough to skip it and
// decodes the performatives and message sections a client needs. Every read is bounds-checked:
// malformed input yields an error, never a crash or an overread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::loadgen::amqp {

/// What went wrong while decoding (a static string), or nullptr for success.
using error = const char*;

/// Performative, outcome and section descriptors (the ulong codes).
namespace code {
enum : std::uint64_t {
  open = 0x10,
  begin = 0x11,
  attach = 0x12,
  flow = 0x13,
  transfer = 0x14,
  disposition = 0x15,
  detach = 0x16,
  end = 0x17,
  close = 0x18,
  error_list = 0x1d,
  accepted = 0x24,
  rejected = 0x25,
  released = 0x26,
  modified = 0x27,
  source = 0x28,
  target = 0x29,
  header = 0x70,
  delivery_annotations = 0x71,
  message_annotations = 0x72,
  properties = 0x73,
  application_properties = 0x74,
  data = 0x75,
  amqp_sequence = 0x76,
  amqp_value = 0x77,
  footer = 0x78,
};
} // namespace code

constexpr std::string_view protocol_header{"AMQP\x00\x01\x00\x00", 8};
constexpr std::size_t frame_header_size = 8;

// ---- encoding ---------------------------------------------------------------------------------

void put_null(std::string& out);
void put_bool(std::string& out, bool v);
void put_ubyte(std::string& out, std::uint8_t v);
void put_ushort(std::string& out, std::uint16_t v);
void put_uint(std::string& out, std::uint32_t v);
void put_ulong(std::string& out, std::uint64_t v);
void put_int(std::string& out, std::int32_t v);
void put_string(std::string& out, std::string_view v);
void put_symbol(std::string& out, std::string_view v);
void put_binary(std::string& out, std::string_view v);
/// The descriptor of a described type: 0x00 and the code as a smallulong.
void put_descriptor(std::string& out, std::uint64_t code);

/// A list32 or map32 being written at the end of `out`: items go after the constructor;
/// `finish` fills in size and count.
class compound {
public:
  compound(std::string& out, bool map);
  /// `count` = items of a list, keys + values of a map.
  void finish(std::uint32_t count);

private:
  std::string& out_;
  std::size_t at_;
};

/// The 8-byte header of an AMQP frame (type 0) on `channel`; `finish_frame` fills in its size.
std::size_t start_frame(std::string& out, std::uint16_t channel);
void finish_frame(std::string& out, std::size_t at);

/// An empty frame: the heartbeat that keeps a peer's idle timeout from expiring.
void encode_empty_frame(std::string& out);

struct open_fields {
  std::string container_id;
  std::string hostname;
  std::uint32_t max_frame_size = 65536;
  std::uint16_t channel_max = 0;
};
void encode_open(std::string& out, const open_fields& f);

struct begin_fields {
  std::uint32_t next_outgoing_id = 0;
  std::uint32_t incoming_window = 2147483647;
  std::uint32_t outgoing_window = 2147483647;
};
void encode_begin(std::string& out, std::uint16_t channel, const begin_fields& f);

struct attach_fields {
  std::string name;
  std::uint32_t handle = 0;
  bool receiver = false;                       ///< role
  std::optional<std::uint8_t> snd_settle_mode; ///< 0 unsettled, 1 settled, 2 mixed (default)
  std::optional<std::uint8_t> rcv_settle_mode; ///< 0 first (default), 1 second
  std::string source_address;
  std::string target_address;
};
/// A sender's attach carries initial-delivery-count 0.
void encode_attach(std::string& out, std::uint16_t channel, const attach_fields& f);

struct flow_fields {
  std::optional<std::uint32_t> next_incoming_id;
  std::uint32_t incoming_window = 2147483647;
  std::uint32_t next_outgoing_id = 0;
  std::uint32_t outgoing_window = 2147483647;
  std::optional<std::uint32_t> handle;
  std::optional<std::uint32_t> delivery_count;
  std::optional<std::uint32_t> link_credit;
};
void encode_flow(std::string& out, std::uint16_t channel, const flow_fields& f);

struct transfer_fields {
  std::uint32_t handle = 0;
  std::uint32_t delivery_id = 0;
  std::string_view delivery_tag;
  bool settled = false;
  std::uint32_t message_format = 0; ///< 0x80013700: IoT Hub's batched format
};
/// One frame: the transfer performative (message-format 0) and `message` (encoded sections).
void encode_transfer(std::string& out, std::uint16_t channel, const transfer_fields& f,
                     std::string_view message);

struct disposition_fields {
  bool receiver = true; ///< role
  std::uint32_t first = 0;
  std::uint32_t last = 0;
  bool settled = true;
  std::uint64_t state = code::accepted; ///< accepted, released, ...: an outcome without fields
};
void encode_disposition(std::string& out, std::uint16_t channel, const disposition_fields& f);

/// A close without error.
void encode_close(std::string& out);

/// Message sections.
void encode_properties(std::string& out, std::string_view message_id, std::string_view reply_to);
void encode_application_properties(
    std::string& out, const std::vector<std::pair<std::string, std::string>>& string_properties);
void encode_amqp_value_string(std::string& out, std::string_view body);
void encode_data(std::string& out, std::string_view body);

/// A transfer frame encoded once and stamped per delivery: the load's hot path is a copy and
/// two patches (delivery-id, an 8-byte delivery-tag), not an encoding.
class transfer_template {
public:
  transfer_template(std::uint16_t channel, std::uint32_t handle, std::string_view message,
                    std::uint32_t message_format = 0);
  void append(std::string& out, std::uint32_t delivery_id, std::uint64_t tag) const;
  std::size_t size() const noexcept { return frame_.size(); }

private:
  std::string frame_;
  std::size_t id_at_ = 0;  ///< the 4 bytes of delivery-id (encoded as a full uint)
  std::size_t tag_at_ = 0; ///< the 8 bytes of the tag
};

// ---- decoding ---------------------------------------------------------------------------------

enum class type : std::uint8_t {
  null,
  boolean,
  ubyte,
  ushort,
  uint,
  ulong,
  byte,
  short_,
  int_,
  long_,
  float_,
  double_,
  decimal,
  char_,
  timestamp,
  uuid,
  binary,
  string,
  symbol,
  list,
  map,
  array,
};

/// One decoded value. Nothing is copied: views point into the decoded bytes.
struct value {
  type kind = type::null;
  std::uint64_t u = 0;      ///< boolean, ubyte .. ulong, char
  std::int64_t i = 0;       ///< byte .. long, timestamp
  double f = 0;             ///< float, double
  std::string_view bytes;   ///< binary, string, symbol, uuid, decimal; list, map, array: elements
  std::uint32_t count = 0;  ///< list items, map keys + values, array elements
  std::uint8_t element = 0; ///< array: the elements' constructor
  bool described = false;
  std::uint64_t descriptor = 0;       ///< a numeric descriptor
  std::string_view descriptor_symbol; ///< or a symbolic one
};

/// Reads values one after the other from a byte range.
class reader {
public:
  explicit reader(std::string_view in) : in_(in) {}
  bool at_end() const noexcept { return pos_ >= in_.size(); }
  std::size_t position() const noexcept { return pos_; }
  error next(value& v);
  /// An element of an array whose elements share constructor `ctor` (`value::element`).
  error next_element(std::uint8_t ctor, value& v);

private:
  error read(value& v, int depth);
  error read_typed(std::uint8_t ctor, value& v, int depth);
  error read_array(std::uint8_t ctor, value& v, int depth);
  bool take(std::size_t n, std::string_view& out);

  std::string_view in_;
  std::size_t pos_ = 0;
};

/// The fields of a described list (a performative, a section, an error), left to right; absent
/// trailing fields read as null.
class fields {
public:
  explicit fields(const value& list) : r_(list.bytes), left_(list.count) {}
  error next(value& v);
  error skip(int n);

private:
  reader r_;
  std::uint32_t left_;
};

std::optional<std::uint64_t> as_uint(const value& v); ///< ubyte .. ulong
std::optional<std::int64_t> as_int(const value& v);   ///< byte .. long, and unsigned that fit
std::optional<bool> as_bool(const value& v);
std::optional<std::string_view> as_text(const value& v); ///< string or symbol

/// A complete frame at the start of `in`: its size in `size` (0 = more bytes are needed).
error split_frame(std::string_view in, std::uint32_t max_size, std::size_t& size);

struct frame {
  std::uint8_t type = 0; ///< 0 AMQP, 1 SASL
  std::uint16_t channel = 0;
  std::string_view body; ///< after the extended header; empty = a heartbeat
};
error parse_frame(std::string_view raw, frame& f);

struct performative {
  std::uint64_t code = 0;   ///< 0 for an empty frame
  value list;               ///< the described list of its fields
  std::string_view payload; ///< what follows it (a transfer's message bytes)
};
error read_performative(std::string_view body, performative& p);

struct error_fields {
  bool present = false;
  std::string_view condition;
  std::string_view description;
};

struct open_frame {
  std::string_view container_id;
  std::uint32_t max_frame_size = 0xffffffff;
  std::uint16_t channel_max = 65535;
  std::uint32_t idle_timeout_ms = 0; ///< 0 = none
};
error decode_open(const value& list, open_frame& f);

struct begin_frame {
  std::optional<std::uint16_t> remote_channel;
  std::uint32_t next_outgoing_id = 0;
  std::uint32_t incoming_window = 0;
  std::uint32_t outgoing_window = 0;
};
error decode_begin(const value& list, begin_frame& f);

struct attach_frame {
  std::string_view name;
  std::uint32_t handle = 0;
  bool receiver = false;
  bool has_source = false; ///< a refused link comes back without its terminus
  bool has_target = false;
  std::uint32_t initial_delivery_count = 0;
};
error decode_attach(const value& list, attach_frame& f);

struct flow_frame {
  std::optional<std::uint32_t> next_incoming_id;
  std::uint32_t incoming_window = 0;
  std::uint32_t next_outgoing_id = 0;
  std::uint32_t outgoing_window = 0;
  std::optional<std::uint32_t> handle;
  std::optional<std::uint32_t> delivery_count;
  std::optional<std::uint32_t> link_credit;
  bool drain = false;
};
error decode_flow(const value& list, flow_frame& f);

struct transfer_frame {
  std::uint32_t handle = 0;
  std::optional<std::uint32_t> delivery_id;
  bool settled = false;
  bool more = false;
  bool aborted = false;
};
error decode_transfer(const value& list, transfer_frame& f);

struct disposition_frame {
  bool receiver = false;
  std::uint32_t first = 0;
  std::uint32_t last = 0; ///< = first when absent
  bool settled = false;
  std::uint64_t state = 0; ///< the outcome's descriptor (accepted, rejected ...); 0 = none
};
error decode_disposition(const value& list, disposition_frame& f);

struct detach_frame {
  std::uint32_t handle = 0;
  bool closed = false;
  error_fields failure;
};
error decode_detach(const value& list, detach_frame& f);
/// end and close: their only field is the error.
error decode_error_only(const value& list, error_fields& f);

/// The sections of a message (absent ones stay null).
struct message_view {
  value properties;             ///< a list
  value application_properties; ///< a map
  value body;                   ///< amqp-value's value, or the first data section's binary
};
error decode_message(std::string_view bytes, message_view& m);

/// The value under string or symbol `key` in map `m`: `found` false when there is none.
error map_lookup(const value& m, std::string_view key, value& out, bool& found);

} // namespace outpost::loadgen::amqp
