// MQTT 3.1.1 conformance of the codec, byte by byte. One test per normative statement a codec
// can check, named Mqtt<area><packet>... where the area is the packet type (01 CONNECT ..
// 14 DISCONNECT), 00 the data representation and fixed header (§1-2) and 15 topics (§4.7).
// Every scenario feeds raw bytes one at a time through split_frame, as a socket would, then
// decodes the frame; statements about sessions (ordering, retries) belong to the session tests.

#include "protocols/mqtt/decoder.hpp"
#include "protocols/mqtt/encoder.hpp"
#include "protocols/mqtt/errc.hpp"
#include "protocols/mqtt/frame_splitter.hpp"
#include "protocols/mqtt/packets.hpp"
#include "protocols/mqtt/topic.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>

namespace outpost::mqtt {
namespace {

// IoT Edge's MaxInboundMessageSize (256 KiB) plus headers.
constexpr std::size_t max_frame = 262'144 + 1024;

int hex_digit(char c) {
  return std::isdigit(static_cast<unsigned char>(c))
             ? c - '0'
             : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
}

// Wire bytes from hex pairs and 'quoted ASCII': wire("30 05 00 03 'a/b'").
std::string wire(std::string_view spec) {
  std::string out;
  for (std::size_t i = 0; i < spec.size();) {
    if (spec[i] == ' ') {
      ++i;
    } else if (spec[i] == '\'') {
      const std::size_t end = spec.find('\'', i + 1);
      out.append(spec.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      out.push_back(static_cast<char>(hex_digit(spec[i]) * 16 + hex_digit(spec[i + 1])));
      i += 2;
    }
  }
  return out;
}

// What a receiver makes of `bytes` arriving one at a time: the split error, the decode
// result of the first complete frame, or malformed_packet when the bytes never complete one.
result<packet> receive(std::string_view bytes) {
  for (std::size_t n = 1; n <= bytes.size(); ++n) {
    const auto split = split_frame(bytes.substr(0, n), max_frame);
    if (!split) {
      return split.error();
    }
    if (split->frame_size != 0) {
      EXPECT_EQ(split->frame_size, n) << "frame must complete exactly at its last byte";
      return decode(bytes.substr(0, split->frame_size));
    }
  }
  return errc::malformed_packet;
}

std::error_code error_of(std::string_view spec) {
  const auto r = receive(wire(spec));
  return r ? std::error_code{} : r.error();
}

template <class T>
T packet_of(std::string_view spec) {
  const auto r = receive(wire(spec));
  EXPECT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r && std::holds_alternative<T>(*r));
  return r && std::holds_alternative<T>(*r) ? std::get<T>(*r) : T{};
}

std::string encoded(const packet& p) {
  std::string out;
  encode(p, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// 00: data representation (§1.5) and control packet format (§2)

TEST(MqttConformance, Mqtt00Utf8IllFormedStringIsRejected) {
  // [MQTT-1.5.3-1] ill-formed UTF-8: overlong '/', lone continuation, truncated sequence.
  EXPECT_EQ(error_of("30 04 00 02 C0 AF"), errc::invalid_utf8);
  EXPECT_EQ(error_of("30 03 00 01 80"), errc::invalid_utf8);
  EXPECT_EQ(error_of("30 04 00 02 E2 82"), errc::invalid_utf8);
  EXPECT_EQ(error_of("30 06 00 04 F4 90 80 80"), errc::invalid_utf8);
}

TEST(MqttConformance, Mqtt00Utf8SurrogateCodePointIsRejected) {
  // [MQTT-1.5.3-1] "MUST NOT include encodings of code points between U+D800 and U+DFFF".
  EXPECT_EQ(error_of("30 05 00 03 ED A0 80"), errc::invalid_utf8);
  EXPECT_EQ(error_of("30 05 00 03 ED BF BF"), errc::invalid_utf8);
}

TEST(MqttConformance, Mqtt00Utf8NullCharacterIsRejected) {
  // [MQTT-1.5.3-2] U+0000, plain and as the overlong C0 80.
  EXPECT_EQ(error_of("30 05 00 03 'a' 00 'b'"), errc::invalid_utf8);
  EXPECT_EQ(error_of("30 04 00 02 C0 80"), errc::invalid_utf8);
}

TEST(MqttConformance, Mqtt00Utf8ByteOrderMarkIsKept) {
  // [MQTT-1.5.3-3] EF BB BF is U+FEFF and MUST NOT be skipped or stripped.
  const auto p = packet_of<publish>("30 06 00 04 EF BB BF 't'");
  EXPECT_EQ(p.topic, "\xEF\xBB\xBFt");
}

TEST(MqttConformance, Mqtt00FixedHeaderReservedFlagsAreChecked) {
  // [MQTT-2.2.2-1] [MQTT-2.2.2-2] flags other than Table 2.2's close the connection.
  EXPECT_EQ(error_of("11 0E 00 04 'MQTT' 04 02 00 3C 00 02 'c1'"), errc::reserved_flags_set);
  EXPECT_EQ(error_of("41 02 00 01"), errc::reserved_flags_set);
  EXPECT_EQ(error_of("80 06 00 01 00 01 'a' 00"), errc::reserved_flags_set);
  EXPECT_EQ(error_of("C8 00"), errc::reserved_flags_set);
}

TEST(MqttConformance, Mqtt00ReservedPacketTypesAreRejected) {
  // §2.2.1: types 0 and 15 are reserved; receiving one is a protocol violation [MQTT-4.8.0-1].
  EXPECT_EQ(error_of("00 00"), errc::unknown_packet_type);
  EXPECT_EQ(error_of("F0 00"), errc::unknown_packet_type);
}

TEST(MqttConformance, Mqtt00RemainingLengthHasAtMostFourBytes) {
  // §2.2.3: 0xFF 0xFF 0xFF 0x7F is the largest; a fifth byte is malformed.
  EXPECT_EQ(error_of("30 FF FF FF FF 01"), errc::malformed_remaining_length);
  const auto split = split_frame(wire("30 FF FF FF 7F"), std::size_t{1} << 30);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->header_size, 5u);
}

TEST(MqttConformance, Mqtt00RemainingLengthMustCoverTheContentExactly) {
  // §2.2.3: the remaining length counts the variable header and payload, nothing more.
  EXPECT_EQ(error_of("40 03 00 01 00"), errc::malformed_packet);
  EXPECT_EQ(error_of("40 01 00"), errc::malformed_packet);
}

TEST(MqttConformance, Mqtt00RemainingLengthExamplesFromTable21) {
  // §2.2.3 Table 2.1 boundaries: 127 = 7F, 128 = 80 01, 16383 = FF 7F, 16384 = 80 80 01.
  for (const auto& [spec, header] : {std::pair<const char*, std::size_t>{"30 7F", 2},
                                     {"30 80 01", 3},
                                     {"30 FF 7F", 3},
                                     {"30 80 80 01", 4},
                                     {"30 FF FF 7F", 4},
                                     {"30 80 80 80 01", 5}}) {
    const auto split = split_frame(wire(spec), std::size_t{1} << 30);
    ASSERT_TRUE(split) << spec;
    EXPECT_EQ(split->header_size, header) << spec;
  }
}

TEST(MqttConformance, Mqtt00PacketIdentifierMustBeNonZero) {
  // [MQTT-2.3.1-1] SUBSCRIBE, UNSUBSCRIBE and PUBLISH with QoS > 0.
  EXPECT_EQ(error_of("32 05 00 01 't' 00 00"), errc::invalid_packet_id);
  EXPECT_EQ(error_of("82 06 00 00 00 01 'a' 00"), errc::invalid_packet_id);
  EXPECT_EQ(error_of("A2 05 00 00 00 01 'a'"), errc::invalid_packet_id);
}

TEST(MqttConformance, Mqtt00Qos0PublishCarriesNoPacketIdentifier) {
  // [MQTT-2.3.1-5]: the two bytes after the topic are payload at QoS 0, and the encoder
  // never writes an identifier for QoS 0.
  const auto p = packet_of<publish>("30 05 00 01 't' 00 07");
  EXPECT_EQ(p.packet_id, 0);
  EXPECT_EQ(p.payload, wire("00 07"));
  publish out;
  out.topic = "t";
  out.packet_id = 7;
  EXPECT_EQ(encoded(out), wire("30 03 00 01 't'"));
}

TEST(MqttConformance, Mqtt00AcknowledgementsCarryTheirPacketIdentifier) {
  // [MQTT-2.3.1-6] [MQTT-2.3.1-7]: PUBACK/PUBREC/PUBREL/SUBACK/UNSUBACK echo the id.
  EXPECT_EQ(packet_of<puback>("40 02 12 34").packet_id, 0x1234);
  EXPECT_EQ(packet_of<pubrec>("50 02 12 34").packet_id, 0x1234);
  EXPECT_EQ(packet_of<pubrel>("62 02 12 34").packet_id, 0x1234);
  EXPECT_EQ(packet_of<suback>("90 03 12 34 01").packet_id, 0x1234);
  EXPECT_EQ(packet_of<unsuback>("B0 02 12 34").packet_id, 0x1234);
}

// ---------------------------------------------------------------------------------------------
// 01: CONNECT (§3.1)

TEST(MqttConformance, Mqtt01ConnectWrongProtocolNameIsUnsupported) {
  // [MQTT-3.1.2-1] the server MUST NOT continue with this specification.
  EXPECT_EQ(error_of("10 0E 00 04 'MQTX' 04 02 00 3C 00 02 'c1'"), errc::unsupported_protocol);
  EXPECT_EQ(error_of("10 10 00 06 'MQIsdp' 04 02 00 3C 00 02 'c1'"), errc::unsupported_protocol);
}

TEST(MqttConformance, Mqtt01ConnectUnsupportedLevelIsReportedForConnack1) {
  // [MQTT-3.1.2-2]: level 3 (MQTT 3.1, "MQIsdp") and level 5 get CONNACK 0x01 from the session.
  EXPECT_EQ(error_of("10 10 00 06 'MQIsdp' 03 02 00 3C 00 02 'c1'"), errc::unsupported_protocol);
  EXPECT_EQ(error_of("10 0E 00 04 'MQTT' 03 02 00 3C 00 02 'c1'"), errc::unsupported_protocol);
  EXPECT_EQ(error_of("10 0F 00 04 'MQTT' 05 02 00 3C 00 00 02 'c1'"), errc::unsupported_protocol);
}

TEST(MqttConformance, Mqtt01ConnectReservedFlagMustBeZero) {
  // [MQTT-3.1.2-3]
  EXPECT_EQ(error_of("10 0E 00 04 'MQTT' 04 03 00 3C 00 02 'c1'"), errc::reserved_flags_set);
}

TEST(MqttConformance, Mqtt01ConnectCleanSessionFlagIsDecoded) {
  // §3.1.2.4 (the session acts on it: [MQTT-3.1.2-4] .. [MQTT-3.1.2-6]).
  EXPECT_TRUE(packet_of<connect>("10 0E 00 04 'MQTT' 04 02 00 3C 00 02 'c1'").clean_session);
  EXPECT_FALSE(packet_of<connect>("10 0E 00 04 'MQTT' 04 00 00 3C 00 02 'c1'").clean_session);
}

TEST(MqttConformance, Mqtt01ConnectWillFieldsArePresentWithWillFlag) {
  // [MQTT-3.1.2-9] Will Topic and Will Message present; QoS and Retain used (§3.1.2.6-7).
  const auto c =
      packet_of<connect>("10 18 00 04 'MQTT' 04 36 00 00 00 01 'c' 00 03 'w/t' 00 04 'gone'");
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->topic, "w/t");
  EXPECT_EQ(c.will->payload, "gone");
  EXPECT_EQ(c.will->qos, 2);
  EXPECT_TRUE(c.will->retain);
  EXPECT_EQ(error_of("10 0D 00 04 'MQTT' 04 06 00 00 00 01 'c'"), errc::malformed_packet);
}

TEST(MqttConformance, Mqtt01ConnectWillQosAndRetainMustBeZeroWithoutWillFlag) {
  // [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15]
  EXPECT_EQ(error_of("10 0D 00 04 'MQTT' 04 0A 00 00 00 01 'c'"), errc::malformed_packet);
  EXPECT_EQ(error_of("10 0D 00 04 'MQTT' 04 12 00 00 00 01 'c'"), errc::malformed_packet);
  EXPECT_EQ(error_of("10 0D 00 04 'MQTT' 04 22 00 00 00 01 'c'"), errc::malformed_packet);
}

TEST(MqttConformance, Mqtt01ConnectWillFieldsAreAbsentWithoutWillFlag) {
  // [MQTT-3.1.2-11]: bytes that would be a will are trailing garbage here.
  EXPECT_EQ(error_of("10 16 00 04 'MQTT' 04 02 00 00 00 01 'c' 00 03 'w/t' 00 02 'no'"),
            errc::malformed_packet);
}

TEST(MqttConformance, Mqtt01ConnectWillQos3IsRejected) {
  // [MQTT-3.1.2-14]
  EXPECT_EQ(error_of("10 13 00 04 'MQTT' 04 1E 00 00 00 01 'c' 00 01 'w' 00 01 'm'"),
            errc::invalid_qos);
}

TEST(MqttConformance, Mqtt01ConnectUserNameFlagMatchesPayload) {
  // [MQTT-3.1.2-18] absent without the flag (extra bytes are trailing); [MQTT-3.1.2-19] present
  // with it.
  EXPECT_EQ(error_of("10 10 00 04 'MQTT' 04 02 00 00 00 01 'c' 00 01 'u'"), errc::malformed_packet);
  EXPECT_EQ(error_of("10 0D 00 04 'MQTT' 04 82 00 00 00 01 'c'"), errc::malformed_packet);
  EXPECT_EQ(packet_of<connect>("10 10 00 04 'MQTT' 04 82 00 00 00 01 'c' 00 01 'u'").username,
            std::optional<std::string>("u"));
}

TEST(MqttConformance, Mqtt01ConnectPasswordFlagMatchesPayload) {
  // [MQTT-3.1.2-20] absent without the flag; [MQTT-3.1.2-21] present with it.
  EXPECT_EQ(error_of("10 13 00 04 'MQTT' 04 82 00 00 00 01 'c' 00 01 'u' 00 01 'p'"),
            errc::malformed_packet);
  EXPECT_EQ(error_of("10 10 00 04 'MQTT' 04 C2 00 00 00 01 'c' 00 01 'u'"), errc::malformed_packet);
  const auto c = packet_of<connect>("10 13 00 04 'MQTT' 04 C2 00 00 00 01 'c' 00 01 'u' 00 01 'p'");
  EXPECT_EQ(c.password, std::optional<std::string>("p"));
}

TEST(MqttConformance, Mqtt01ConnectPasswordWithoutUserNameIsMalformed) {
  // [MQTT-3.1.2-22]
  EXPECT_EQ(error_of("10 10 00 04 'MQTT' 04 42 00 00 00 01 'c' 00 01 'p'"), errc::malformed_packet);
}

TEST(MqttConformance, Mqtt01ConnectPayloadFieldsComeInOrder) {
  // [MQTT-3.1.3-1] Client Identifier, Will Topic, Will Message, User Name, Password.
  const auto c = packet_of<connect>(
      "10 1B 00 04 'MQTT' 04 CE 00 0A 00 02 'id' 00 01 'w' 00 01 'm' 00 01 'u' 00 02 'pw'");
  EXPECT_EQ(c.client_id, "id");
  ASSERT_TRUE(c.will);
  EXPECT_EQ(c.will->topic, "w");
  EXPECT_EQ(c.will->payload, "m");
  EXPECT_EQ(c.will->qos, 1);
  EXPECT_EQ(c.username, std::optional<std::string>("u"));
  EXPECT_EQ(c.password, std::optional<std::string>("pw"));
  EXPECT_EQ(c.keepalive, 10);
}

TEST(MqttConformance, Mqtt01ConnectClientIdMustBePresent) {
  // [MQTT-3.1.3-3]
  EXPECT_EQ(error_of("10 0A 00 04 'MQTT' 04 02 00 3C"), errc::malformed_packet);
  EXPECT_EQ(error_of("10 0B 00 04 'MQTT' 04 02 00 3C 00"), errc::malformed_packet);
}

TEST(MqttConformance, Mqtt01ConnectClientIdMustBeUtf8) {
  // [MQTT-3.1.3-4]
  EXPECT_EQ(error_of("10 0E 00 04 'MQTT' 04 02 00 3C 00 02 C0 80"), errc::invalid_utf8);
}

TEST(MqttConformance, Mqtt01ConnectAcceptsShortAlphanumericAndAzureClientIds) {
  // [MQTT-3.1.3-5] 1..23 of [0-9a-zA-Z] MUST be allowed; longer ids with '/' MAY be (IoT Hub).
  EXPECT_EQ(packet_of<connect>("10 23 00 04 'MQTT' 04 02 00 3C 00 17 '0123456789abcdefghijXYZ'")
                .client_id,
            "0123456789abcdefghijXYZ");
  EXPECT_EQ(packet_of<connect>("10 16 00 04 'MQTT' 04 02 00 3C 00 0A 'edge1/modA'").client_id,
            "edge1/modA");
}

TEST(MqttConformance, Mqtt01ConnectAcceptsZeroLengthClientId) {
  // [MQTT-3.1.3-6] a server MAY allow it; the session answers CONNACK 2 when CleanSession is 0
  // ([MQTT-3.1.3-8]), so the codec decodes both.
  EXPECT_EQ(packet_of<connect>("10 0C 00 04 'MQTT' 04 02 00 3C 00 00").client_id, "");
  EXPECT_FALSE(packet_of<connect>("10 0C 00 04 'MQTT' 04 00 00 3C 00 00").clean_session);
}

TEST(MqttConformance, Mqtt01ConnectWillTopicMustBeUtf8) {
  // [MQTT-3.1.3-10]
  EXPECT_EQ(error_of("10 14 00 04 'MQTT' 04 06 00 00 00 01 'c' 00 02 ED A0 00 01 'm'"),
            errc::invalid_utf8);
}

TEST(MqttConformance, Mqtt01ConnectUserNameMustBeUtf8) {
  // [MQTT-3.1.3-11]
  EXPECT_EQ(error_of("10 10 00 04 'MQTT' 04 82 00 00 00 01 'c' 00 01 FF"), errc::invalid_utf8);
}

TEST(MqttConformance, Mqtt01ConnectPasswordIsBinary) {
  // §3.1.3.5: binary data, not a UTF-8 string.
  const auto c = packet_of<connect>("10 13 00 04 'MQTT' 04 C2 00 00 00 01 'c' 00 01 'u' 00 01 00");
  EXPECT_EQ(c.password, std::optional<std::string>(std::string(1, '\0')));
}

TEST(MqttConformance, Mqtt01ConnectAzureSdkCaptureDecodes) {
  // azure-sdk-wire.md §2.1: flags C0 (user name + password, CleanSession 0), keepalive 180.
  const std::string user =
      "localhost/dev1/?api-version=2021-04-12&DeviceClientType=azure-iot-device%2F1.18.4%20(node%"
      "20v20.20.2%3B%20Debian%2012%3B%20x64)";
  const std::string sas =
      "SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig=rhvnF2oKe1V%2BeDUgNhCg1q3H3rctCvwGs0"
      "WuEO6iz3k%3D&se=1795701487";
  const std::string bytes =
      wire("10 89 02 00 04 'MQTT' 04 C0 00 B4 00 04 'dev1' 00 7F") + user + wire("00 76") + sas;
  const auto r = receive(bytes);
  ASSERT_TRUE(r);
  const auto& c = std::get<connect>(*r);
  EXPECT_FALSE(c.clean_session);
  EXPECT_EQ(c.keepalive, 180);
  EXPECT_EQ(c.client_id, "dev1");
  EXPECT_EQ(c.username, user);
  EXPECT_EQ(c.password, sas);
  EXPECT_EQ(encoded(c), bytes);
}

TEST(MqttConformance, Mqtt01ConnectNonConformingPacketIsRejected) {
  // [MQTT-3.1.4-1]: a CONNECT truncated inside its variable header does not decode.
  EXPECT_EQ(error_of("10 06 00 04 'MQTT'"), errc::malformed_packet);
  EXPECT_EQ(error_of("10 00"), errc::malformed_packet);
}

// ---------------------------------------------------------------------------------------------
// 02: CONNACK (§3.2)

TEST(MqttConformance, Mqtt02ConnackEncodesEveryReturnCode) {
  // §3.2.2.3 Table 3.1: 0 accepted .. 5 not authorized.
  for (std::uint8_t rc = 0; rc <= 5; ++rc) {
    EXPECT_EQ(encoded(connack{false, rc}),
              wire("20 02 00") + std::string(1, static_cast<char>(rc)));
  }
}

TEST(MqttConformance, Mqtt02ConnackSessionPresentIsBit0) {
  // [MQTT-3.2.2-1] .. [MQTT-3.2.2-3]: Session Present is bit 0 of the acknowledge flags.
  EXPECT_EQ(encoded(connack{true, 0}), wire("20 02 01 00"));
  EXPECT_TRUE(packet_of<connack>("20 02 01 00").session_present);
}

TEST(MqttConformance, Mqtt02ConnackRefusalHasNoSessionPresent) {
  // [MQTT-3.2.2-4]
  EXPECT_EQ(error_of("20 02 01 05"), errc::malformed_packet);
}

TEST(MqttConformance, Mqtt02ConnackReservedBitsAndCodesAreRejected) {
  // §3.2.2.1 bits 7-1 reserved; §3.2.2.3 codes 6-255 reserved.
  EXPECT_EQ(error_of("20 02 02 00"), errc::reserved_flags_set);
  EXPECT_EQ(error_of("20 02 00 06"), errc::malformed_packet);
}

// ---------------------------------------------------------------------------------------------
// 03: PUBLISH (§3.3)

TEST(MqttConformance, Mqtt03PublishDupMustBeZeroAtQos0) {
  // [MQTT-3.3.1-2]
  EXPECT_EQ(error_of("38 03 00 01 't'"), errc::malformed_packet);
  EXPECT_TRUE(packet_of<publish>("3A 05 00 01 't' 00 01").dup);
}

TEST(MqttConformance, Mqtt03PublishWithBothQosBitsIsRejected) {
  // [MQTT-3.3.1-4]
  EXPECT_EQ(error_of("36 05 00 01 't' 00 01"), errc::invalid_qos);
}

TEST(MqttConformance, Mqtt03PublishRetainFlagIsDecoded) {
  // §3.3.1.3 (the broker acts on it: [MQTT-3.3.1-5] ..).
  EXPECT_TRUE(packet_of<publish>("31 03 00 01 't'").retain);
  EXPECT_FALSE(packet_of<publish>("30 03 00 01 't'").retain);
}

TEST(MqttConformance, Mqtt03PublishTopicNameIsFirstAndUtf8) {
  // [MQTT-3.3.2-1]
  EXPECT_EQ(packet_of<publish>("30 07 00 03 'a/b' 'hi'").topic, "a/b");
  EXPECT_EQ(error_of("30 05 00 03 ED B0 80"), errc::invalid_utf8);
  EXPECT_EQ(error_of("30 03 00 05 'a'"), errc::malformed_packet);
}

TEST(MqttConformance, Mqtt03PublishTopicNameHasNoWildcards) {
  // [MQTT-3.3.2-2]
  EXPECT_EQ(error_of("30 05 00 03 'a/+'"), errc::invalid_topic);
  EXPECT_EQ(error_of("30 05 00 03 'a/#'"), errc::invalid_topic);
}

TEST(MqttConformance, Mqtt03PublishQos2IsDecodedForTheSession) {
  // §3.3.1.2: QoS 2 is valid MQTT; IoT Hub refuses it, which is the session's decision.
  const auto p = packet_of<publish>("34 05 00 01 't' 00 09");
  EXPECT_EQ(p.qos, 2);
  EXPECT_EQ(p.packet_id, 9);
}

TEST(MqttConformance, Mqtt03PublishZeroLengthPayloadIsValid) {
  // §3.3.3: "a zero length payload is valid".
  EXPECT_EQ(packet_of<publish>("32 05 00 01 't' 00 01").payload, "");
}

TEST(MqttConformance, Mqtt03PublishAzureSdkCaptureDecodes) {
  // azure-sdk-wire.md Appendix A: C>S PUBLISH qos1 id=23706 devices/dev1/messages/events/.
  const auto p =
      packet_of<publish>("32 2B 00 1D 'devices/dev1/messages/events/' 5C 9A 'plain body'");
  EXPECT_EQ(p.topic, "devices/dev1/messages/events/");
  EXPECT_EQ(p.packet_id, 23706);
  EXPECT_EQ(p.payload, "plain body");
}

// ---------------------------------------------------------------------------------------------
// 04-07: PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4-3.7)

TEST(MqttConformance, Mqtt04PubackHasExactlyAPacketId) {
  // §3.4: remaining length 2.
  EXPECT_EQ(packet_of<puback>("40 02 5C 99").packet_id, 23705);
  EXPECT_EQ(encoded(puback{23705}), wire("40 02 5C 99"));
  EXPECT_EQ(error_of("40 00"), errc::malformed_packet);
  EXPECT_EQ(error_of("40 02 00 00"), errc::invalid_packet_id);
}

TEST(MqttConformance, Mqtt05PubrecHasExactlyAPacketId) {
  // §3.5
  EXPECT_EQ(encoded(pubrec{2}), wire("50 02 00 02"));
  EXPECT_EQ(error_of("50 03 00 02 00"), errc::malformed_packet);
}

TEST(MqttConformance, Mqtt06PubrelFixedHeaderFlagsAre0010) {
  // [MQTT-3.6.1-1]
  EXPECT_EQ(encoded(pubrel{2}), wire("62 02 00 02"));
  EXPECT_EQ(packet_of<pubrel>("62 02 00 02").packet_id, 2);
  EXPECT_EQ(error_of("60 02 00 02"), errc::reserved_flags_set);
  EXPECT_EQ(error_of("63 02 00 02"), errc::reserved_flags_set);
}

TEST(MqttConformance, Mqtt07PubcompHasExactlyAPacketId) {
  // §3.7
  EXPECT_EQ(encoded(pubcomp{2}), wire("70 02 00 02"));
  EXPECT_EQ(error_of("72 02 00 02"), errc::reserved_flags_set);
}

// ---------------------------------------------------------------------------------------------
// 08: SUBSCRIBE (§3.8)

TEST(MqttConformance, Mqtt08SubscribeFixedHeaderFlagsAre0010) {
  // [MQTT-3.8.1-1]
  EXPECT_EQ(error_of("80 06 00 01 00 01 'a' 00"), errc::reserved_flags_set);
  EXPECT_EQ(error_of("83 06 00 01 00 01 'a' 00"), errc::reserved_flags_set);
  EXPECT_EQ(packet_of<subscribe>("82 06 00 01 00 01 'a' 00").filters.size(), 1u);
}

TEST(MqttConformance, Mqtt08SubscribeTopicFiltersAreUtf8) {
  // [MQTT-3.8.3-1]
  EXPECT_EQ(error_of("82 07 00 01 00 02 C0 80 00"), errc::invalid_utf8);
}

TEST(MqttConformance, Mqtt08SubscribeNeedsAtLeastOneFilter) {
  // [MQTT-3.8.3-3]
  EXPECT_EQ(error_of("82 02 00 01"), errc::empty_filter_list);
}

TEST(MqttConformance, Mqtt08SubscribeReservedBitsAndQosAreChecked) {
  // [MQTT-3-8.3-4] (sic: the statement id as printed in the standard)
  EXPECT_EQ(error_of("82 06 00 01 00 01 'a' 03"), errc::invalid_qos);
  EXPECT_EQ(error_of("82 06 00 01 00 01 'a' 04"), errc::reserved_flags_set);
  EXPECT_EQ(error_of("82 06 00 01 00 01 'a' 81"), errc::reserved_flags_set);
}

TEST(MqttConformance, Mqtt08SubscribeKeepsFiltersInOrder) {
  // [MQTT-3.8.4-4] / [MQTT-3.9.3-1] rely on the order of the pairs; the codec keeps it.
  const auto s = packet_of<subscribe>("82 0E 00 05 00 01 'b' 01 00 01 'a' 00 00 01 '#' 02");
  ASSERT_EQ(s.filters.size(), 3u);
  EXPECT_EQ(s.filters[0], std::make_pair(std::string("b"), std::uint8_t{1}));
  EXPECT_EQ(s.filters[1], std::make_pair(std::string("a"), std::uint8_t{0}));
  EXPECT_EQ(s.filters[2], std::make_pair(std::string("#"), std::uint8_t{2}));
}

TEST(MqttConformance, Mqtt08SubscribeAzureSdkCaptureDecodes) {
  // azure-sdk-wire.md Appendix A: SUBSCRIBE id=23704 devices/dev1/messages/devicebound/# qos1.
  const auto s = packet_of<subscribe>("82 28 5C 98 00 23 'devices/dev1/messages/devicebound/#' 01");
  EXPECT_EQ(s.packet_id, 23704);
  ASSERT_EQ(s.filters.size(), 1u);
  EXPECT_EQ(s.filters[0].first, "devices/dev1/messages/devicebound/#");
  EXPECT_EQ(s.filters[0].second, 1);
}

// ---------------------------------------------------------------------------------------------
// 09: SUBACK (§3.9)

TEST(MqttConformance, Mqtt09SubackReturnCodesAreGrantedQosOrFailure) {
  // [MQTT-3.9.3-2]: only 0x00, 0x01, 0x02 and 0x80.
  EXPECT_EQ(packet_of<suback>("90 06 00 01 00 01 02 80").return_codes,
            (std::vector<std::uint8_t>{0, 1, 2, 0x80}));
  EXPECT_EQ(error_of("90 03 00 01 03"), errc::malformed_packet);
  EXPECT_EQ(error_of("90 03 00 01 81"), errc::malformed_packet);
  EXPECT_EQ(encoded(suback{0x5C98, {1}}), wire("90 03 5C 98 01"));
}

// ---------------------------------------------------------------------------------------------
// 10-11: UNSUBSCRIBE, UNSUBACK (§3.10-3.11)

TEST(MqttConformance, Mqtt10UnsubscribeFixedHeaderFlagsAre0010) {
  // [MQTT-3.10.1-1]
  EXPECT_EQ(error_of("A0 05 00 01 00 01 'a'"), errc::reserved_flags_set);
  EXPECT_EQ(packet_of<unsubscribe>("A2 05 00 01 00 01 'a'").filters,
            (std::vector<std::string>{"a"}));
}

TEST(MqttConformance, Mqtt10UnsubscribeTopicFiltersAreUtf8PackedContiguously) {
  // [MQTT-3.10.3-1]
  EXPECT_EQ(packet_of<unsubscribe>("A2 09 00 01 00 01 'a' 00 02 'b/'").filters,
            (std::vector<std::string>{"a", "b/"}));
  EXPECT_EQ(error_of("A2 05 00 01 00 01 FE"), errc::invalid_utf8);
}

TEST(MqttConformance, Mqtt10UnsubscribeNeedsAtLeastOneFilter) {
  // [MQTT-3.10.3-2]
  EXPECT_EQ(error_of("A2 02 00 01"), errc::empty_filter_list);
}

TEST(MqttConformance, Mqtt11UnsubackHasExactlyAPacketId) {
  // §3.11
  EXPECT_EQ(encoded(unsuback{0x0102}), wire("B0 02 01 02"));
  EXPECT_EQ(error_of("B0 03 00 07 00"), errc::malformed_packet);
}

// ---------------------------------------------------------------------------------------------
// 12-14: PINGREQ, PINGRESP, DISCONNECT (§3.12-3.14)

TEST(MqttConformance, Mqtt12PingreqIsTwoBytes) {
  // §3.12 ([MQTT-3.12.4-1]: the session answers with PINGRESP).
  EXPECT_TRUE(receive(wire("C0 00")));
  EXPECT_EQ(error_of("C0 01 00"), errc::malformed_packet);
}

TEST(MqttConformance, Mqtt13PingrespIsTwoBytes) {
  // §3.13
  EXPECT_EQ(encoded(pingresp{}), wire("D0 00"));
}

TEST(MqttConformance, Mqtt14DisconnectReservedBitsMustBeZero) {
  // [MQTT-3.14.1-1]
  EXPECT_TRUE(receive(wire("E0 00")));
  EXPECT_EQ(error_of("E1 00"), errc::reserved_flags_set);
  EXPECT_EQ(error_of("E8 00"), errc::reserved_flags_set);
}

// ---------------------------------------------------------------------------------------------
// 15: topic names and filters (§4.7)

TEST(MqttConformance, Mqtt15TopicWildcardsOnlyInFilters) {
  // [MQTT-4.7.1-1]
  EXPECT_TRUE(valid_topic_filter("a/+/#"));
  EXPECT_FALSE(valid_topic_name("a/+/#"));
  EXPECT_EQ(error_of("30 07 00 05 'a/+/#'"), errc::invalid_topic);
}

TEST(MqttConformance, Mqtt15TopicMultiLevelWildcardIsLastAndAlone) {
  // [MQTT-4.7.1-2]
  EXPECT_EQ(error_of("82 0A 00 01 00 05 'a/#/b' 00"), errc::invalid_topic_filter);
  EXPECT_EQ(error_of("82 08 00 01 00 03 'a/#' 00").value(), 0);
  EXPECT_EQ(error_of("82 07 00 01 00 02 'a#' 00"), errc::invalid_topic_filter);
}

TEST(MqttConformance, Mqtt15TopicSingleLevelWildcardOccupiesWholeLevel) {
  // [MQTT-4.7.1-3]
  EXPECT_EQ(error_of("82 08 00 01 00 03 'a/+' 00").value(), 0);
  EXPECT_EQ(error_of("82 09 00 01 00 04 'a/b+' 00"), errc::invalid_topic_filter);
  EXPECT_EQ(error_of("A2 06 00 01 00 02 '+a'"), errc::invalid_topic_filter);
}

TEST(MqttConformance, Mqtt15TopicDollarTopicsAreNotMatchedByLeadingWildcards) {
  // [MQTT-4.7.2-1]
  EXPECT_FALSE(topic_matches("#", "$SYS/x"));
  EXPECT_FALSE(topic_matches("+/x", "$SYS/x"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/x"));
}

TEST(MqttConformance, Mqtt15TopicNamesAndFiltersAreAtLeastOneCharacter) {
  // [MQTT-4.7.3-1]
  EXPECT_EQ(error_of("30 02 00 00"), errc::invalid_topic);
  EXPECT_EQ(error_of("82 05 00 01 00 00 00"), errc::invalid_topic_filter);
}

TEST(MqttConformance, Mqtt15TopicNamesAndFiltersHaveNoNullCharacter) {
  // [MQTT-4.7.3-2]
  EXPECT_FALSE(valid_topic_name(std::string("a\0", 2)));
  EXPECT_FALSE(valid_topic_filter(std::string("a\0", 2)));
}

TEST(MqttConformance, Mqtt15TopicNamesAndFiltersAreAtMost65535Bytes) {
  // [MQTT-4.7.3-3]
  EXPECT_TRUE(valid_topic_name(std::string(65535, 'a')));
  EXPECT_FALSE(valid_topic_name(std::string(65536, 'a')));
  publish p;
  p.topic.assign(65535, 'a');
  const auto r = receive(encoded(p));
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<publish>(*r).topic.size(), 65535u);
}

TEST(MqttConformance, Mqtt15TopicMatchingDoesNotNormalise) {
  // [MQTT-4.7.3-4] [MQTT-3.3.2-3]: byte-for-byte levels, no case folding.
  EXPECT_FALSE(topic_matches("ACCOUNTS", "Accounts"));
  EXPECT_FALSE(topic_matches("a/\xC3\xA9", "a/e\xCC\x81")); // é precomposed vs combining
  EXPECT_TRUE(topic_matches("a/\xC3\xA9", "a/\xC3\xA9"));
}

} // namespace
} // namespace outpost::mqtt
