// Issue 11: AMQP peers. Debian's Proton 0.37 aborts the whole process on a transfer that starts
// a delivery without a delivery-id (an assert, PROTON-2853): one frame must cost only its own
// connection, a frame far over the maximum must not be buffered, and each refusal says why.
// Raw frames over TLS, as any peer could send them. (The guard's bound on batched payloads is
// AmqpFrameGuard's: reaching it takes an authenticated link.)

#include "tests/security/daemon_fixture.hpp"
#include "tests/support/tls_http.hpp"

#include <chrono>
#include <fstream>
#include <string>

namespace outpost::test {
namespace {

/// One AMQP frame (doff 2, type 0, channel 0) around `body`.
std::string frame(const std::string& body) {
  const auto size = static_cast<std::uint32_t>(8 + body.size());
  std::string f{static_cast<char>(size >> 24),
                static_cast<char>(size >> 16),
                static_cast<char>(size >> 8),
                static_cast<char>(size),
                '\x02',
                '\x00',
                '\x00',
                '\x00'};
  return f + body;
}

/// A described performative `code` whose list (count `count`) holds `fields`.
std::string performative(std::uint8_t code, std::uint8_t count, const std::string& fields) {
  return std::string{'\x00',
                     '\x53',
                     static_cast<char>(code),
                     '\xc0',
                     static_cast<char>(fields.size() + 1),
                     static_cast<char>(count)}
         + fields;
}

/// RSS bounds are for release builds: under ASan or TSan (shadow memory, ASan's quarantine of
/// freed memory) the daemon's RSS moves by megabytes on its own, as in client_abuse_test.cpp.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::int64_t rss_slack_kib = 1024 * 1024;
#else
constexpr std::int64_t rss_slack_kib = 0;
#endif

const std::string header{"AMQP\x00\x01\x00\x00", 8};
const std::string open_frame = frame(performative(0x10, 1, std::string{"\xa1\x04peer", 6}));
// begin: remote-channel null, next-outgoing-id 0, incoming and outgoing windows 1000
const std::string begin_frame = frame(
    performative(0x11, 4, std::string{"\x40\x43\x70\x00\x00\x03\xe8\x70\x00\x00\x03\xe8", 12}));

const std::string close_frame = frame(std::string{"\x00\x53\x18\x45", 4});

class AmqpAbuse : public daemon_fixture {
protected:
  void SetUp() override {
    daemon_fixture::SetUp();
    start();
    ASSERT_FALSE(amqp_tls_.empty());
    port_ = static_cast<unsigned short>(std::stoi(amqp_tls_.substr(amqp_tls_.rfind(':') + 1)));
    const auto ca = cli({"ca"});
    ASSERT_EQ(ca.code, 0) << ca.err;
    ca_ = (dir_ / "ca.pem").string();
    std::ofstream{ca_} << ca.out;
  }

  /// Everything the hub answers to `writes` over TLS, until it closes.
  std::string exchange(const std::vector<std::string>& writes) {
    return tls_exchange(port_, ca_, writes);
  }

  /// A new connection still gets the hub's protocol header: the hub serves on.
  void expect_serving() {
    const auto answer = exchange({header + open_frame + close_frame});
    ASSERT_GE(answer.size(), 8u);
    EXPECT_EQ(answer.substr(0, 8), header) << "the hub answers a new AMQP connection";
    EXPECT_FALSE(scrape().empty()) << "the daemon is alive";
  }

  unsigned short port_ = 0;
  std::string ca_;
};

TEST_F(AmqpAbuse, ATransferWithoutDeliveryIdClosesOnlyItsConnection) {
  // handle 0, no delivery-id, tag "t", format 0, settled false, more true: PROTON-2853's abort.
  const auto transfer =
      frame(performative(0x14, 6, std::string{"\x43\x40\xa0\x01t\x43\x42\x41", 8}) + "data");
  const auto answer = exchange({header + open_frame + begin_frame + transfer});
  EXPECT_NE(answer.find("delivery-id required on the first transfer of a delivery"),
            std::string::npos)
      << "the close says why: " << answer.size() << " bytes";
  expect_serving();
}

TEST_F(AmqpAbuse, AFrameOverTheMaximumIsRefusedWithoutBeingBuffered) {
  const auto rss_before = daemon_rss_kib();
  // A 4 MiB frame (the hub's max-frame-size is 64 KiB): Proton refuses it by its header.
  const auto head = performative(0x14, 6, std::string{"\x43\x43\xa0\x01t\x43\x42\x42", 8});
  // The hub may close while the frame is still being written: the answer is what it sent.
  const auto answer =
      exchange({header + open_frame + begin_frame, frame(head + std::string(4u << 20, 'x'))});
  EXPECT_NE(answer.find("amqp:connection:framing-error"), std::string::npos)
      << "the close says why: " << answer.size() << " bytes";
  EXPECT_LT(daemon_rss_kib(), rss_before + 2 * 1024 + rss_slack_kib)
      << "the frame was not buffered";
  expect_serving();
}

/// One SASL frame (type 1) around `body`.
std::string sasl_frame(const std::string& body) {
  auto f = frame(body);
  f[5] = '\x01';
  return f;
}

/// `bytes` as an AMQP binary (vbin8 up to 255 bytes, else vbin32).
std::string binary(const std::string& bytes) {
  if (bytes.size() < 256) {
    return std::string{'\xa0', static_cast<char>(bytes.size())} + bytes;
  }
  const auto n = static_cast<std::uint32_t>(bytes.size());
  return std::string{'\xb0', static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)}
         + bytes;
}

/// A performative whose list is encoded list32 (fields of any length).
std::string performative32(std::uint8_t code, std::uint32_t count, const std::string& fields) {
  const auto size = static_cast<std::uint32_t>(fields.size() + 4);
  return std::string{'\x00',
                     '\x53',
                     static_cast<char>(code),
                     '\xd0',
                     static_cast<char>(size >> 24),
                     static_cast<char>(size >> 16),
                     static_cast<char>(size >> 8),
                     static_cast<char>(size),
                     static_cast<char>(count >> 24),
                     static_cast<char>(count >> 16),
                     static_cast<char>(count >> 8),
                     static_cast<char>(count)}
         + fields;
}

TEST_F(AmqpAbuse, TelemetryBuiltAgainstTheDecodersIsRefusedAloneAndTheConnectionGoesOn) {
  // An authenticated device (SASL PLAIN with its SAS token) on its events link sends, raw:
  // a message whose annotation is an array of 2^32-1 nulls in 11 bytes (the hub's own decoder
  // leaves it to Proton's), a message with a list body (IoT Hub takes none), two annotation
  // shapes the decoders read differently, then a good one.
  add_identity("device", "dev1");
  const std::string user = "dev1@sas.localhost";
  const auto sasl_init =
      sasl_frame(performative32(0x41, 2,
                                std::string{"\xa3\x05PLAIN", 7}
                                    + binary(std::string(1, '\0') + user + '\0' + token("dev1"))));
  const std::string address = "/devices/dev1/messages/events";
  const auto target = std::string{"\x00\x53\x29\xc0", 4} + static_cast<char>(address.size() + 3)
                      + '\x01' + '\xa1' + static_cast<char>(address.size()) + address;
  // attach: name "l", handle 0, role sender, settle modes null, source (empty), target,
  // unsettled null, incomplete-unsettled false, initial-delivery-count 0
  const auto attach =
      frame(performative32(0x12, 10,
                           std::string{"\xa1\x01l\x43\x42\x40\x40\x00\x53\x28\x45", 11} + target
                               + std::string{"\x40\x42\x43", 3}));
  const auto transfer = [](char id, char tag, const std::string& payload) {
    // handle 0, delivery-id, tag, format 0, settled false
    return frame(
        performative(0x14, 5, std::string{'\x43', '\x52', id, '\xa0', '\x01', tag, '\x43', '\x42'})
        + payload);
  };
  const std::string huge_array(
      "\x00\x53\x72\xc1\x0e\x02\xa3\x01k\xf0\x00\x00\x00\x05"
      "\xff\xff\xff\xff\x40\x00\x53\x75\xa0\x01x",
      25);
  const std::string list_body("\x00\x53\x77\xc0\x03\x02\x41\x42", 8);
  // Two annotation shapes the decoder once took where Proton's path disagrees (the fuzzer's
  // finds): a value described by an empty array, and a described value described again.
  const std::string array_descriptor(
      "\x00\x53\x72\xc1\x0b\x02\xa3\x01k\x00\xe0\x02\x00\x53\x53\x31"
      "\x00\x53\x75\xa0\x01x",
      23);
  const std::string described_described(
      "\x00\x53\x72\xc1\x0f\x02\xa3\x01k\x00\xa3\x01h\x00\xa3\x01g\xa1\x01v"
      "\x00\x53\x75\xa0\x01x",
      26);
  const std::string good("\x00\x53\x75\xa0\x02ok", 7);
  const auto start = std::chrono::steady_clock::now();
  // The transfers wait for the hub's begin and credit (its session window is 0 before).
  const auto answer =
      tls_exchange(port_, ca_,
                   {std::string{"AMQP\x03\x01\x00\x00", 8} + sasl_init + header + open_frame
                        + begin_frame + attach,
                    transfer('\x00', 'a', huge_array) + transfer('\x01', 'b', list_body)
                        + transfer('\x02', 'c', array_descriptor)
                        + transfer('\x03', 'd', described_described) + transfer('\x04', 'e', good),
                    close_frame},
                   "localhost", std::chrono::milliseconds{300});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10))
      << "neither message held the connection's thread";
  EXPECT_NE(answer.find("amqp:decode-error"), std::string::npos)
      << "the list body is rejected, saying why: " << answer.size() << " bytes; "
      << daemon_->stderr_text();
  // accepted (described 0x24) for the good message, on the same connection
  EXPECT_NE(answer.find(std::string{"\x00\x53\x24", 3}), std::string::npos)
      << "the connection went on and took the good message";
  EXPECT_EQ(answer.find("amqp:unauthorized-access"), std::string::npos);
  expect_serving();
}

} // namespace
} // namespace outpost::test
