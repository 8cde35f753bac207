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

TEST(AmqpFrameGuard, OtherFramesPassThrough) {
  frame_guard g;
  // SASL header and an unrelated performative (flow, 0x13) with an odd list: Proton decides.
  std::string flow = transfer_frame(3, "\x43", 1);
  flow[10] = '\x13';
  EXPECT_TRUE(g.scan(std::string{"AMQP\x03\x01\x00\x00", 8} + header + flow));
}

} // namespace
} // namespace outpost::amqp
