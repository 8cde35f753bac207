#pragma once

#include "storage/kv_store.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
} // namespace rocksdb

namespace outpost::storage {

struct rocksdb_options {
  std::string path;
  bool sync = true; ///< durability "fsync": durable writes return after fdatasync of the WAL
  std::uint64_t memtable_budget_bytes = 32u << 20; ///< all memtables together
  std::uint64_t block_cache_bytes = 8u << 20;
};

/// `kv_store` on RocksDB: one database, one column family per `column`.
///
/// Memory is bounded by a write-buffer manager charged to a shared block cache, so the hub
/// stays at tens of MB whatever the backlog. Thread-compatible; owned by the storage writer.
class rocksdb_kv_store final : public kv_store {
public:
  /// Opens or creates the database. On failure, `why` carries RocksDB's own message.
  static result<std::unique_ptr<rocksdb_kv_store>> open(const rocksdb_options& options,
                                                        std::string& why);
  ~rocksdb_kv_store() override;

  result<void> write(const write_batch& batch, write_mode mode) override;
  result<std::optional<std::string>> get(column c, std::string_view key) override;
  result<void> scan(column c, std::string_view begin, std::string_view end,
                    const visitor& visit) override;
  result<std::optional<std::string>> last_key(column c, std::string_view begin,
                                              std::string_view end) override;

  /// Bytes of SST files on disk, for metrics (the WAL is bounded by max_total_wal_size).
  std::uint64_t disk_bytes() const;

private:
  explicit rocksdb_kv_store(bool sync) : sync_(sync) {}
  ::rocksdb::ColumnFamilyHandle* cf(column c) const { return cfs_[static_cast<std::size_t>(c)]; }

  bool sync_;
  ::rocksdb::DB* db_ = nullptr; ///< owned; closed and deleted by the destructor
  std::array<::rocksdb::ColumnFamilyHandle*, column_count> cfs_{};
  std::vector<::rocksdb::ColumnFamilyHandle*> all_handles_;
};

} // namespace outpost::storage
