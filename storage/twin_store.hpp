#pragma once

#include "protocols/common/result.hpp"
#include "storage/kv_store.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace outpost::storage {

/// Twins in the `twins` column, one record per identity.
///
/// Key: the identity's id, `<device>` or `<device>/<module>` (IoT Edge's client id; ids never
/// hold '/', so the two cannot collide). Value: the format byte (1), the document's length
/// (be32), then the twin document as protocols/iothub's `twin::save` wrote it; the document is
/// opaque here, the record's framing is this store's (a truncated record is refused). Writes go
/// into a `write_batch` for the storage writer (the only writer to the engine); reads go straight
/// to the engine (thread-safe).
class twin_store {
public:
  static constexpr char format_version = 1;

  /// The record for `document`.
  static std::string encode(std::string_view document);
  /// The document of a record; `errc::corrupt_record` for another format or a length that
  /// does not match.
  static result<std::string> decode(std::string_view record);

  /// Adds "store `document` as `id`'s twin" to `batch`.
  static void put(write_batch& batch, std::string_view id, std::string_view document);
  /// Adds "forget `id`'s twin" to `batch` (the identity was deleted).
  static void erase(write_batch& batch, std::string_view id);

  /// `id`'s stored document, nullopt when it has none.
  static result<std::optional<std::string>> get(kv_store& kv, std::string_view id);
};

} // namespace outpost::storage
