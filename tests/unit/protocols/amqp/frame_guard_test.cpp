#include "protocols/amqp/frame_guard.hpp"

#include <gtest/gtest.h>

#include <string>

namespace outpost::amqp {
namespace {

/// One AMQP frame (doff 2, type 0) on `channel` holding a transfer performative whose list
/// is `fields` (already encoded), count `count`.
std::string transfer_frame(std::uint16_t channel, const std::string& fields, std::uint8_t count) {
  std::string body = std::string{"\x00\x53\x14\xc0", 4};
  body += static_cast<char>(fields.size() + 1);
  body += static_cast<char>(count);
  body += fields;
  const auto size = static_cast<std::uint32_t>(8 + body.size());
  std::string frame;
  frame += static_cast<char>(size >> 24);
  frame += static_cast<char>(size >> 16);
  frame += static_cast<char>(size >> 8);
  frame += static_cast<char>(size);
  frame += '\x02';
  frame += '\x00';
  frame += static_cast<char>(channel >> 8);
  frame += static_cast<char>(channel);
  return frame + body;
}

const std::string header{"AMQP\x00\x01\x00\x00", 8};
// handle 0, no delivery-id (null), tag "t", format 0, settled false, more true
const std::string no_id_more = std::string{"\x43\x40\xa0\x01t\x43\x42\x41", 8};
// handle 0, delivery-id 0, tag "t", format 0, settled false, more true
const std::string id_more = std::string{"\x43\x43\xa0\x01t\x43\x42\x41", 8};
// handle 0, no delivery-id, no tag, format 0, settled false, more false (a continuation's end)
const std::string no_id_last = std::string{"\x43\x40\x40\x43\x42\x42", 6};

TEST(AmqpFrameGuard, AFirstTransferWithoutDeliveryIdIsRefused) {
  frame_guard g;
  EXPECT_FALSE(g.scan(header + transfer_frame(0, no_id_more, 6)));
  EXPECT_EQ(g.why(), "delivery-id required on the first transfer of a delivery");
  EXPECT_FALSE(g.scan("anything")) << "the guard stays failed";
}

TEST(AmqpFrameGuard, ContinuationsMayOmitTheIdInAnySplit) {
  const auto stream = header + transfer_frame(0, id_more, 6) + transfer_frame(0, no_id_last, 6)
                      + std::string(8, '\0').replace(3, 1, "\x08").replace(4, 1, "\x02");
  for (std::size_t step = 1; step <= stream.size(); ++step) {
    frame_guard g;
    for (std::size_t at = 0; at < stream.size(); at += step) {
      ASSERT_TRUE(g.scan(std::string_view{stream}.substr(at, step)))
          << "step " << step << ": " << g.why();
    }
  }
  // Once the multi-frame transfer ended, the next first frame needs its id again.
  frame_guard g;
  ASSERT_TRUE(g.scan(stream));
  EXPECT_FALSE(g.scan(transfer_frame(0, no_id_more, 6)));
}

// handle 1, delivery-id 7, tag "bt", format 0x80013700 (batched), settled false, more true
const std::string batched_first = std::string{
    "\x52\x01\x52\x07\xa0\x02"
    "bt\x70\x80\x01\x37\x00\x42\x41",
    15};
// handle 1, continuation (no id, no tag, no format), more false
const std::string batched_last = std::string{"\x52\x01\x40\x40\x40\x42\x42", 7};

TEST(AmqpFrameGuard, KeepsTheWholePayloadOfABatchedDeliveryInAnySplit) {
  const std::string part1 = std::string{"\x00\x53\x75\xa0\x03one", 8};
  const std::string part2 = std::string(300, 'p'); // beyond the kept prefix of a frame
  // The payload follows the performative inside the frame: rebuild the frames with it.
  auto frame_with = [](const std::string& fields, std::uint8_t count, const std::string& payload) {
    auto f = transfer_frame(0, fields, count) + payload;
    const auto size = static_cast<std::uint32_t>(f.size());
    f[0] = static_cast<char>(size >> 24);
    f[1] = static_cast<char>(size >> 16);
    f[2] = static_cast<char>(size >> 8);
    f[3] = static_cast<char>(size);
    return f;
  };
  const auto all = header + frame_with(batched_first, 6, part1) + frame_with(batched_last, 6, part2)
                   + frame_with(id_more, 6, "plain") + frame_with(no_id_last, 6, "tail");
  for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{64}, all.size()}) {
    frame_guard g;
    for (std::size_t at = 0; at < all.size(); at += step) {
      ASSERT_TRUE(g.scan(std::string_view{all}.substr(at, step))) << step << ": " << g.why();
    }
    EXPECT_FALSE(g.take_batch("t")) << "an ordinary delivery is not kept";
    const auto payload = g.take_batch("bt");
    ASSERT_TRUE(payload) << step;
    EXPECT_EQ(*payload, part1 + part2) << step;
    EXPECT_FALSE(g.take_batch("bt")) << "taken once";
  }
  // Bounded: a batched delivery larger than the limit fails the guard, saying why.
  frame_guard small{64};
  EXPECT_FALSE(small.scan(all));
  EXPECT_EQ(small.why(), "a batched message larger than the hub takes (64 bytes)");
}

TEST(AmqpFrameGuard, OtherFramesPassThrough) {
  frame_guard g;
  // SASL header and an unrelated performative (flow, 0x13) with an odd list: Proton decides.
  std::string flow = transfer_frame(3, "\x43", 1);
  flow[10] = '\x13';
  EXPECT_TRUE(g.scan(std::string{"AMQP\x03\x01\x00\x00", 8} + header + flow));
}

} // namespace
} // namespace outpost::amqp
