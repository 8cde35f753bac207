#pragma once

#include "protocols/common/result.hpp"
#include "storage/kv_store.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::storage {

/// A module's restart counters (IoT Edge's ModuleState), kept across daemon restarts.
struct restart_record {
  std::uint32_t restart_count = 0;
  std::int64_t last_restart_ms = 0;
  friend bool operator==(const restart_record& a, const restart_record& b) {
    return a.restart_count == b.restart_count && a.last_restart_ms == b.last_restart_ms;
  }
};

/// Layout of column `agent` (format version 1; values start with a version byte):
///
/// | key | value |
/// |---|---|
/// | `deployment` | 0x01, be32 length, the last good manifest's text |
/// | `reported` | 0x01, be32 length, the `$edgeAgent` reported properties (JSON) |
/// | `state/<module>` | 0x01, be32 restart count, be64 last restart (ms since the epoch) |
/// | `uid/<module>` | 0x01, be32 the uid/gid allocated to the module |
/// | `master_key` | 32 random bytes (the workload API's encryption key) |
/// | `service_key` | 32 random bytes (the service API's shared access policy key) |
///
/// Before format version 1 the texts were stored bare, the restart counters as JSON
/// `{"lastRestartMs": M, "restartCount": N}` and uids as decimal text: those still decode and
/// are rewritten in this format by the next change.
namespace agent_records {

inline constexpr char format_version = 1;
inline constexpr std::size_t master_key_size = 32;

inline constexpr std::string_view deployment_key = "deployment";
inline constexpr std::string_view reported_key = "reported";
inline constexpr std::string_view master_key_key = "master_key";
inline constexpr std::string_view service_key_key = "service_key";
std::string state_key(std::string_view module);
std::string uid_key(std::string_view module);

std::string encode_text(std::string_view text);
std::optional<std::string> decode_text(std::string_view value);
std::string encode_restart(const restart_record& r);
std::optional<restart_record> decode_restart(std::string_view value);
std::string encode_uid(std::uint32_t uid);
std::optional<std::uint32_t> decode_uid(std::string_view value);
/// Exactly `master_key_size` bytes, else nullopt.
std::optional<std::string> decode_master_key(std::string_view value);

} // namespace agent_records

/// Everything column `agent` holds, read once at start-up (the agent keeps it in memory and
/// hands every change to the storage writer as a batch from `agent_batches`).
struct agent_record_set {
  std::optional<std::string> deployment; ///< the last good manifest
  std::map<std::string, restart_record> restarts;
  std::map<std::string, std::uint32_t> uids;
  std::optional<std::string> master_key;
  std::optional<std::string> service_key; ///< raw bytes (the SAS key is their base64)
};

/// Reads column `agent`; unreadable records are skipped (the agent starts them afresh).
result<agent_record_set> load_agent_records(kv_store& kv);

/// The batches of the agent's changes, for the storage writer.
namespace agent_batches {

write_batch deployment(std::string_view manifest);
write_batch reported(std::string_view json);
write_batch restart(std::string_view module, const restart_record& r);
write_batch forget_restart(std::string_view module);
write_batch uid(std::string_view module, std::uint32_t uid);
write_batch master_key(std::string_view key);
write_batch service_key(std::string_view key);

} // namespace agent_batches

} // namespace outpost::storage
