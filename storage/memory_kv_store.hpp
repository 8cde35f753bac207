#pragma once

#include "storage/kv_store.hpp"

#include <array>
#include <map>
#include <mutex>
#include <string>

namespace outpost::storage {

/// The in-memory `kv_store`: durability "memory", and the reference model in tests.
/// Nothing survives the process. Thread-safe like every `kv_store`; the lock is recursive
/// because a scan's visitor may read (the message store fetches bodies while scanning).
class memory_kv_store final : public kv_store {
public:
  result<void> write(const write_batch& batch, write_mode mode) override;
  result<std::optional<std::string>> get(column c, std::string_view key) override;
  result<void> scan(column c, std::string_view begin, std::string_view end,
                    const visitor& visit) override;
  result<std::optional<std::string>> last_key(column c, std::string_view begin,
                                              std::string_view end) override;

private:
  using table = std::map<std::string, std::string, std::less<>>;
  table& at(column c) { return tables_[static_cast<std::size_t>(c)]; }

  std::recursive_mutex mutex_;
  std::array<table, column_count> tables_;
};

} // namespace outpost::storage
