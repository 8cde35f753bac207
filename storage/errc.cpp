#include "storage/errc.hpp"

#include "protocols/common/error_category.hpp"

#include <string>

namespace outpost::storage {
namespace {

const char* describe(errc e) noexcept {
  switch (e) {
    case errc::quota_exceeded:
      return "storage quota exceeded (storage.max_size_bytes)";
    case errc::corrupt_record:
      return "corrupt record in the message store";
    case errc::io_error:
      return "storage engine I/O error";
    case errc::open_failed:
      return "storage engine could not open its files";
    case errc::unknown_queue:
      return "unknown queue";
    case errc::closed:
      return "store is closed";
    case errc::invalid_identity:
      return "invalid identity id or authentication settings";
    case errc::identity_exists:
      return "identity already exists";
    case errc::identity_not_found:
      return "identity not found";
    case errc::disk_full:
      return "the disk under the store is full";
  }
  return nullptr;
}

} // namespace

const std::error_category& storage_category() noexcept {
  static const enum_category<errc> instance{"outpost.storage", describe, "unknown storage error"};
  return instance;
}

} // namespace outpost::storage
