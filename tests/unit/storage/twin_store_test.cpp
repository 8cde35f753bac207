// Twin records (storage/twin_store.hpp): golden bytes, every prefix rejected, and a round trip
// through an engine.

#include "storage/twin_store.hpp"

#include "storage/errc.hpp"
#include "storage/memory_kv_store.hpp"

#include <gtest/gtest.h>

#include "golden.hpp"

namespace outpost::storage {
namespace {

using golden::hex;

TEST(TwinRecords, GoldenBytes) {
  EXPECT_EQ(hex(twin_store::encode(1700000000123, R"({"a":1})")),
            "01"
            "0000018bcfe5687b"
            "00000007"
            "7b2261223a317d");
  EXPECT_EQ(hex(twin_store::encode(0, "")), "01000000000000000000000000");
}

TEST(TwinRecords, EveryPrefixAndATrailingByteAreRefused) {
  const auto v = twin_store::encode(42, R"({"format":1})");
  for (std::size_t n = 0; n < v.size(); ++n) {
    auto d = twin_store::decode(v.substr(0, n));
    ASSERT_FALSE(d) << "prefix of " << n << " bytes";
    EXPECT_EQ(d.error(), errc::corrupt_record);
  }
  EXPECT_FALSE(twin_store::decode(v + "x"));
  auto other = v;
  other[0] = 2;
  EXPECT_FALSE(twin_store::decode(other)) << "another format";
  auto ok = twin_store::decode(v);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->document, R"({"format":1})");
  EXPECT_EQ(ok->owner_created_ms, 42);
}

TEST(TwinRecords, PutGetErase) {
  memory_kv_store kv;
  auto none = twin_store::get(kv, "dev1");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);

  write_batch b;
  twin_store::put(b, "dev1", 7, "device twin");
  twin_store::put(b, "dev1/mod", 8, "module twin");
  ASSERT_TRUE(kv.write(b, write_mode::durable));
  EXPECT_EQ((*twin_store::get(kv, "dev1"))->document, "device twin");
  EXPECT_EQ((*twin_store::get(kv, "dev1"))->owner_created_ms, 7);
  EXPECT_EQ((*twin_store::get(kv, "dev1/mod"))->document, "module twin");

  write_batch e;
  twin_store::erase(e, "dev1");
  ASSERT_TRUE(kv.write(e, write_mode::durable));
  EXPECT_FALSE(*twin_store::get(kv, "dev1"));
  EXPECT_TRUE(*twin_store::get(kv, "dev1/mod"));

  write_batch bad;
  bad.put(column::twins, "dev2", "\x01garbage");
  ASSERT_TRUE(kv.write(bad, write_mode::durable));
  auto corrupt = twin_store::get(kv, "dev2");
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error(), errc::corrupt_record);
}

} // namespace
} // namespace outpost::storage
