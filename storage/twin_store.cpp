#include "storage/twin_store.hpp"

#include "protocols/common/big_endian.hpp"
#include "storage/errc.hpp"

namespace outpost::storage {

std::string twin_store::encode(std::string_view document) {
  std::string record;
  record.reserve(document.size() + 5);
  record.push_back(format_version);
  put_be32(record, static_cast<std::uint32_t>(document.size()));
  record.append(document);
  return record;
}

result<std::string> twin_store::decode(std::string_view record) {
  if (record.size() < 5 || record.front() != format_version
      || get_be32(record, 1) != record.size() - 5) {
    return errc::corrupt_record;
  }
  return std::string{record.substr(5)};
}

void twin_store::put(write_batch& batch, std::string_view id, std::string_view document) {
  batch.put(column::twins, std::string{id}, encode(document));
}

void twin_store::erase(write_batch& batch, std::string_view id) {
  batch.erase(column::twins, std::string{id});
}

result<std::optional<std::string>> twin_store::get(kv_store& kv, std::string_view id) {
  auto record = kv.get(column::twins, id);
  if (!record) {
    return record.error();
  }
  if (!*record) {
    return std::optional<std::string>{};
  }
  auto document = decode(**record);
  if (!document) {
    return document.error();
  }
  return std::optional<std::string>{std::move(*document)};
}

} // namespace outpost::storage
