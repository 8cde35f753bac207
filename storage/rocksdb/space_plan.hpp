#pragma once

#include <cstdint>

namespace outpost::storage {

/// How much of its filesystem the store may use, and how RocksDB is sized to stay inside it.
/// Every figure derives from S, the size of the filesystem holding the database
/// (storage/README.md, "Disk space"):
///
/// - reserve R = clamp(S/16, 1 MiB, 256 MiB): a file preallocated beside the database and
///   released when the disk fills, so RocksDB can still flush, compact and recover;
/// - headroom H = R: appends are refused while less than H is free besides the reserve;
/// - write buffer W = clamp(S/128, 64 KiB, 8 MiB) per column family, WAL at most 8 W;
/// - automatic quota (`max_size_bytes = 0`) = (S - R - H) / 2, at least 64 KiB: the other
///   half absorbs RocksDB's amplification (WAL, deleted data awaiting compaction, compaction
///   output, which is capped at S/8 per compaction).
struct space_plan {
  std::uint64_t filesystem_bytes = 0;
  std::uint64_t reserve_bytes = 0;
  std::uint64_t headroom_bytes = 0;
  std::uint64_t write_buffer_bytes = 0;
  std::uint64_t max_wal_bytes = 0;
  std::uint64_t target_file_bytes = 0;
  std::uint64_t level_base_bytes = 0;
  std::uint64_t max_compaction_bytes = 0;
  std::uint64_t auto_quota_bytes = 0;
};

/// The plan for a filesystem of `filesystem_bytes`. Pure.
space_plan plan_for(std::uint64_t filesystem_bytes) noexcept;

} // namespace outpost::storage
