#pragma once

#include <cstdint>
#include <system_error>

namespace outpost::storage {

/// Storage failures. Callers map them to protocol outcomes (no PUBACK, AMQP released, ...).
enum class errc : std::uint8_t {
  quota_exceeded = 1, ///< an append would grow the store beyond `max_size_bytes`
  corrupt_record,     ///< a stored record has the wrong size or format version
  io_error,           ///< the key-value engine reported a failure (disk full, I/O error)
  open_failed,        ///< the key-value engine could not open its files
  unknown_queue,      ///< a queue handle that was never opened
  closed,             ///< the store was closed
  invalid_identity,   ///< an identity id or its authentication settings are not valid
  identity_exists,    ///< adding an identity that is already registered
  identity_not_found, ///< naming an identity (or a module's device) that is not registered
  disk_full,          ///< the filesystem under the store is (nearly) full: retry later
};

const std::error_category& storage_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), storage_category()};
}

} // namespace outpost::storage

template <>
struct std::is_error_code_enum<outpost::storage::errc> : std::true_type {};
