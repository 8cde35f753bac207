#include "storage/errc.hpp"

#include <string>

namespace outpost::storage {
namespace {

class category final : public std::error_category {
public:
  const char* name() const noexcept override { return "outpost.storage"; }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
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
    return "unknown storage error";
  }
};

} // namespace

const std::error_category& storage_category() noexcept {
  static const category instance;
  return instance;
}

} // namespace outpost::storage
