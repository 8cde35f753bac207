#pragma once

#include "protocols/common/big_endian.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// Key and value layouts of the message store (format version 1). Keys are big-endian so
/// byte order is numeric order; values start with a version byte.
namespace outpost::storage::records {

inline constexpr char format_version = 1;

/// entries: be32 queue | be64 sequence
inline std::string entry_key(std::uint32_t queue, std::uint64_t seq) {
  std::string k;
  k.reserve(12);
  put_be32(k, queue);
  put_be64(k, seq);
  return k;
}

/// The first key after every entry of `queue`.
inline std::string queue_end_key(std::uint32_t queue) {
  std::string k;
  put_be32(k, queue + 1);
  return k;
}

inline std::uint64_t entry_key_seq(std::string_view key) {
  return get_be64(key, 4);
}

inline std::string id_key(std::uint64_t id) {
  std::string k;
  put_be64(k, id);
  return k;
}

inline std::string queue_handle_key(std::uint32_t queue) {
  std::string k;
  put_be32(k, queue);
  return k;
}

/// queues: endpoint | 0x00 | be32 priority  ->  be32 handle
inline std::string queue_name_key(std::string_view endpoint, std::uint32_t priority) {
  std::string k{endpoint};
  k.push_back('\0');
  put_be32(k, priority);
  return k;
}

/// A `queues` key's parts; nullopt when it is not one.
struct queue_name_parts {
  std::string_view endpoint;
  std::uint32_t priority = 0;
};
inline std::optional<queue_name_parts> decode_queue_name_key(std::string_view k) {
  if (k.size() < 5 || k[k.size() - 5] != '\0') {
    return std::nullopt;
  }
  return queue_name_parts{k.substr(0, k.size() - 5), get_be32(k, k.size() - 4)};
}

/// queues value: be32 queue handle (never 0).
inline std::string encode_queue_handle(std::uint32_t queue) {
  return queue_handle_key(queue);
}
inline std::optional<std::uint32_t> decode_queue_handle(std::string_view v) {
  if (v.size() != 4 || get_be32(v) == 0) {
    return std::nullopt;
  }
  return get_be32(v);
}

/// refs value: be32 reference count of a body shared by 2+ queues.
inline std::string encode_refcount(std::uint32_t n) {
  std::string v;
  put_be32(v, n);
  return v;
}
inline std::optional<std::uint32_t> decode_refcount(std::string_view v) {
  if (v.size() != 4) {
    return std::nullopt;
  }
  return get_be32(v);
}

/// checkpoints value: be64 highest acknowledged sequence.
inline std::string encode_checkpoint(std::uint64_t seq) {
  return id_key(seq);
}
inline std::optional<std::uint64_t> decode_checkpoint(std::string_view v) {
  if (v.size() != 8) {
    return std::nullopt;
  }
  return get_be64(v);
}

/// A `messages` or `refs` key (be64 message id); nullopt when it is not one.
inline std::optional<std::uint64_t> decode_id_key(std::string_view k) {
  if (k.size() != 8) {
    return std::nullopt;
  }
  return get_be64(k);
}

struct entry_value {
  std::uint64_t id = 0;
  std::int64_t enqueued_ms = 0;
  std::int64_t expires_ms = 0; ///< 0 = never
  std::uint32_t body_size = 0;
  /// The body is in the entry itself (a message with one target: no `messages` key, no
  /// second write and delete per message); `body` then views the decoded value.
  bool inline_body = false;
  std::string_view body;
};

/// Version byte of an entry that carries its body.
inline constexpr char inline_entry_version = 2;

inline constexpr std::size_t entry_value_size = 1 + 8 + 8 + 8 + 4;
/// What one entry costs against the quota: its key and value.
inline constexpr std::size_t entry_cost = 12 + entry_value_size;
/// What a body costs against the quota besides its bytes: key and version byte.
inline constexpr std::size_t body_overhead = 8 + 1;

inline std::string encode_entry(const entry_value& e) {
  std::string v;
  v.reserve(entry_value_size);
  v.push_back(format_version);
  put_be64(v, e.id);
  put_be64(v, static_cast<std::uint64_t>(e.enqueued_ms));
  put_be64(v, static_cast<std::uint64_t>(e.expires_ms));
  put_be32(v, e.body_size);
  return v;
}

/// An entry with its body inline: the fields of `encode_entry`, then the body bytes.
inline std::string encode_inline_entry(const entry_value& e, std::string_view body) {
  std::string v;
  v.reserve(entry_value_size + body.size());
  v.push_back(inline_entry_version);
  put_be64(v, e.id);
  put_be64(v, static_cast<std::uint64_t>(e.enqueued_ms));
  put_be64(v, static_cast<std::uint64_t>(e.expires_ms));
  put_be32(v, static_cast<std::uint32_t>(body.size()));
  v.append(body);
  return v;
}

/// Either form; an inline entry's `body` views `v`.
inline std::optional<entry_value> decode_entry(std::string_view v) {
  if (v.size() < entry_value_size || (v[0] != format_version && v[0] != inline_entry_version)) {
    return std::nullopt;
  }
  entry_value e{get_be64(v, 1),
                static_cast<std::int64_t>(get_be64(v, 9)),
                static_cast<std::int64_t>(get_be64(v, 17)),
                get_be32(v, 25),
                false,
                {}};
  if (v[0] == format_version) {
    if (v.size() != entry_value_size) {
      return std::nullopt;
    }
    return e;
  }
  if (v.size() != entry_value_size + e.body_size) {
    return std::nullopt;
  }
  e.inline_body = true;
  e.body = v.substr(entry_value_size);
  return e;
}

inline std::string encode_body(std::string_view body) {
  std::string v;
  v.reserve(1 + body.size());
  v.push_back(format_version);
  v.append(body);
  return v;
}

inline std::optional<std::string_view> decode_body(std::string_view v) {
  if (v.empty() || v[0] != format_version) {
    return std::nullopt;
  }
  return v.substr(1);
}

/// A body whose entry says it has `size` bytes: a value of any other length is corrupt (the
/// value itself carries no length; the entry's `body_size` is the check).
inline std::optional<std::string_view> decode_body(std::string_view v, std::uint32_t size) {
  if (v.size() != 1 + std::size_t{size}) {
    return std::nullopt;
  }
  return decode_body(v);
}

inline bool expired(const entry_value& e, std::int64_t now_ms) {
  return e.expires_ms != 0 && e.expires_ms <= now_ms;
}

} // namespace outpost::storage::records
