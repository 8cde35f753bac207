#include "storage/rocksdb/space_plan.hpp"

#include <gtest/gtest.h>

namespace outpost::storage {
namespace {

constexpr std::uint64_t mib = 1024 * 1024;

TEST(SpacePlan, SmallFilesystemGetsProportionalBuffersAndHalfOfWhatIsLeft) {
  const auto p = plan_for(24 * mib); // the tmpfs of the full-disk tests
  EXPECT_EQ(p.reserve_bytes, 24 * mib / 16);
  EXPECT_EQ(p.headroom_bytes, p.reserve_bytes);
  EXPECT_EQ(p.write_buffer_bytes, 24 * mib / 128);
  EXPECT_EQ(p.max_wal_bytes, 8 * p.write_buffer_bytes);
  EXPECT_EQ(p.auto_quota_bytes, (24 * mib - 2 * p.reserve_bytes) / 2);
  // What RocksDB may hold beyond the quota still fits: WAL, one compaction, the reserve.
  EXPECT_LE(p.auto_quota_bytes + p.max_wal_bytes + p.max_compaction_bytes + p.reserve_bytes
                + p.headroom_bytes,
            p.filesystem_bytes);
}

TEST(SpacePlan, LargeFilesystemKeepsRocksDbDefaultsAndCapsTheReserve) {
  const auto p = plan_for(256ull * 1024 * mib);
  EXPECT_EQ(p.reserve_bytes, 256 * mib);
  EXPECT_EQ(p.write_buffer_bytes, 8 * mib);
  EXPECT_EQ(p.max_wal_bytes, 64 * mib);
  EXPECT_EQ(p.target_file_bytes, 64 * mib);
  EXPECT_EQ(p.max_compaction_bytes, 25 * 64 * mib);
  EXPECT_EQ(p.auto_quota_bytes, (256ull * 1024 * mib - 512 * mib) / 2);
}

TEST(SpacePlan, TinyOrUnknownFilesystemStillHasAQuota) {
  EXPECT_EQ(plan_for(0).auto_quota_bytes, 64u * 1024);
  EXPECT_EQ(plan_for(1 * mib).auto_quota_bytes, 64u * 1024);
  EXPECT_EQ(plan_for(1 * mib).reserve_bytes, 1 * mib);
}

} // namespace
} // namespace outpost::storage
