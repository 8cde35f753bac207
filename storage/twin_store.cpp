#include "storage/twin_store.hpp"

#include "protocols/common/big_endian.hpp"
#include "storage/errc.hpp"

namespace outpost::storage {

std::string twin_store::encode(std::int64_t owner_created_ms, std::string_view document) {
  std::string record;
  record.reserve(document.size() + 13);
  record.push_back(format_version);
  put_be64(record, static_cast<std::uint64_t>(owner_created_ms));
  put_be32(record, static_cast<std::uint32_t>(document.size()));
  record.append(document);
  return record;
}

result<twin_store::stored> twin_store::decode(std::string_view record) {
  if (record.size() < 13 || record.front() != format_version
      || get_be32(record, 9) != record.size() - 13) {
    return errc::corrupt_record;
  }
  return stored{static_cast<std::int64_t>(get_be64(record, 1)), std::string{record.substr(13)}};
}

void twin_store::put(write_batch& batch, std::string_view id, std::int64_t owner_created_ms,
                     std::string_view document) {
  batch.put(column::twins, std::string{id}, encode(owner_created_ms, document));
}

void twin_store::erase(write_batch& batch, std::string_view id) {
  batch.erase(column::twins, std::string{id});
}

result<std::optional<twin_store::stored>> twin_store::get(kv_store& kv, std::string_view id) {
  auto record = kv.get(column::twins, id);
  if (!record) {
    return record.error();
  }
  if (!*record) {
    return std::optional<stored>{};
  }
  auto twin = decode(**record);
  if (!twin) {
    return twin.error();
  }
  return std::optional<stored>{std::move(*twin)};
}

} // namespace outpost::storage
