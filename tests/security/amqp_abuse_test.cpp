// Issue 11: AMQP peers. Debian's Proton 0.37 aborts the whole process on a transfer that starts
// a delivery without a delivery-id (an assert, PROTON-2853), and the frame guard in front of it
// keeps the payload of batched deliveries (Proton would drop all but their last section): one
// frame must cost only its own connection, a huge batched delivery must not grow the daemon,
// and each refusal says why. Raw frames over TLS, as any peer could send them.

#include "tests/security/daemon_fixture.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace outpost::test {
namespace {

using namespace std::chrono_literals;

/// A blocking TLS client (the hub's certificate is not checked: the peer is the attacker).
class raw_tls {
public:
  explicit raw_tls(const std::string& address) {
    const auto colon = address.rfind(':');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1))));
    ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &sa.sin_addr);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      return;
    }
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_);
    ok_ = SSL_connect(ssl_.get()) == 1;
  }
  ~raw_tls() {
    ssl_.reset();
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  bool ok() const { return ok_; }
  bool send(const std::string& bytes) {
    return SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size()))
           == static_cast<int>(bytes.size());
  }
  /// What one read returns ("" on close or after the 5 s receive timeout).
  std::string read_some() {
    char buf[4096];
    const int n = SSL_read(ssl_.get(), buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string{};
  }
  /// Everything the hub sends until it closes (or `limit` passes).
  std::string read_all(std::chrono::milliseconds limit = 10s) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    while (std::chrono::steady_clock::now() < until) {
      const int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

private:
  struct ctx_free {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  struct ssl_free {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  int fd_ = -1;
  std::unique_ptr<SSL_CTX, ctx_free> ctx_;
  std::unique_ptr<SSL, ssl_free> ssl_;
  bool ok_ = false;
};

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

/// RSS bounds are for release builds: under ASan (shadow memory, a quarantine of freed memory)
/// the daemon's RSS moves by megabytes on its own, as in client_abuse_test.cpp.
#ifdef __SANITIZE_ADDRESS__
constexpr std::int64_t rss_slack_kib = 1024 * 1024;
#else
constexpr std::int64_t rss_slack_kib = 0;
#endif

const std::string header{"AMQP\x00\x01\x00\x00", 8};
const std::string open_frame = frame(performative(0x10, 1, std::string{"\xa1\x04peer", 6}));
// begin: remote-channel null, next-outgoing-id 0, incoming and outgoing windows 1000
const std::string begin_frame = frame(
    performative(0x11, 4, std::string{"\x40\x43\x70\x00\x00\x03\xe8\x70\x00\x00\x03\xe8", 12}));

class AmqpAbuse : public daemon_fixture {
protected:
  void SetUp() override {
    daemon_fixture::SetUp();
    start();
    ASSERT_FALSE(amqp_tls_.empty());
  }

  /// A new connection still gets the hub's protocol header: the hub serves on.
  void expect_serving() {
    raw_tls probe{amqp_tls_};
    ASSERT_TRUE(probe.ok());
    ASSERT_TRUE(probe.send(header));
    std::string first;
    for (int i = 0; i < 8 && first.size() < 8; ++i) {
      first += probe.read_some();
    }
    ASSERT_GE(first.size(), 8u);
    EXPECT_EQ(first.substr(0, 8), header) << "the hub answers a new AMQP connection";
    EXPECT_FALSE(scrape().empty()) << "the daemon is alive";
  }
};

TEST_F(AmqpAbuse, ATransferWithoutDeliveryIdClosesOnlyItsConnection) {
  raw_tls c{amqp_tls_};
  ASSERT_TRUE(c.ok());
  // handle 0, no delivery-id, tag "t", format 0, settled false, more true: PROTON-2853's abort.
  const auto transfer =
      frame(performative(0x14, 6, std::string{"\x43\x40\xa0\x01t\x43\x42\x41", 8}) + "data");
  ASSERT_TRUE(c.send(header + open_frame + begin_frame + transfer));
  const auto answer = c.read_all();
  EXPECT_NE(answer.find("delivery-id required on the first transfer of a delivery"),
            std::string::npos)
      << "the close says why: " << answer.size() << " bytes";
  expect_serving();
}

TEST_F(AmqpAbuse, AFrameOverTheMaximumIsRefusedWithoutBeingBuffered) {
  const auto rss_before = daemon_rss_kib();
  // A 4 MiB frame (the hub's max-frame-size is 64 KiB): Proton refuses it by its header.
  const auto head = performative(0x14, 6, std::string{"\x43\x43\xa0\x01t\x43\x42\x42", 8});
  raw_tls c{amqp_tls_};
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send(header + open_frame + begin_frame));
  c.send(frame(head + std::string(4u << 20, 'x'))); // the hub may close while this is written
  const auto answer = c.read_all();
  EXPECT_NE(answer.find("amqp:connection:framing-error"), std::string::npos)
      << "the close says why: " << answer.size() << " bytes";
  EXPECT_LT(daemon_rss_kib(), rss_before + 2 * 1024 + rss_slack_kib)
      << "the frame was not buffered";
  expect_serving();
}

} // namespace
} // namespace outpost::test
