#include "protocols/mqtt/decoder.hpp"
#include "protocols/mqtt/encoder.hpp"
#include "protocols/mqtt/errc.hpp"
#include "protocols/mqtt/frame_splitter.hpp"
#include "protocols/mqtt/packets.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outpost::mqtt {

// gtest prints packets as their type index and wire bytes (found by ADL).
void PrintTo(const packet& p, std::ostream* os) {
  std::string wire;
  encode(p, wire);
  *os << "packet#" << p.index() << " [";
  for (const char c : wire) {
    constexpr const char* hex = "0123456789abcdef";
    const auto b = static_cast<std::uint8_t>(c);
    *os << hex[b >> 4] << hex[b & 0x0F];
  }
  *os << "]";
}

namespace {

std::string bytes(std::initializer_list<int> list) {
  std::string out;
  for (const int b : list) {
    out.push_back(static_cast<char>(b));
  }
  return out;
}

// A length-prefixed MQTT string (§1.5.3).
std::string str16(std::string_view s) {
  return bytes({static_cast<int>(s.size() >> 8), static_cast<int>(s.size() & 0xFF)})
         + std::string(s);
}

// A frame with the given first byte, a minimal remaining length and `body`.
std::string frame(int first, const std::string& body) {
  std::string out(1, static_cast<char>(first));
  std::size_t n = body.size();
  do {
    auto digit = static_cast<std::uint8_t>(n & 0x7F);
    n >>= 7;
    out.push_back(static_cast<char>(n > 0 ? digit | 0x80 : digit));
  } while (n > 0);
  return out + body;
}

std::string encoded(const packet& p) {
  std::string out;
  encode(p, out);
  return out;
}

// The error of decoding `frame`, or an empty code when it decodes.
std::error_code decode_error(std::string_view f) {
  const auto r = decode(f);
  return r ? std::error_code{} : r.error();
}

constexpr std::size_t big_limit = std::size_t{1} << 30;

// --- golden frames, shared by the golden, prefix and flag tests ---

const std::string connect_minimal =
    bytes({0x10, 0x0E, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x02}) + "c1";

connect connect_minimal_packet() {
  connect c;
  c.keepalive = 60;
  c.client_id = "c1";
  return c;
}

const std::string azure_username =
    "localhost/dev1/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4%20(node%"
    "20v20.20.2%3B%20Debian%2012%3B%20x64)";
const std::string azure_password =
    "SharedAccessSignature "
    "sr=localhost%2Fdevices%2Fdev1&sig=rhvnF2oKe1V%2BeDUgNhCg1q3H3rctCvwGs0WuEO6iz3k%3D&se="
    "1795701487";

// azure-sdk-wire.md §2.1, captured: 10 89 02 | 00 04 MQTT | 04 | c0 | 00 b4 | 00 04 dev1 |
// 00 7f username | 00 76 password.
const std::string azure_connect =
    bytes({0x10, 0x89, 0x02, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xC0, 0x00, 0xB4, 0x00, 0x04})
    + "dev1" + bytes({0x00, 0x7F}) + azure_username + bytes({0x00, 0x76}) + azure_password;

connect azure_connect_packet() {
  connect c;
  c.clean_session = false;
  c.keepalive = 180;
  c.client_id = "dev1";
  c.username = azure_username;
  c.password = azure_password;
  return c;
}

const std::string azure_topic =
    "devices/dev1/messages/events/"
    "%24.mid=mid-1&%24.cid=cid-1&%24.uid=user-1&%24.to=%2Fsome%2Fto&%24.ct=application%2Fjson&%"
    "24.ce=utf-8&%24.exp=2026-11-26T13%3A58%3A07.899Z&prop1=value%201&weird%2Fkey%26%3D=v%3Da%"
    "26b%2Fc&%24.sub=comp1";

// azure-sdk-wire.md Appendix A: PUBLISH qos1 id=23705 (0x5c99), 229-byte topic, 13-byte body.
const std::string azure_publish =
    bytes({0x32, 0xF6, 0x01, 0x00, 0xE5}) + azure_topic + bytes({0x5C, 0x99}) + R"({"temp":21.5})";

publish azure_publish_packet() {
  publish p;
  p.qos = 1;
  p.topic = azure_topic;
  p.packet_id = 23705;
  p.payload = R"({"temp":21.5})";
  return p;
}

struct golden {
  const char* name;
  std::string wire;
  packet value;
};

std::vector<golden> goldens() {
  connect full;
  full.clean_session = false;
  full.keepalive = 0xFFFF;
  full.client_id = "id";
  full.will = connect::will_t{"w/t", std::string("\x00\xFF", 2), 1, true};
  full.username = "u";
  full.password = std::string("p\x00", 2);
  publish qos0;
  qos0.topic = "a/b";
  qos0.payload = "hi";
  publish retained_qos2_dup;
  retained_qos2_dup.dup = true;
  retained_qos2_dup.qos = 2;
  retained_qos2_dup.retain = true;
  retained_qos2_dup.topic = "t";
  retained_qos2_dup.packet_id = 0x0102;
  const std::string c2d = "devices/dev1/messages/devicebound/#";
  return {
      {"connect_minimal", connect_minimal, connect_minimal_packet()},
      {"connect_full",
       bytes({0x10, 0x1E, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0xEC, 0xFF, 0xFF})
           + bytes({0x00, 0x02}) + "id" + bytes({0x00, 0x03}) + "w/t"
           + bytes({0x00, 0x02, 0x00, 0xFF, 0x00, 0x01}) + "u" + bytes({0x00, 0x02, 'p', 0x00}),
       full},
      {"connect_azure_captured", azure_connect, azure_connect_packet()},
      {"connack_accepted", bytes({0x20, 0x02, 0x00, 0x00}), connack{}},
      {"connack_session_present", bytes({0x20, 0x02, 0x01, 0x00}), connack{true, 0}},
      {"connack_not_authorized", bytes({0x20, 0x02, 0x00, 0x05}), connack{false, 5}},
      {"publish_qos0", bytes({0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 'h', 'i'}), qos0},
      {"publish_qos2_dup_retain", bytes({0x3D, 0x05, 0x00, 0x01, 't', 0x01, 0x02}),
       retained_qos2_dup},
      {"publish_azure_captured", azure_publish, azure_publish_packet()},
      {"puback", bytes({0x40, 0x02, 0x5C, 0x99}), puback{23705}},
      {"pubrec", bytes({0x50, 0x02, 0x00, 0x01}), pubrec{1}},
      {"pubrel", bytes({0x62, 0x02, 0x00, 0x01}), pubrel{1}},
      {"pubcomp", bytes({0x70, 0x02, 0xFF, 0xFF}), pubcomp{0xFFFF}},
      {"subscribe_azure_captured", bytes({0x82, 0x28, 0x5C, 0x98, 0x00, 0x23}) + c2d + bytes({1}),
       subscribe{23704, {{c2d, 1}}}},
      {"subscribe_two",
       bytes({0x82, 0x0A, 0x00, 0x07, 0x00, 0x01, '#', 0x00, 0x00, 0x01, '+', 0x02}),
       subscribe{7, {{"#", 0}, {"+", 2}}}},
      {"suback", bytes({0x90, 0x05, 0x5C, 0x98, 0x01, 0x80, 0x00}), suback{23704, {1, 0x80, 0}}},
      {"unsubscribe", bytes({0xA2, 0x0A, 0x00, 0x09, 0x00, 0x01, 'a', 0x00, 0x03, 'b', '/', '+'}),
       unsubscribe{9, {"a", "b/+"}}},
      {"unsuback", bytes({0xB0, 0x02, 0x00, 0x09}), unsuback{9}},
      {"pingreq", bytes({0xC0, 0x00}), pingreq{}},
      {"pingresp", bytes({0xD0, 0x00}), pingresp{}},
      {"disconnect", bytes({0xE0, 0x00}), disconnect{}},
  };
}

// --- frame splitter ---

TEST(MqttFrameSplitter, AsksForMoreBytesUntilFrameIsComplete) {
  // PUBLISH with 130 bytes of remaining length: 0x82 0x01.
  auto in = bytes({0x30, 0x82, 0x01});
  in.resize(3 + 130);
  for (std::size_t n = 0; n < in.size(); ++n) {
    auto split = split_frame(std::string_view(in).substr(0, n), 1024);
    ASSERT_TRUE(split) << "prefix " << n;
    EXPECT_EQ(split->frame_size, 0u) << "prefix " << n;
  }
  const auto whole = split_frame(in, 1024);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->frame_size, in.size());
  EXPECT_EQ(whole->header_size, 3u);
}

TEST(MqttFrameSplitter, SaysNeedMoreForEveryProperPrefixOfEveryGoldenFrame) {
  for (const auto& g : goldens()) {
    for (std::size_t n = 0; n < g.wire.size(); ++n) {
      const auto split = split_frame(std::string_view(g.wire).substr(0, n), big_limit);
      ASSERT_TRUE(split) << g.name << " prefix " << n;
      EXPECT_EQ(split->frame_size, 0u) << g.name << " prefix " << n;
    }
    const auto whole = split_frame(g.wire, big_limit);
    ASSERT_TRUE(whole) << g.name;
    EXPECT_EQ(whole->frame_size, g.wire.size()) << g.name;
  }
}

TEST(MqttFrameSplitter, ReturnsOnlyTheFirstFrameOfAStream) {
  const std::string stream = bytes({0xC0, 0x00, 0x40, 0x02, 0x00, 0x01, 0xE0});
  const auto first = split_frame(stream, 1024);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->frame_size, 2u);
  const auto second = split_frame(std::string_view(stream).substr(2), 1024);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->frame_size, 4u);
  const auto third = split_frame(std::string_view(stream).substr(6), 1024);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->frame_size, 0u);
}

TEST(MqttFrameSplitter, RejectsFifthRemainingLengthByte) {
  const auto five = split_frame(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}), big_limit);
  ASSERT_FALSE(five);
  EXPECT_EQ(five.error(), errc::malformed_remaining_length);
}

TEST(MqttFrameSplitter, RejectsFifthLengthByteBeforeItArrives) {
  // The fourth length byte says "more follows": malformed without waiting for byte five.
  const auto four = split_frame(bytes({0x30, 0x80, 0x80, 0x80, 0x80}), big_limit);
  ASSERT_FALSE(four);
  EXPECT_EQ(four.error(), errc::malformed_remaining_length);
  const auto three = split_frame(bytes({0x30, 0x80, 0x80, 0x80}), big_limit);
  ASSERT_TRUE(three);
  EXPECT_EQ(three->frame_size, 0u);
}

TEST(MqttFrameSplitter, AcceptsTheLargestRemainingLength) {
  const auto split = split_frame(bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F}), std::size_t{1} << 30);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->frame_size, 0u); // 268435455 body bytes still to come
  EXPECT_EQ(split->header_size, 5u);
}

TEST(MqttFrameSplitter, RejectsOversizeFrameAsSoonAsTheLengthIsKnown) {
  // 16384 bytes of remaining length announced; only the header has arrived.
  const auto split = split_frame(bytes({0x30, 0x80, 0x80, 0x01}), 1024);
  ASSERT_FALSE(split);
  EXPECT_EQ(split.error(), errc::packet_too_large);
}

TEST(MqttFrameSplitter, AcceptsAFrameOfExactlyTheMaximumSize) {
  const std::string f = frame(0x30, str16("t") + std::string(100, 'x'));
  const auto exact = split_frame(f, f.size());
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->frame_size, f.size());
  const auto over = split_frame(f, f.size() - 1);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error(), errc::packet_too_large);
}

TEST(MqttFrameSplitter, AcceptsNonMinimalRemainingLength) {
  // §2.2.3 does not forbid 0x80 0x00 for zero; the frame is two bytes of length + no body.
  const auto split = split_frame(bytes({0xC0, 0x80, 0x00}), 1024);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->frame_size, 3u);
  const auto decoded = decode(bytes({0xC0, 0x80, 0x00}));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, packet{pingreq{}});
}

// --- golden bytes, both directions ---

TEST(MqttDecoder, DecodesEveryGoldenFrame) {
  for (const auto& g : goldens()) {
    const auto decoded = decode(g.wire);
    ASSERT_TRUE(decoded) << g.name << ": " << decoded.error().message();
    EXPECT_EQ(*decoded, g.value) << g.name;
  }
}

TEST(MqttEncoder, EncodesEveryGoldenFrame) {
  for (const auto& g : goldens()) {
    EXPECT_EQ(encoded(g.value), g.wire) << g.name;
    EXPECT_EQ(encoded_size(g.value), g.wire.size()) << g.name;
  }
}

TEST(MqttEncoder, PerTypeOverloadsMatchThePacketOverload) {
  std::string out;
  encode(azure_publish_packet(), out);
  EXPECT_EQ(out, azure_publish);
  out.clear();
  encode(azure_connect_packet(), out);
  EXPECT_EQ(out, azure_connect);
}

TEST(MqttEncoder, AppendsToWhatIsAlreadyInTheBuffer) {
  std::string out = "xy";
  encode(pingreq{}, out);
  encode(puback{1}, out);
  EXPECT_EQ(out, "xy" + bytes({0xC0, 0x00, 0x40, 0x02, 0x00, 0x01}));
}

TEST(MqttEncoder, OmitsThePacketIdOfAQos0Publish) {
  publish p;
  p.topic = "t";
  p.packet_id = 77; // not on the wire at QoS 0 ([MQTT-2.3.1-5])
  EXPECT_EQ(encoded(p), bytes({0x30, 0x03, 0x00, 0x01, 't'}));
}

TEST(MqttEncoder, UsesMinimalRemainingLengthAtEveryBoundary) {
  // Remaining length = 3 + payload: check 1, 2, 3 and 4 length bytes at the edges.
  const std::pair<std::size_t, std::size_t> cases[] = {{127, 1},    {128, 2},       {16'383, 2},
                                                       {16'384, 3}, {2'097'151, 3}, {2'097'152, 4}};
  for (const auto& [remaining, length_bytes] : cases) {
    publish p;
    p.topic = "t";
    p.payload.assign(remaining - 3, 'x');
    const std::string wire = encoded(p);
    EXPECT_EQ(wire.size(), 1 + length_bytes + remaining) << remaining;
    const auto split = split_frame(wire, big_limit);
    ASSERT_TRUE(split);
    EXPECT_EQ(split->header_size, 1 + length_bytes) << remaining;
    EXPECT_EQ(split->frame_size, wire.size()) << remaining;
  }
}

// --- every proper prefix is rejected by decode, never read past ---

TEST(MqttDecoder, RejectsEveryProperPrefixOfEveryGoldenFrame) {
  for (const auto& g : goldens()) {
    for (std::size_t n = 0; n < g.wire.size(); ++n) {
      EXPECT_EQ(decode_error(std::string_view(g.wire).substr(0, n)), errc::malformed_packet)
          << g.name << " prefix " << n;
    }
  }
}

TEST(MqttDecoder, RejectsEmptyInput) {
  // Regression: an empty view once passed the length check and read its first byte.
  EXPECT_EQ(decode_error(std::string_view{}), errc::malformed_packet);
}

TEST(MqttDecoder, RejectsBytesAfterTheFrame) {
  EXPECT_EQ(decode_error(bytes({0xC0, 0x00, 0x00})), errc::malformed_packet);
}

TEST(MqttDecoder, RejectsFifthRemainingLengthByte) {
  EXPECT_EQ(decode_error(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01})),
            errc::malformed_remaining_length);
}

// --- fixed header flags (§2.2.2) ---

TEST(MqttDecoder, RejectsEveryWrongReservedFlagValueOfEveryNonPublishType) {
  for (const auto& g : goldens()) {
    const auto first = static_cast<std::uint8_t>(g.wire[0]);
    if ((first >> 4) == 3) {
      continue; // PUBLISH flags are DUP, QoS, RETAIN
    }
    for (int flags = 0; flags < 16; ++flags) {
      if (flags == (first & 0x0F)) {
        continue;
      }
      std::string wire = g.wire;
      wire[0] = static_cast<char>((first & 0xF0) | flags);
      EXPECT_EQ(decode_error(wire), errc::reserved_flags_set) << g.name << " flags " << flags;
    }
  }
}

TEST(MqttDecoder, RejectsReservedPacketTypes) {
  EXPECT_EQ(decode_error(bytes({0x00, 0x00})), errc::unknown_packet_type);
  EXPECT_EQ(decode_error(bytes({0xF0, 0x00})), errc::unknown_packet_type);
}

// --- remaining length must match the content ---

TEST(MqttDecoder, RejectsTrailingBytesInsideTheRemainingLength) {
  EXPECT_EQ(decode_error(bytes({0x40, 0x03, 0x00, 0x01, 0x00})), errc::malformed_packet);
  EXPECT_EQ(decode_error(bytes({0x20, 0x03, 0x00, 0x00, 0x00})), errc::malformed_packet);
  EXPECT_EQ(decode_error(bytes({0xC0, 0x01, 0x00})), errc::malformed_packet);
  EXPECT_EQ(decode_error(bytes({0xD0, 0x01, 0x00})), errc::malformed_packet);
  EXPECT_EQ(decode_error(bytes({0xE0, 0x01, 0x00})), errc::malformed_packet);
  EXPECT_EQ(decode_error(bytes({0xB0, 0x03, 0x00, 0x01, 0x00})), errc::malformed_packet);
  EXPECT_EQ(decode_error(frame(0x10, connect_minimal.substr(2) + "x")), errc::malformed_packet);
}

TEST(MqttDecoder, RejectsTruncatedBodies) {
  EXPECT_EQ(decode_error(bytes({0x40, 0x01, 0x00})), errc::malformed_packet);
  EXPECT_EQ(decode_error(bytes({0x40, 0x00})), errc::malformed_packet);
  EXPECT_EQ(decode_error(bytes({0x20, 0x01, 0x00})), errc::malformed_packet);
  // Topic length says 5, only 3 bytes follow.
  EXPECT_EQ(decode_error(bytes({0x30, 0x05, 0x00, 0x05, 'a', 'b', 'c'})), errc::malformed_packet);
  // QoS 1 publish without its packet id.
  EXPECT_EQ(decode_error(frame(0x32, str16("t"))), errc::malformed_packet);
  EXPECT_EQ(decode_error(frame(0x32, str16("t") + bytes({0x01}))), errc::malformed_packet);
  // CONNECT cut inside the keepalive.
  EXPECT_EQ(decode_error(frame(0x10, str16("MQTT") + bytes({0x04, 0x02, 0x00}))),
            errc::malformed_packet);
  // SUBSCRIBE filter without its QoS byte, UNSUBSCRIBE with half a length.
  EXPECT_EQ(decode_error(frame(0x82, bytes({0x00, 0x01}) + str16("a"))), errc::malformed_packet);
  EXPECT_EQ(decode_error(frame(0xA2, bytes({0x00, 0x01, 0x00}))), errc::malformed_packet);
}

TEST(MqttDecoder, RejectsConnectWhoseFlaggedFieldsAreMissing) {
  const std::string head = str16("MQTT") + bytes({0x04});
  // User name flag without a user name ([MQTT-3.1.2-19]).
  EXPECT_EQ(decode_error(frame(0x10, head + bytes({0x82, 0x00, 0x00}) + str16("c"))),
            errc::malformed_packet);
  // Password flag without a password ([MQTT-3.1.2-21]).
  EXPECT_EQ(decode_error(frame(0x10, head + bytes({0xC2, 0x00, 0x00}) + str16("c") + str16("u"))),
            errc::malformed_packet);
  // Will flag without will topic and message ([MQTT-3.1.2-9]).
  EXPECT_EQ(decode_error(frame(0x10, head + bytes({0x06, 0x00, 0x00}) + str16("c"))),
            errc::malformed_packet);
  EXPECT_EQ(decode_error(frame(0x10, head + bytes({0x06, 0x00, 0x00}) + str16("c") + str16("t"))),
            errc::malformed_packet);
}

// --- UTF-8 (§1.5.3) ---

const std::vector<std::pair<const char*, std::string>> bad_utf8 = {
    {"nul", std::string("a\0b", 3)},
    {"overlong nul", "\xC0\x80"},
    {"overlong C1", "\xC1\xBF"},
    {"overlong 3-byte", "\xE0\x80\xAF"},
    {"overlong 3-byte max", "\xE0\x9F\xBF"},
    {"overlong 4-byte", "\xF0\x80\x80\xAF"},
    {"overlong 4-byte max", "\xF0\x8F\xBF\xBF"},
    {"high surrogate", "\xED\xA0\x80"},
    {"low surrogate", "\xED\xBF\xBF"},
    {"surrogate pair", "\xED\xA0\xBD\xED\xB8\x80"},
    {"above U+10FFFF", "\xF4\x90\x80\x80"},
    {"F5 lead byte", "\xF5\x80\x80\x80"},
    {"FF byte", "\xFF"},
    {"lone continuation", "\x80"},
    {"truncated 2-byte", "\xC3"},
    {"truncated 3-byte", "\xE2\x82"},
    {"truncated 4-byte", "\xF0\x9F\x98"},
    {"bad continuation", "\xE2\x28\xA1"},
    {"nul after 8 ascii bytes", std::string("abcdefgh\0", 9)},
    {"nul inside first word", std::string("abc\0efghijk", 11)},
    {"invalid after 16 ascii bytes", "abcdefghijklmnop\xC0\xAF"},
};

const std::vector<std::pair<const char*, std::string>> good_utf8 = {
    {"empty", ""},
    {"ascii", "devices/dev1/messages/events/"},
    {"2-byte", "\xC2\xA9"},
    {"3-byte", "\xE2\x82\xAC"},
    {"4-byte", "\xF0\x9F\x98\x80"},
    {"BOM", "\xEF\xBB\xBF"},
    {"U+D7FF", "\xED\x9F\xBF"},
    {"U+E000", "\xEE\x80\x80"},
    {"U+10FFFF", "\xF4\x8F\xBF\xBF"},
    {"U+0001 control", "\x01"},
    {"U+FFFF noncharacter", "\xEF\xBF\xBF"},
    {"mixed, long", "abcdefgh\xC3\xA4ijklmnop\xE2\x82\xACqrstuvwx\xF0\x9F\x98\x80yz"},
};

TEST(MqttUtf8, RejectsIllFormedSequencesNulAndSurrogates) {
  for (const auto& [name, s] : bad_utf8) {
    EXPECT_FALSE(valid_utf8(s)) << name;
  }
}

TEST(MqttUtf8, AcceptsWellFormedSequences) {
  for (const auto& [name, s] : good_utf8) {
    EXPECT_TRUE(valid_utf8(s)) << name;
  }
}

TEST(MqttDecoder, RejectsBadUtf8InPublishTopic) {
  for (const auto& [name, s] : bad_utf8) {
    EXPECT_EQ(decode_error(frame(0x30, str16(s) + "payload")), errc::invalid_utf8) << name;
  }
}

TEST(MqttDecoder, RejectsBadUtf8InEveryConnectString) {
  const std::string head = str16("MQTT") + bytes({0x04});
  const std::string bad = "\xED\xA0\x80";
  // Client id, will topic, user name.
  EXPECT_EQ(decode_error(frame(0x10, head + bytes({0x02, 0x00, 0x00}) + str16(bad))),
            errc::invalid_utf8);
  EXPECT_EQ(decode_error(frame(
                0x10, head + bytes({0x06, 0x00, 0x00}) + str16("c") + str16(bad) + str16("m"))),
            errc::invalid_utf8);
  EXPECT_EQ(decode_error(frame(0x10, head + bytes({0x82, 0x00, 0x00}) + str16("c") + str16(bad))),
            errc::invalid_utf8);
}

TEST(MqttDecoder, AcceptsAnyBytesInPasswordWillMessageAndPayload) {
  const std::string binary("\x00\xFF\xC0\x80\xED\xA0\x80", 7);
  connect c;
  c.client_id = "c";
  c.will = connect::will_t{"w", binary, 2, false};
  c.username = "u";
  c.password = binary;
  const auto decoded_connect = decode(encoded(c));
  ASSERT_TRUE(decoded_connect);
  EXPECT_EQ(*decoded_connect, packet{c});
  publish p;
  p.topic = "t";
  p.payload = binary;
  const auto decoded_publish = decode(encoded(p));
  ASSERT_TRUE(decoded_publish);
  EXPECT_EQ(*decoded_publish, packet{p});
}

TEST(MqttDecoder, RejectsBadUtf8InSubscribeAndUnsubscribeFilters) {
  const std::string bad("a\0", 2);
  EXPECT_EQ(decode_error(frame(0x82, bytes({0x00, 0x01}) + str16(bad) + bytes({0x00}))),
            errc::invalid_utf8);
  EXPECT_EQ(decode_error(frame(0xA2, bytes({0x00, 0x01}) + str16(bad))), errc::invalid_utf8);
}

TEST(MqttDecoder, KeepsTheByteOrderMarkInStrings) {
  const std::string topic = "\xEF\xBB\xBFt";
  const auto decoded = decode(frame(0x30, str16(topic)));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(std::get<publish>(*decoded).topic, topic);
}

// --- CONNECT (§3.1) ---

TEST(MqttDecoder, RejectsMqtt31ProtocolAsUnsupported) {
  const std::string mqisdp =
      frame(0x10, str16("MQIsdp") + bytes({0x03, 0x02, 0x00, 0x3C}) + str16("c"));
  EXPECT_EQ(decode_error(mqisdp), errc::unsupported_protocol);
}

TEST(MqttDecoder, RejectsOtherProtocolLevelsAndNamesAsUnsupported) {
  for (const int level : {0, 3, 5, 255}) {
    EXPECT_EQ(
        decode_error(frame(0x10, str16("MQTT") + bytes({level, 0x02, 0x00, 0x00}) + str16("c"))),
        errc::unsupported_protocol)
        << level;
  }
  EXPECT_EQ(decode_error(frame(0x10, str16("mqtt") + bytes({0x04, 0x02, 0x00, 0x00}) + str16("c"))),
            errc::unsupported_protocol);
  // MQTT 5 CONNECT (with its properties length) stops at the level, before the flags.
  EXPECT_EQ(
      decode_error(frame(0x10, str16("MQTT") + bytes({0x05, 0x02, 0x00, 0x3C, 0x00}) + str16("c"))),
      errc::unsupported_protocol);
}

TEST(MqttDecoder, RejectsConnectReservedFlag) {
  EXPECT_EQ(decode_error(frame(0x10, str16("MQTT") + bytes({0x04, 0x03, 0x00, 0x00}) + str16("c"))),
            errc::reserved_flags_set);
}

TEST(MqttDecoder, RejectsWillQosOrRetainWithoutWillFlag) {
  for (const int flags : {0x0A, 0x12, 0x22, 0x1A}) {
    EXPECT_EQ(
        decode_error(frame(0x10, str16("MQTT") + bytes({0x04, flags, 0x00, 0x00}) + str16("c"))),
        errc::malformed_packet)
        << flags;
  }
}

TEST(MqttDecoder, RejectsWillQos3) {
  EXPECT_EQ(decode_error(frame(0x10, str16("MQTT") + bytes({0x04, 0x1E, 0x00, 0x00}) + str16("c")
                                         + str16("w") + str16("m"))),
            errc::invalid_qos);
}

TEST(MqttDecoder, RejectsPasswordWithoutUserName) {
  EXPECT_EQ(decode_error(frame(
                0x10, str16("MQTT") + bytes({0x04, 0x42, 0x00, 0x00}) + str16("c") + str16("p"))),
            errc::malformed_packet);
}

TEST(MqttDecoder, RejectsWildcardsInWillTopic) {
  for (const char* topic : {"a/+", "#", ""}) {
    EXPECT_EQ(decode_error(frame(0x10, str16("MQTT") + bytes({0x04, 0x06, 0x00, 0x00}) + str16("c")
                                           + str16(topic) + str16("m"))),
              errc::invalid_topic)
        << topic;
  }
}

TEST(MqttDecoder, AcceptsEmptyClientIdAndEmptyCredentials) {
  connect c;
  c.client_id = "";
  c.username = "";
  c.password = "";
  const auto decoded = decode(encoded(c));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, packet{c});
}

// --- CONNACK (§3.2) ---

TEST(MqttDecoder, RejectsConnackReservedBits) {
  EXPECT_EQ(decode_error(bytes({0x20, 0x02, 0x02, 0x00})), errc::reserved_flags_set);
  EXPECT_EQ(decode_error(bytes({0x20, 0x02, 0x80, 0x00})), errc::reserved_flags_set);
}

TEST(MqttDecoder, RejectsReservedConnackReturnCodes) {
  EXPECT_EQ(decode_error(bytes({0x20, 0x02, 0x00, 0x06})), errc::malformed_packet);
  EXPECT_EQ(decode_error(bytes({0x20, 0x02, 0x00, 0xFF})), errc::malformed_packet);
}

TEST(MqttDecoder, RejectsSessionPresentWithARefusal) {
  EXPECT_EQ(decode_error(bytes({0x20, 0x02, 0x01, 0x05})), errc::malformed_packet);
}

// --- PUBLISH (§3.3) ---

TEST(MqttDecoder, RejectsPublishQos3) {
  EXPECT_EQ(decode_error(frame(0x36, str16("t") + bytes({0x00, 0x01}))), errc::invalid_qos);
  EXPECT_EQ(decode_error(frame(0x3F, str16("t") + bytes({0x00, 0x01}))), errc::invalid_qos);
}

TEST(MqttDecoder, RejectsDupOnQos0Publish) {
  EXPECT_EQ(decode_error(frame(0x38, str16("t"))), errc::malformed_packet);
}

TEST(MqttDecoder, RejectsWildcardsAndEmptyTopicInPublish) {
  for (const char* topic : {"a/+", "+", "a/#", "#", "a+b", "a#", ""}) {
    EXPECT_EQ(decode_error(frame(0x30, str16(topic) + "x")), errc::invalid_topic) << topic;
  }
}

TEST(MqttDecoder, DecodesQos2PublishForTheSessionToJudge) {
  const auto decoded = decode(frame(0x34, str16("t") + bytes({0x00, 0x05}) + "x"));
  ASSERT_TRUE(decoded);
  const auto& p = std::get<publish>(*decoded);
  EXPECT_EQ(p.qos, 2);
  EXPECT_EQ(p.packet_id, 5);
  EXPECT_EQ(p.payload, "x");
}

TEST(MqttDecoder, DecodesPublishWithEmptyPayload) {
  const auto decoded = decode(frame(0x31, str16("t")));
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(std::get<publish>(*decoded).retain);
  EXPECT_TRUE(std::get<publish>(*decoded).payload.empty());
}

// --- packet identifiers (§2.3.1) ---

TEST(MqttDecoder, RejectsPacketIdZeroWhereverOneIsRequired) {
  const std::pair<const char*, std::string> cases[] = {
      {"publish qos1", frame(0x32, str16("t") + bytes({0x00, 0x00}))},
      {"publish qos2", frame(0x34, str16("t") + bytes({0x00, 0x00}))},
      {"puback", bytes({0x40, 0x02, 0x00, 0x00})},
      {"pubrec", bytes({0x50, 0x02, 0x00, 0x00})},
      {"pubrel", bytes({0x62, 0x02, 0x00, 0x00})},
      {"pubcomp", bytes({0x70, 0x02, 0x00, 0x00})},
      {"subscribe", frame(0x82, bytes({0x00, 0x00}) + str16("a") + bytes({0x00}))},
      {"suback", bytes({0x90, 0x03, 0x00, 0x00, 0x00})},
      {"unsubscribe", frame(0xA2, bytes({0x00, 0x00}) + str16("a"))},
      {"unsuback", bytes({0xB0, 0x02, 0x00, 0x00})},
  };
  for (const auto& [name, wire] : cases) {
    EXPECT_EQ(decode_error(wire), errc::invalid_packet_id) << name;
  }
}

// --- SUBSCRIBE / SUBACK / UNSUBSCRIBE (§3.8-3.10) ---

TEST(MqttDecoder, RejectsInvalidTopicFiltersInSubscribe) {
  for (const char* filter : {"a/#/b", "a#", "a/b#", "#/", "a/b+", "+a", "a/+b/c", ""}) {
    EXPECT_EQ(decode_error(frame(0x82, bytes({0x00, 0x01}) + str16(filter) + bytes({0x00}))),
              errc::invalid_topic_filter)
        << filter;
  }
}

TEST(MqttDecoder, RejectsInvalidTopicFiltersInUnsubscribe) {
  for (const char* filter : {"a/#/b", "a#", "+a", ""}) {
    EXPECT_EQ(decode_error(frame(0xA2, bytes({0x00, 0x01}) + str16("ok") + str16(filter))),
              errc::invalid_topic_filter)
        << filter;
  }
}

TEST(MqttDecoder, RejectsRequestedQos3) {
  EXPECT_EQ(decode_error(frame(0x82, bytes({0x00, 0x01}) + str16("a") + bytes({0x03}))),
            errc::invalid_qos);
}

TEST(MqttDecoder, RejectsReservedBitsOfRequestedQos) {
  for (const int qos : {0x04, 0x80, 0xFD}) {
    EXPECT_EQ(decode_error(frame(0x82, bytes({0x00, 0x01}) + str16("a") + bytes({qos}))),
              errc::reserved_flags_set)
        << qos;
  }
}

TEST(MqttDecoder, RejectsSubscribeAndUnsubscribeWithoutFilters) {
  EXPECT_EQ(decode_error(bytes({0x82, 0x02, 0x00, 0x01})), errc::empty_filter_list);
  EXPECT_EQ(decode_error(bytes({0xA2, 0x02, 0x00, 0x01})), errc::empty_filter_list);
}

TEST(MqttDecoder, RejectsReservedSubackReturnCodes) {
  for (const int code : {0x03, 0x7F, 0x81, 0xFF}) {
    EXPECT_EQ(decode_error(bytes({0x90, 0x03, 0x00, 0x01, code})), errc::malformed_packet) << code;
  }
  EXPECT_EQ(decode_error(bytes({0x90, 0x02, 0x00, 0x01})), errc::malformed_packet);
}

// --- round trips ---

std::vector<packet> round_trip_packets() {
  std::vector<packet> out;
  for (const std::uint8_t qos : {0, 1, 2}) {
    for (const bool retain : {false, true}) {
      for (const bool dup : {false, true}) {
        if (dup && qos == 0) {
          continue;
        }
        for (const std::size_t size : {0, 1, 120, 200, 20'000}) {
          publish p;
          p.dup = dup;
          p.qos = qos;
          p.retain = retain;
          p.topic = "devices/d/modules/m/inputs/in1/%24.mid=" + std::to_string(size);
          p.packet_id = qos > 0 ? static_cast<std::uint16_t>(size + 1) : 0;
          p.payload.assign(size, static_cast<char>(size & 0xFF));
          out.emplace_back(std::move(p));
        }
      }
    }
  }
  for (const bool clean : {false, true}) {
    for (const std::uint8_t will_qos : {0, 1, 2}) {
      connect c;
      c.clean_session = clean;
      c.keepalive = static_cast<std::uint16_t>(will_qos * 1000);
      c.client_id = "edge1/modA";
      c.will = connect::will_t{"status/edge1", "gone", will_qos, clean};
      c.username = "hub/edge1/modA/?api-version=2021-04-12";
      out.emplace_back(c);
      c.password = "SharedAccessSignature sr=x";
      out.emplace_back(c);
      c.will.reset();
      out.emplace_back(c);
    }
  }
  for (std::uint8_t rc = 0; rc <= 5; ++rc) {
    out.emplace_back(connack{rc == 0, rc});
  }
  for (const std::uint16_t id : {1, 2, 0x7FFF, 0xFFFF}) {
    out.emplace_back(puback{id});
    out.emplace_back(pubrec{id});
    out.emplace_back(pubrel{id});
    out.emplace_back(pubcomp{id});
    out.emplace_back(unsuback{id});
    out.emplace_back(subscribe{id, {{"$iothub/twin/res/#", 0}, {"a/+/c", 1}, {"#", 2}}});
    out.emplace_back(suback{id, {0, 1, 2, 0x80}});
    out.emplace_back(unsubscribe{id, {"$iothub/methods/POST/#", "+/+", "/"}});
  }
  std::vector<std::pair<std::string, std::uint8_t>> many;
  for (int i = 0; i < 300; ++i) {
    many.emplace_back("filter/" + std::to_string(i) + "/+", static_cast<std::uint8_t>(i % 3));
  }
  out.emplace_back(subscribe{42, many});
  out.emplace_back(pingreq{});
  out.emplace_back(pingresp{});
  out.emplace_back(disconnect{});
  return out;
}

TEST(MqttCodec, RoundTripsEveryPacket) {
  const auto packets = round_trip_packets();
  EXPECT_GT(packets.size(), 100u);
  for (const auto& p : packets) {
    const std::string wire = encoded(p);
    EXPECT_EQ(wire.size(), encoded_size(p));
    const auto split = split_frame(wire, big_limit);
    ASSERT_TRUE(split);
    EXPECT_EQ(split->frame_size, wire.size());
    const auto decoded = decode(wire);
    ASSERT_TRUE(decoded) << decoded.error().message();
    EXPECT_EQ(*decoded, p);
    EXPECT_EQ(encoded(*decoded), wire);
  }
}

TEST(MqttCodec, SplitsAndDecodesAStreamOfManyFrames) {
  const auto packets = round_trip_packets();
  std::string stream;
  for (const auto& p : packets) {
    encode(p, stream);
  }
  std::string_view rest = stream;
  std::size_t count = 0;
  while (!rest.empty()) {
    const auto split = split_frame(rest, big_limit);
    ASSERT_TRUE(split);
    ASSERT_NE(split->frame_size, 0u);
    const auto decoded = decode(rest.substr(0, split->frame_size));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, packets[count]);
    rest.remove_prefix(split->frame_size);
    ++count;
  }
  EXPECT_EQ(count, packets.size());
}

TEST(MqttCodec, PacketsCompareFieldByField) {
  publish a;
  a.topic = "t";
  publish b = a;
  EXPECT_EQ(packet{a}, packet{b});
  b.retain = true;
  EXPECT_NE(packet{a}, packet{b});
  EXPECT_NE(packet{puback{1}}, packet{pubrec{1}});
  connect c;
  connect d;
  d.will = connect::will_t{"t", "", 0, false};
  EXPECT_NE(c, d);
}

TEST(MqttErrc, HasItsOwnCategoryAndClearMessages) {
  const std::error_code ec = errc::invalid_qos;
  EXPECT_STREQ(ec.category().name(), "outpost.mqtt");
  EXPECT_EQ(ec.message(), "invalid MQTT QoS (3)");
  for (int e = 1; e <= static_cast<int>(errc::empty_filter_list); ++e) {
    EXPECT_NE(make_error_code(static_cast<errc>(e)).message(), "unknown MQTT codec error") << e;
  }
}

} // namespace
} // namespace outpost::mqtt
