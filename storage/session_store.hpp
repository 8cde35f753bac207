#pragma once

#include "storage/kv_store.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::storage {

/// What a client's previous session left: MQTT persistent session state (§3.1.2.4).
struct stored_session {
  bool present = false;
  std::vector<std::string> subscriptions; ///< topic filters
  bool discarded = false; ///< what was stored could not be read: the session starts clean
};

/// Layout of column `sessions` (format version 2), one key per change so a SUBSCRIBE writes
/// only what it adds (version 1 rewrote the whole list with a sync: 2,000 filters cost +33 MB):
///   <client id>                 -> "\x02" (a persistent session exists)
///   <client id> 0x00 <filter>   -> ""     (one per filter; subscription order is not kept)
/// Version 1 kept the whole list in the marker's value (each filter as be32 length + bytes);
/// it is read once and rewritten as version 2.
namespace session_records {

inline constexpr char list_version = 1;
inline constexpr char keyed_version = 2;

inline std::string marker_key(std::string_view client_id) {
  return std::string{client_id};
}
std::string marker_value();
std::string filter_key(std::string_view client_id, std::string_view filter);
/// [first, end) of the filter keys of `client_id`.
std::pair<std::string, std::string> filter_range(std::string_view client_id);
/// The filter of a key in `filter_range(client_id)`.
std::string_view filter_of(std::string_view key, std::string_view client_id);
/// Version 1's list value; nullopt when it is not one (wrong version, truncated).
std::optional<std::vector<std::string>> decode_list(std::string_view value);
/// Version 1's list value, for tests of the migration.
std::string encode_list(const std::vector<std::string>& filters);

} // namespace session_records

/// The persistent MQTT sessions (column `sessions`). Owned by the storage writer, the only
/// code that writes them: it reads with `kv` and hands every change back as a batch for the
/// writer's next commit. Thread-compatible.
class session_store {
public:
  explicit session_store(kv_store& kv) : kv_(&kv) {}

  /// A client connects: what its previous session left. A clean session discards it
  /// ([MQTT-3.1.2-6]); a persistent one is marked. What changes goes into `out`; `durable` is
  /// set when it must be synced (a version 1 session rewritten), else it may be lazy.
  stored_session restore(std::string_view client_id, bool clean, write_batch& out, bool& durable);

  /// A persistent session's subscriptions changed (one key per filter; a durable change).
  static void change(std::string_view client_id, const std::vector<std::string>& added,
                     const std::vector<std::string>& removed, write_batch& out);

private:
  /// The erasure of the marker (when `marker`) and of every filter key, key by key. (Not a
  /// range deletion: RocksDB's memtable insert hints, keyed by a 4-byte prefix, would then
  /// carry a splice of the point table into the range-deletion table, and Debian's build
  /// asserts on it.)
  void erase(std::string_view client_id, write_batch& out, bool marker);

  kv_store* kv_;
};

} // namespace outpost::storage
