#include "storage/rocksdb/space_plan.hpp"

#include <algorithm>

namespace outpost::storage {

namespace {

constexpr std::uint64_t kib = 1024;
constexpr std::uint64_t mib = 1024 * kib;

std::uint64_t clamp(std::uint64_t v, std::uint64_t lo, std::uint64_t hi) {
  return std::min(std::max(v, lo), hi);
}

} // namespace

space_plan plan_for(std::uint64_t s) noexcept {
  space_plan p;
  p.filesystem_bytes = s;
  p.reserve_bytes = clamp(s / 16, 1 * mib, 256 * mib);
  p.headroom_bytes = p.reserve_bytes;
  // RocksDB's defaults (8 MiB buffers, 64 MiB WAL and files, 256 MiB level base) from a
  // filesystem of 1 GiB (buffers) or 4 GiB (files) up; smaller ones get proportionally less.
  p.write_buffer_bytes = clamp(s / 128, 64 * kib, 8 * mib);
  p.max_wal_bytes = 8 * p.write_buffer_bytes;
  p.target_file_bytes = clamp(s / 64, 256 * kib, 64 * mib);
  p.level_base_bytes = clamp(s / 16, 1 * mib, 256 * mib);
  p.max_compaction_bytes = std::max(std::min(25 * p.target_file_bytes, s / 8), p.target_file_bytes);
  const auto kept = p.reserve_bytes + p.headroom_bytes;
  p.auto_quota_bytes = std::max<std::uint64_t>(s > kept ? (s - kept) / 2 : 0, 64 * kib);
  return p;
}

} // namespace outpost::storage
