// Golden bytes of the message store's records (storage/records.hpp, format version 1).

#include "storage/records.hpp"

#include <gtest/gtest.h>

#include "golden.hpp"

namespace outpost::storage {
namespace {

using golden::bytes;
using golden::hex;

TEST(Records, KeysAreBigEndianSoByteOrderIsFifoOrder) {
  EXPECT_EQ(hex(records::entry_key(7, 0x0102)),
            "00000007"
            "0000000000000102");
  EXPECT_EQ(hex(records::queue_end_key(7)), "00000008");
  EXPECT_EQ(records::entry_key_seq(records::entry_key(7, 0x0102)), 0x0102u);
  EXPECT_EQ(hex(records::id_key(0x0a0b)), "0000000000000a0b");
  EXPECT_EQ(hex(records::queue_handle_key(3)), "00000003");
  EXPECT_LT(records::entry_key(1, 255), records::entry_key(1, 256));
  EXPECT_LT(records::entry_key(1, ~0ull), records::queue_end_key(1));
}

TEST(Records, QueueNameKeyAndHandle) {
  const auto key = records::queue_name_key("iothub", 2);
  EXPECT_EQ(hex(key),
            "696f74687562"
            "00"
            "00000002");
  auto parts = records::decode_queue_name_key(key);
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->endpoint, "iothub");
  EXPECT_EQ(parts->priority, 2u);
  for (std::size_t n = 0; n < key.size(); ++n) {
    EXPECT_FALSE(records::decode_queue_name_key(key.substr(0, n))) << n;
  }
  const auto handle = records::encode_queue_handle(9);
  EXPECT_EQ(hex(handle), "00000009");
  EXPECT_EQ(records::decode_queue_handle(handle), 9u);
  EXPECT_FALSE(records::decode_queue_handle(bytes("00000000"))) << "handle 0 is never valid";
  for (std::size_t n = 0; n < handle.size(); ++n) {
    EXPECT_FALSE(records::decode_queue_handle(handle.substr(0, n))) << n;
  }
}

TEST(Records, RefcountCheckpointAndIdKeys) {
  EXPECT_EQ(hex(records::encode_refcount(3)), "00000003");
  EXPECT_EQ(records::decode_refcount(bytes("00000003")), 3u);
  EXPECT_EQ(hex(records::encode_checkpoint(0x1122)), "0000000000001122");
  EXPECT_EQ(records::decode_checkpoint(bytes("0000000000001122")), 0x1122u);
  EXPECT_EQ(records::decode_id_key(bytes("0000000000000a0b")), 0x0a0bu);
  for (std::size_t n = 0; n < 4; ++n) {
    EXPECT_FALSE(records::decode_refcount(std::string(n, '\0'))) << n;
  }
  for (std::size_t n = 0; n < 8; ++n) {
    EXPECT_FALSE(records::decode_checkpoint(std::string(n, '\0'))) << n;
    EXPECT_FALSE(records::decode_id_key(std::string(n, '\0'))) << n;
  }
  EXPECT_FALSE(records::decode_checkpoint(std::string(9, '\0')));
}

TEST(Records, EntryWithItsBodyElsewhere) {
  const records::entry_value e{5, 0x10, 0x20, 3, false, {}};
  const auto v = records::encode_entry(e);
  EXPECT_EQ(hex(v),
            "01"               // format version 1: body in `messages`
            "0000000000000005" // message id
            "0000000000000010" // enqueued ms
            "0000000000000020" // expires ms
            "00000003");       // body size
  auto d = records::decode_entry(v);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->id, 5u);
  EXPECT_EQ(d->enqueued_ms, 0x10);
  EXPECT_EQ(d->expires_ms, 0x20);
  EXPECT_EQ(d->body_size, 3u);
  EXPECT_FALSE(d->inline_body);
  for (std::size_t n = 0; n < v.size(); ++n) {
    EXPECT_FALSE(records::decode_entry(v.substr(0, n))) << n;
  }
  EXPECT_FALSE(records::decode_entry(v + "x"));
  EXPECT_FALSE(records::decode_entry("\x03" + v.substr(1))) << "unknown version";
}

TEST(Records, EntryWithItsBodyInline) {
  const records::entry_value e{5, 0x10, 0, 0, false, {}};
  const auto v = records::encode_inline_entry(e, "abc");
  EXPECT_EQ(hex(v),
            "02" // version 2: the body follows
            "0000000000000005"
            "0000000000000010"
            "0000000000000000" // never expires
            "00000003"
            "616263");
  auto d = records::decode_entry(v);
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->inline_body);
  EXPECT_EQ(d->body, "abc");
  EXPECT_EQ(d->body_size, 3u);
  for (std::size_t n = 0; n < v.size(); ++n) {
    EXPECT_FALSE(records::decode_entry(v.substr(0, n))) << n;
  }
  EXPECT_FALSE(records::decode_entry(v + "x"));
}

TEST(Records, SharedBodyIsCheckedAgainstItsEntry) {
  const auto v = records::encode_body("hi");
  EXPECT_EQ(hex(v),
            "01"
            "6869");
  EXPECT_EQ(records::decode_body(v), "hi");
  EXPECT_EQ(records::decode_body(v, 2), "hi");
  // The value carries no length of its own: the entry's body size catches a truncation.
  for (std::size_t n = 0; n < v.size(); ++n) {
    EXPECT_FALSE(records::decode_body(v.substr(0, n), 2)) << n;
  }
  EXPECT_FALSE(records::decode_body(v + "x", 2));
  EXPECT_FALSE(records::decode_body(bytes("02 6869"))) << "unknown version";
}

} // namespace
} // namespace outpost::storage
