// The persistent MQTT sessions' records (storage/session_store.hpp): golden bytes, the
// version 1 migration, and what the writer is handed to commit.

#include "storage/session_store.hpp"

#include "storage/memory_kv_store.hpp"

#include <gtest/gtest.h>

#include "golden.hpp"

namespace outpost::storage {
namespace {

using golden::bytes;
using golden::hex;
namespace sr = session_records;

TEST(SessionRecords, GoldenBytes) {
  EXPECT_EQ(hex(sr::marker_key("d1")), "6431");
  EXPECT_EQ(hex(sr::marker_value()), "02");
  EXPECT_EQ(hex(sr::filter_key("d1", "a/#")),
            "6431"
            "00"
            "612f23");
  const auto [first, end] = sr::filter_range("d1");
  EXPECT_EQ(hex(first),
            "6431"
            "00");
  EXPECT_EQ(hex(end),
            "6431"
            "01");
  EXPECT_EQ(sr::filter_of(sr::filter_key("d1", "a/#"), "d1"), "a/#");
  // Another client's keys never fall in the range, even one whose id extends this one's.
  EXPECT_FALSE(sr::filter_key("d10", "x") >= first && sr::filter_key("d10", "x") < end);
}

TEST(SessionRecords, VersionOneListDecodesAndEveryPrefixIsRejected) {
  const auto v = sr::encode_list({"a", "bc"});
  EXPECT_EQ(hex(v),
            "01"
            "00000001"
            "61"
            "00000002"
            "6263");
  EXPECT_EQ(sr::decode_list(v), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(sr::decode_list(bytes("01")), std::vector<std::string>{}) << "an empty list";
  // A prefix that ends between two filters is a shorter valid list; every other one is not.
  for (std::size_t n = 0; n < v.size(); ++n) {
    const auto d = sr::decode_list(v.substr(0, n));
    if (n == 1 || n == 6) {
      ASSERT_TRUE(d) << n;
      EXPECT_EQ(d->size(), n == 1 ? 0u : 1u);
    } else {
      EXPECT_FALSE(d) << n;
    }
  }
  EXPECT_FALSE(sr::decode_list(bytes("02 00000001 61"))) << "version 2 is not a list";
}

TEST(SessionStore, PersistentSessionIsMarkedThenKeepsItsFilters) {
  memory_kv_store kv;
  session_store s{kv};
  write_batch b;
  bool durable = true;
  auto info = s.restore("d1", false, b, durable);
  EXPECT_FALSE(info.present);
  EXPECT_FALSE(durable) << "a new marker may be lazy";
  ASSERT_EQ(b.ops().size(), 1u);
  EXPECT_EQ(b.ops()[0].key, "d1");
  EXPECT_EQ(hex(b.ops()[0].value), "02");
  session_store::change("d1", {"a", "b"}, {}, b);
  ASSERT_TRUE(kv.write(b, write_mode::durable));
  b.clear();
  info = s.restore("d1", false, b, durable);
  EXPECT_TRUE(info.present);
  EXPECT_EQ(info.subscriptions, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(b.empty()) << "nothing to write for a session that is already there";
  session_store::change("d1", {}, {"a"}, b);
  ASSERT_TRUE(kv.write(b, write_mode::durable));
  b.clear();
  EXPECT_EQ(s.restore("d1", false, b, durable).subscriptions, std::vector<std::string>{"b"});
  // A clean session erases the marker and every filter, key by key.
  b.clear();
  info = s.restore("d1", true, b, durable);
  EXPECT_FALSE(info.present);
  ASSERT_TRUE(kv.write(b, write_mode::durable));
  EXPECT_FALSE(*kv.get(column::sessions, "d1"));
  EXPECT_FALSE(*kv.get(column::sessions, sr::filter_key("d1", "b")));
}

TEST(SessionStore, VersionOneSessionIsRewrittenDurablyAsVersionTwo) {
  memory_kv_store kv;
  write_batch old;
  old.put(column::sessions, "d1", sr::encode_list({"x/y", "z"}));
  ASSERT_TRUE(kv.write(old, write_mode::durable));
  session_store s{kv};
  write_batch b;
  bool durable = false;
  auto info = s.restore("d1", false, b, durable);
  EXPECT_TRUE(durable);
  EXPECT_TRUE(info.present);
  EXPECT_EQ(info.subscriptions, (std::vector<std::string>{"x/y", "z"}));
  ASSERT_TRUE(kv.write(b, write_mode::durable));
  EXPECT_EQ(hex(**kv.get(column::sessions, "d1")), "02");
  b.clear();
  EXPECT_EQ(s.restore("d1", false, b, durable).subscriptions,
            (std::vector<std::string>{"x/y", "z"}));
}

TEST(SessionStore, UnreadableSessionStartsClean) {
  memory_kv_store kv;
  write_batch old;
  old.put(column::sessions, "d1", bytes("01 000000ff 61")); // truncated version 1
  ASSERT_TRUE(kv.write(old, write_mode::durable));
  session_store s{kv};
  write_batch b;
  bool durable = false;
  auto info = s.restore("d1", false, b, durable);
  EXPECT_FALSE(info.present);
  EXPECT_TRUE(info.discarded);
  ASSERT_TRUE(kv.write(b, write_mode::durable));
  EXPECT_EQ(hex(**kv.get(column::sessions, "d1")), "02");
}

} // namespace
} // namespace outpost::storage
