#pragma once

#include "protocols/common/result.hpp"
#include "storage/kv_store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::storage {

/// Twins in the `twins` column, one record per identity.
///
/// Key: the identity's id, `<device>` or `<device>/<module>` (IoT Edge's client id; ids never
/// hold '/', so the two cannot collide). Value: the format byte (1), the creation time of the
/// identity the twin belongs to (be64 ms: a twin left by a removed identity is not handed to a
/// new identity of the same id), the document's length (be32), then the twin document as
/// protocols/iothub's `twin::save` wrote it; the document is opaque here, the record's framing
/// is this store's (a truncated record is refused). Writes go
/// into a `write_batch` for the storage writer (the only writer to the engine); reads go straight
/// to the engine (thread-safe).
class twin_store {
public:
  static constexpr char format_version = 1;

  /// A stored twin: its document and the creation time of the identity it belongs to.
  struct stored {
    std::int64_t owner_created_ms = 0;
    std::string document;
  };

  /// The record for `document` of the identity created at `owner_created_ms`.
  static std::string encode(std::int64_t owner_created_ms, std::string_view document);
  /// A record's parts; `errc::corrupt_record` for another format or a length that does not
  /// match.
  static result<stored> decode(std::string_view record);

  /// Adds "store `document` as `id`'s twin" to `batch`.
  static void put(write_batch& batch, std::string_view id, std::int64_t owner_created_ms,
                  std::string_view document);
  /// Adds "forget `id`'s twin" to `batch` (the identity was deleted).
  static void erase(write_batch& batch, std::string_view id);

  /// `id`'s stored twin, nullopt when it has none.
  static result<std::optional<stored>> get(kv_store& kv, std::string_view id);
};

} // namespace outpost::storage
