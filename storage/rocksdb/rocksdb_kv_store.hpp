#pragma once

#include "storage/kv_store.hpp"
#include "storage/rocksdb/space_plan.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Status;
} // namespace rocksdb

namespace outpost::storage {

struct rocksdb_options {
  std::string path;
  bool sync = true; ///< durability "fsync": durable writes return after fdatasync of the WAL
  std::uint64_t memtable_budget_bytes = 32u << 20; ///< all memtables together
  std::uint64_t block_cache_bytes = 8u << 20;
  /// The filesystem size to plan for (`space_plan`); 0 = the one holding `path` (statvfs).
  std::uint64_t filesystem_bytes = 0;
  /// Keeps `space_plan::reserve_bytes` preallocated in `<path>/outpost.reserve`.
  bool reserve = true;
  /// Where RocksDB's warnings go, one line each; empty = stderr. Never a LOG file beside the
  /// data: Debian's librocksdb 7.8 keeps its assertions, and writing to an info log that once
  /// failed with ENOSPC aborts the process (`AssertFalseAndGetStatusForPrevError`).
  std::function<void(std::string_view)> log;
};

/// `kv_store` on RocksDB: one database, one column family per `column`.
///
/// Memory is bounded by a write-buffer manager charged to a shared block cache, so the hub
/// stays at tens of MB whatever the backlog. Disk use is bounded by `space_plan`: durable
/// writes are refused with `errc::disk_full` while the filesystem is below its headroom, a
/// reserve file is released when it fills anyway, and after ENOSPC the database resumes by
/// itself once space is back. Thread-safe (the writer and the identity registry share it).
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

  space_report check_space() override;

  /// Bytes of SST files on disk, for metrics (the WAL is bounded by max_total_wal_size).
  std::uint64_t disk_bytes() const;
  const space_plan& plan() const noexcept { return plan_; }

private:
  struct engine;

  explicit rocksdb_kv_store(const rocksdb_options& o);
  /// Opens `db_` with `engine_`'s options (at start, and to recover from ENOSPC).
  ::rocksdb::Status open_db();
  void close_db();
  ::rocksdb::ColumnFamilyHandle* cf(column c) const { return cfs_[static_cast<std::size_t>(c)]; }
  /// Looks at the disk when enough was written or enough time passed since the last look.
  void maybe_check(std::uint64_t bytes);
  space_report check_locked();
  void on_no_space();
  bool hold_reserve();
  void release_reserve();
  void say(const std::string& line) const;

  bool sync_;
  std::unique_ptr<engine> engine_;
  /// Shared by every read and write, exclusive for the reopen after ENOSPC (which swaps
  /// `db_` and the handles). Never taken while waiting for `space_mu_`.
  mutable std::shared_mutex db_mu_;
  std::mutex write_mu_; ///< one `DB::Write` at a time (see write())
  std::string path_;
  std::string reserve_path_;
  int reserve_fd_ = -1; ///< open and flock'ed while this store is open
  bool use_reserve_;
  std::function<void(std::string_view)> log_;
  space_plan plan_;
  std::mutex space_mu_; ///< guards the space state below but `full_` and the counters
  bool reserve_held_ = false;
  bool no_space_ = false;                  ///< RocksDB reported ENOSPC: stopped until reopened
  std::atomic<bool> no_space_flag_{false}; ///< `no_space_` for writers, without `space_mu_`
  std::chrono::steady_clock::time_point last_resume_{};
  std::uint64_t free_bytes_ = 0;
  std::atomic<bool> full_{false};
  std::atomic<std::uint64_t> written_since_check_{0};
  std::atomic<std::int64_t> last_check_ns_{0};
  ::rocksdb::DB* db_ = nullptr; ///< owned; closed and deleted by the destructor
  std::array<::rocksdb::ColumnFamilyHandle*, column_count> cfs_{};
  std::vector<::rocksdb::ColumnFamilyHandle*> all_handles_;
};

} // namespace outpost::storage
