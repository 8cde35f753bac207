#include "protocols/transport/stream_server.hpp"

#include "protocols/transport/certificates.hpp"
#include "protocols/transport/stream_client.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

namespace outpost::transport {
namespace {

using namespace std::chrono_literals;

// The test clients write through OpenSSL's socket BIO (write(2)); a server that closes first
// must fail the test's expectation, not kill the test binary.
const bool sigpipe_ignored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

constexpr auto event_timeout = 10s;

unsigned short port_of(const std::string& bound_address) {
  return static_cast<unsigned short>(std::stoi(bound_address.substr(bound_address.rfind(':') + 1)));
}

std::string read_text(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Connects a blocking IPv4 socket to 127.0.0.1:`port` with a 5 s receive timeout; -1 on error.
int connect_tcp(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

/// A plain TCP client on POSIX sockets.
class tcp_client {
public:
  explicit tcp_client(unsigned short port) : fd_(connect_tcp(port)) {}
  ~tcp_client() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  tcp_client(const tcp_client&) = delete;
  tcp_client& operator=(const tcp_client&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool send(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      const auto n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// Exactly `n` bytes, or fewer if the connection ends or 5 s pass without data.
  std::string read_exact(std::size_t n) {
    std::string out;
    char buffer[65536];
    while (out.size() < n) {
      const auto got = ::recv(fd_, buffer, std::min(sizeof buffer, n - out.size()), 0);
      if (got <= 0) {
        break;
      }
      out.append(buffer, static_cast<std::size_t>(got));
    }
    return out;
  }

  /// True when the server closes (EOF or reset) within 5 s, discarding anything before it.
  bool wait_closed() {
    char buffer[4096];
    for (;;) {
      const auto got = ::recv(fd_, buffer, sizeof buffer, 0);
      if (got == 0 || (got < 0 && errno == ECONNRESET)) {
        return true;
      }
      if (got < 0) {
        return false; // timeout
      }
    }
  }

private:
  int fd_;
};

struct tls_client_options {
  std::string ca;                        ///< trusted CA file
  const tls_files* cert = nullptr;       ///< client certificate to present
  int max_version = 0;                   ///< e.g. TLS1_2_VERSION; 0 = OpenSSL's default
  bool legacy = false;                   ///< allow TLS 1.0/1.1 (security level 0)
  std::string verify_host = "localhost"; ///< checked against the server certificate's SAN
  bool verify_ip = false;                ///< check 127.0.0.1 instead of a name
};

/// A blocking TLS client on OpenSSL directly (no code shared with the server), verifying the
/// server's certificate against the given CA and name.
class tls_client {
public:
  tls_client(unsigned short port, const tls_client_options& options) : tcp_(port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (options.legacy) {
      SSL_CTX_set_security_level(ctx_, 0);
      SSL_CTX_set_cipher_list(ctx_, "DEFAULT:@SECLEVEL=0");
      SSL_CTX_set_min_proto_version(ctx_, TLS1_VERSION);
    }
    if (options.max_version != 0) {
      SSL_CTX_set_max_proto_version(ctx_, options.max_version);
    }
    SSL_CTX_load_verify_locations(ctx_, options.ca.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (options.cert) {
      SSL_CTX_use_certificate_file(ctx_, options.cert->cert.c_str(), SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(ctx_, options.cert->key.c_str(), SSL_FILETYPE_PEM);
    }
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, tcp_.fd());
    if (options.verify_ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    } else {
      SSL_set_tlsext_host_name(ssl_, options.verify_host.c_str());
      SSL_set1_host(ssl_, options.verify_host.c_str());
    }
  }
  ~tls_client() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
  }
  tls_client(const tls_client&) = delete;
  tls_client& operator=(const tls_client&) = delete;

  bool handshake() {
    ERR_clear_error();
    if (!tcp_.connected() || SSL_connect(ssl_) != 1) {
      char text[256] = "not connected";
      if (const auto e = ERR_get_error()) {
        ERR_error_string_n(e, text, sizeof text);
      }
      error_ = text;
      ERR_clear_error();
      return false;
    }
    return true;
  }

  const std::string& error() const { return error_; }
  int version() const { return SSL_version(ssl_); }
  /// The subjects of the certificates the server sent, its own first.
  std::vector<std::string> sent_chain() const {
    std::vector<std::string> subjects;
    STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl_);
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      char name[256];
      X509_NAME_oneline(X509_get_subject_name(sk_X509_value(chain, i)), name, sizeof name);
      subjects.emplace_back(name);
    }
    return subjects;
  }

  bool send(const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      std::size_t n = 0;
      if (SSL_write_ex(ssl_, data.data() + sent, data.size() - sent, &n) != 1) {
        ERR_clear_error();
        return false;
      }
      sent += n;
    }
    return true;
  }

  std::string read_exact(std::size_t n) {
    std::string out;
    char buffer[65536];
    while (out.size() < n) {
      std::size_t got = 0;
      if (SSL_read_ex(ssl_, buffer, std::min(sizeof buffer, n - out.size()), &got) != 1) {
        ERR_clear_error();
        break;
      }
      out.append(buffer, got);
    }
    return out;
  }

  /// True when the server closes (close_notify, EOF or reset) within 5 s.
  bool wait_closed() {
    char buffer[4096];
    for (;;) {
      std::size_t got = 0;
      if (SSL_read_ex(ssl_, buffer, sizeof buffer, &got) == 1) {
        continue;
      }
      const int error = SSL_get_error(ssl_, 0);
      ERR_clear_error();
      return error != SSL_ERROR_WANT_READ; // WANT_READ: the receive timeout
    }
  }

private:
  tcp_client tcp_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string error_;
};

/// Everything the server's callbacks did, for the test thread to wait on.
struct events {
  std::mutex mutex;
  std::condition_variable changed;

  template <class Predicate>
  bool wait_for(Predicate predicate) {
    std::unique_lock<std::mutex> lock{mutex};
    return changed.wait_for(lock, event_timeout, predicate);
  }
};

class recording_handler final : public stream_handler {
public:
  recording_handler(std::shared_ptr<stream_connection> connection, events& e, bool echo)
      : connection_(std::move(connection)),
        events_(e),
        echo_(echo) {}

  void on_data(std::string_view bytes) override {
    if (throw_on_data) {
      throw std::runtime_error{"handler bug"};
    }
    {
      std::lock_guard<std::mutex> lock{events_.mutex};
      data_.append(bytes);
    }
    if (echo_) {
      connection_->send(std::string{bytes});
    }
    if (on_data_hook) {
      on_data_hook();
    }
    events_.changed.notify_all();
  }

  void on_closed(std::error_code ec) override {
    {
      std::lock_guard<std::mutex> lock{events_.mutex};
      ++closed_;
      close_error_ = ec;
    }
    events_.changed.notify_all();
  }

  // Read under events::mutex (or after the events they depend on).
  std::string data_;
  int closed_ = 0;
  std::error_code close_error_;
  std::function<void()> on_data_hook;
  std::atomic<bool> throw_on_data{false};

  const std::shared_ptr<stream_connection> connection_;

private:
  events& events_;
  const bool echo_;
};

class StreamServerTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    char pattern[] = "/tmp/outpost-stream-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = new std::string{pattern};
    std::string why;
    auto files = ensure_edge_ca(*dir_ + "/ca", "localhost", why);
    ASSERT_TRUE(files) << why;
    server_files_ = new tls_files{*files};
    ca_signer_ = new tls_files{files->ca, *dir_ + "/ca/edge-ca.key.pem", {}};
  }

  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete server_files_;
    delete ca_signer_;
  }

  void TearDown() override {
    if (server_) {
      server_->stop();
      server_.reset();
    }
  }

  /// Starts a server on 127.0.0.1:0 whose connections get a recording (optionally echoing)
  /// handler; `on_accept` may adjust each connection first (or refuse it: return false).
  void start(bool tls, bool echo = true, std::function<bool(stream_connection&)> on_accept = {},
             stream_options options = {}) {
    options.address = "127.0.0.1:0";
    options.tls = tls ? server_files_ : nullptr;
    std::string why;
    auto server = stream_server::start(
        io_, options,
        [this, echo, on_accept](
            std::shared_ptr<stream_connection> connection) -> std::shared_ptr<stream_handler> {
          if (on_accept && !on_accept(*connection)) {
            return nullptr;
          }
          auto handler = std::make_shared<recording_handler>(connection, events_, echo);
          {
            std::lock_guard<std::mutex> lock{events_.mutex};
            handlers_.push_back(handler);
          }
          events_.changed.notify_all();
          return handler;
        },
        why);
    ASSERT_TRUE(server) << server.error().message() << ": " << why;
    server_ = std::move(*server);
    port_ = port_of(server_->bound_address());
  }

  tls_client_options client_options(const tls_files* cert = nullptr) const {
    tls_client_options o;
    o.ca = server_files_->ca;
    o.cert = cert;
    return o;
  }

  std::shared_ptr<recording_handler> handler(std::size_t i) {
    std::lock_guard<std::mutex> lock{events_.mutex};
    return i < handlers_.size() ? handlers_[i] : nullptr;
  }

  std::size_t handler_count() {
    std::lock_guard<std::mutex> lock{events_.mutex};
    return handlers_.size();
  }

  bool wait_for_handlers(std::size_t n) {
    return events_.wait_for([&] { return handlers_.size() >= n; });
  }

  bool wait_for_connection_count(std::size_t n) {
    // connection_count() has no event of its own; its changes follow socket events that the
    // test has already awaited, so a short poll settles it.
    const auto deadline = std::chrono::steady_clock::now() + event_timeout;
    while (server_->connection_count() != n) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  std::string received(std::size_t i) {
    std::lock_guard<std::mutex> lock{events_.mutex};
    return handlers_.at(i)->data_;
  }

  static std::string* dir_;
  static tls_files* server_files_;
  static tls_files* ca_signer_;

  io_runner io_{2};
  events events_;
  std::vector<std::shared_ptr<recording_handler>> handlers_; // events_.mutex
  std::unique_ptr<stream_server> server_;
  unsigned short port_ = 0;
};

std::string* StreamServerTest::dir_ = nullptr;
tls_files* StreamServerTest::server_files_ = nullptr;
tls_files* StreamServerTest::ca_signer_ = nullptr;

TEST_F(StreamServerTest, EchoesOverPlainTcp) {
  start(false);
  tcp_client client{port_};
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.send("hello over tcp"));
  EXPECT_EQ(client.read_exact(14), "hello over tcp");

  auto h = handler(0);
  ASSERT_TRUE(h);
  EXPECT_GE(h->connection_->id(), 1u);
  EXPECT_EQ(h->connection_->peer_address().rfind("127.0.0.1:", 0), 0u)
      << h->connection_->peer_address();
  EXPECT_FALSE(h->connection_->peer_cert());
  EXPECT_EQ(server_->connection_count(), 1u);
}

TEST_F(StreamServerTest, EchoesOverTlsVerifiedForLocalhostAnd127001) {
  start(true);
  tls_client by_name{port_, client_options()};
  ASSERT_TRUE(by_name.handshake()) << by_name.error();
  EXPECT_EQ(by_name.version(), TLS1_3_VERSION);
  ASSERT_TRUE(by_name.send("hello over tls"));
  EXPECT_EQ(by_name.read_exact(14), "hello over tls");

  auto by_ip_options = client_options();
  by_ip_options.verify_ip = true;
  tls_client by_ip{port_, by_ip_options};
  ASSERT_TRUE(by_ip.handshake()) << by_ip.error();
  ASSERT_TRUE(by_ip.send("by ip"));
  EXPECT_EQ(by_ip.read_exact(5), "by ip");

  // The check is real: another name fails the client's verification.
  auto wrong_options = client_options();
  wrong_options.verify_host = "not-this-host.example";
  tls_client wrong{port_, wrong_options};
  EXPECT_FALSE(wrong.handshake());
}

TEST_F(StreamServerTest, SendsItsCertificateWithTheIssuersFromTheTrustStore) {
  // The certificate file holds the leaf alone; the chain comes from the CA file, built once at
  // start rather than in every handshake. Two handshakes send the same two certificates.
  start(true);
  std::vector<std::string> first;
  for (int i = 0; i < 2; ++i) {
    tls_client client{port_, client_options()};
    ASSERT_TRUE(client.handshake()) << client.error();
    const auto chain = client.sent_chain();
    ASSERT_EQ(chain.size(), 2u);
    EXPECT_NE(chain[0], chain[1]);
    if (i == 0) {
      first = chain;
    } else {
      EXPECT_EQ(chain, first);
    }
  }
}

TEST_F(StreamServerTest, AcceptsTls12) {
  start(true);
  auto options = client_options();
  options.max_version = TLS1_2_VERSION;
  tls_client client{port_, options};
  ASSERT_TRUE(client.handshake()) << client.error();
  EXPECT_EQ(client.version(), TLS1_2_VERSION);
  ASSERT_TRUE(client.send("twelve"));
  EXPECT_EQ(client.read_exact(6), "twelve");
}

TEST_F(StreamServerTest, RefusesTls11) {
  start(true);
  auto options = client_options();
  options.legacy = true;
  options.max_version = TLS1_1_VERSION;
  tls_client client{port_, options};
  ASSERT_FALSE(client.handshake());
  // The client offered TLS 1.1 and the server answered with a protocol_version alert.
  EXPECT_NE(client.error().find("protocol version"), std::string::npos) << client.error();
  EXPECT_TRUE(wait_for_connection_count(0));
  EXPECT_FALSE(handler(0)) << "accept_fn must not see a failed handshake";
}

TEST_F(StreamServerTest, ReportsClientCertificates) {
  start(true);
  std::string why;
  auto self_signed = make_client_certificate(*dir_ + "/clients", "device-self", nullptr, why);
  ASSERT_TRUE(self_signed) << why;
  auto ca_signed = make_client_certificate(*dir_ + "/clients", "device-ca", ca_signer_, why);
  ASSERT_TRUE(ca_signed) << why;

  for (const int max_version : {0, TLS1_2_VERSION}) {
    SCOPED_TRACE(max_version == 0 ? "TLS 1.3" : "TLS 1.2");
    const std::size_t first = handler_count();

    tls_client none{port_, client_options()};
    ASSERT_TRUE(none.handshake()) << none.error();
    auto self_options = client_options(&*self_signed);
    self_options.max_version = max_version;
    tls_client self{port_, self_options};
    ASSERT_TRUE(self.handshake()) << self.error() << " (a self-signed certificate must not fail)";
    auto ca_options = client_options(&*ca_signed);
    ca_options.max_version = max_version;
    tls_client by_ca{port_, ca_options};
    ASSERT_TRUE(by_ca.handshake()) << by_ca.error();
    // Handlers are created in handshake order only per connection; find them by CN.
    ASSERT_TRUE(wait_for_handlers(first + 3));

    std::shared_ptr<recording_handler> no_cert, self_cert, ca_cert;
    for (std::size_t i = first; i < first + 3; ++i) {
      auto h = handler(i);
      const auto& peer = h->connection_->peer_cert();
      if (!peer) {
        no_cert = h;
      } else if (peer->subject_cn == "device-self") {
        self_cert = h;
      } else if (peer->subject_cn == "device-ca") {
        ca_cert = h;
      }
    }
    ASSERT_TRUE(no_cert && self_cert && ca_cert);

    const auto self_thumbprint = certificate_thumbprint(read_text(self_signed->cert));
    ASSERT_TRUE(self_thumbprint);
    const auto& self_peer = *self_cert->connection_->peer_cert();
    EXPECT_EQ(self_peer.thumbprint, *self_thumbprint);
    EXPECT_EQ(*certificate_thumbprint(self_peer.der), *self_thumbprint);
    EXPECT_FALSE(self_peer.chain_verified);

    const auto ca_thumbprint = certificate_thumbprint(read_text(ca_signed->cert));
    ASSERT_TRUE(ca_thumbprint);
    const auto& ca_peer = *ca_cert->connection_->peer_cert();
    EXPECT_EQ(ca_peer.thumbprint, *ca_thumbprint);
    EXPECT_TRUE(ca_peer.chain_verified);

    ASSERT_TRUE(self.send("still works"));
    EXPECT_EQ(self.read_exact(11), "still works");
  }
}

TEST_F(StreamServerTest, GarbageInsteadOfClientHelloClosesOnlyThatConnection) {
  start(true);
  tls_client good{port_, client_options()};
  ASSERT_TRUE(good.handshake()) << good.error();

  tcp_client garbage{port_};
  ASSERT_TRUE(garbage.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(garbage.wait_closed());

  ASSERT_TRUE(good.send("after garbage"));
  EXPECT_EQ(good.read_exact(13), "after garbage");
  EXPECT_TRUE(wait_for_connection_count(1));
  EXPECT_EQ(handler_count(), 1u);
}

TEST_F(StreamServerTest, HandshakeTimeoutClosesASilentClient) {
  stream_options options;
  options.handshake_timeout = 1s;
  start(true, true, {}, options);
  const auto began = std::chrono::steady_clock::now();
  tcp_client silent{port_};
  ASSERT_TRUE(silent.connected());
  EXPECT_TRUE(silent.wait_closed());
  const auto waited = std::chrono::steady_clock::now() - began;
  EXPECT_GE(waited, 900ms);
  EXPECT_LT(waited, 4s);
  EXPECT_TRUE(wait_for_connection_count(0));
  EXPECT_FALSE(handler(0));
}

TEST_F(StreamServerTest, PauseReadingStopsOnDataUntilResumed) {
  start(false, false, [](stream_connection& c) {
    c.pause_reading();
    return true;
  });
  tcp_client client{port_};
  ASSERT_TRUE(wait_for_handlers(1));
  ASSERT_EQ(::fcntl(client.fd(), F_SETFL, ::fcntl(client.fd(), F_GETFL) | O_NONBLOCK), 0);

  // Write until the client's writes back up: the kernel buffers on both sides are full because
  // the server does not read.
  const std::string chunk(64 * 1024, 'x');
  std::size_t sent = 0;
  for (;;) {
    const auto n = ::send(client.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    ASSERT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << std::strerror(errno);
    pollfd p{client.fd(), POLLOUT, 0};
    if (::poll(&p, 1, 200) == 0) {
      break; // no room for 200 ms: backed up
    }
  }
  EXPECT_GT(sent, 0u);
  EXPECT_EQ(received(0).size(), 0u) << "on_data while paused";

  handler(0)->connection_->resume_reading();
  EXPECT_TRUE(events_.wait_for([&] { return handlers_[0]->data_.size() == sent; }))
      << received(0).size() << " of " << sent;
}

TEST_F(StreamServerTest, PauseAndResumeTakeEffectMidStream) {
  start(false, false);
  tcp_client client{port_};
  ASSERT_TRUE(wait_for_handlers(1));
  auto h = handler(0);
  ASSERT_TRUE(client.send("first"));
  ASSERT_TRUE(events_.wait_for([&] { return h->data_ == "first"; }));
  h->connection_->pause_reading();
  // The pause is an atomic flag read before every read: anything sent now stays in the kernel.
  ASSERT_TRUE(client.send("second"));
  std::this_thread::sleep_for(100ms); // nothing to await: proving an absence
  EXPECT_EQ(received(0), "first");
  h->connection_->resume_reading();
  EXPECT_TRUE(events_.wait_for([&] { return h->data_ == "firstsecond"; })) << received(0);
}

/// 10k small sends from a thread that is not an I/O thread arrive complete and in order.
template <class Client>
void check_coalesced_sends(Client& client, stream_connection& connection) {
  constexpr int count = 10000;
  std::string expected;
  for (int i = 0; i < count; ++i) {
    expected += "message " + std::to_string(i) + "\n";
  }
  std::size_t max_queued = 0;
  std::thread sender{[&] {
    for (int i = 0; i < count; ++i) {
      max_queued = std::max(max_queued, connection.send("message " + std::to_string(i) + "\n"));
    }
  }};
  const auto got = client.read_exact(expected.size());
  sender.join();
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected) << "out of order or corrupted";
  EXPECT_GT(max_queued, 0u);
}

TEST_F(StreamServerTest, CoalescedSendsArriveInOrderOverTcp) {
  start(false, false);
  tcp_client client{port_};
  ASSERT_TRUE(wait_for_handlers(1));
  check_coalesced_sends(client, *handler(0)->connection_);
}

TEST_F(StreamServerTest, CoalescedSendsArriveInOrderOverTls) {
  start(true, false);
  tls_client client{port_, client_options()};
  ASSERT_TRUE(client.handshake()) << client.error();
  ASSERT_TRUE(wait_for_handlers(1));
  check_coalesced_sends(client, *handler(0)->connection_);
}

TEST_F(StreamServerTest, LargeSendsArriveWhole) {
  start(true, false);
  tls_client client{port_, client_options()};
  ASSERT_TRUE(client.handshake()) << client.error();
  ASSERT_TRUE(wait_for_handlers(1));
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<char>(i * 7 + i / 4096);
  }
  auto& connection = *handler(0)->connection_;
  connection.send("head");
  connection.send(big);
  connection.send("tail");
  const auto got = client.read_exact(big.size() + 8);
  EXPECT_TRUE(got == "head" + big + "tail");
}

TEST_F(StreamServerTest, GracefulCloseFlushesQueuedBytesFirst) {
  const std::string payload(1024 * 1024, 'p');
  stream_options options;
  options.close_timeout = 60s; // longer than event_timeout: on_closed must come from the peer
  start(
      true, false,
      [&](stream_connection& c) {
        c.send(payload);
        c.close(true);
        EXPECT_EQ(c.send("dropped"), 0u) << "sends after close are dropped";
        return true;
      },
      options);
  {
    tls_client client{port_, client_options()};
    ASSERT_TRUE(client.handshake()) << client.error();
    EXPECT_EQ(client.read_exact(payload.size()).size(), payload.size());
    EXPECT_TRUE(client.wait_closed()) << "close_notify after the payload";
    // Leaving the scope closes the client's socket: the server stops lingering.
  }
  ASSERT_TRUE(wait_for_handlers(1));
  auto h = handler(0);
  ASSERT_TRUE(events_.wait_for([&] { return h->closed_ == 1; }));
  EXPECT_FALSE(h->close_error_) << h->close_error_.message();
}

TEST_F(StreamServerTest, PeerCloseAndImmediateCloseAreReportedOnce) {
  start(false);
  {
    tcp_client client{port_};
    ASSERT_TRUE(wait_for_handlers(1));
  }
  auto first = handler(0);
  ASSERT_TRUE(events_.wait_for([&] { return first->closed_ == 1; }));
  EXPECT_EQ(first->close_error_, stream_errc::peer_closed);

  tcp_client client{port_};
  ASSERT_TRUE(wait_for_handlers(2));
  auto second = handler(1);
  second->connection_->close(false);
  second->connection_->close(true); // idempotent
  EXPECT_TRUE(client.wait_closed());
  ASSERT_TRUE(events_.wait_for([&] { return second->closed_ == 1; }));
  EXPECT_FALSE(second->close_error_);
  EXPECT_TRUE(wait_for_connection_count(0));
  EXPECT_EQ(first->closed_, 1);
  EXPECT_EQ(second->closed_, 1);
}

TEST_F(StreamServerTest, RefusedAndThrowingHandlersCloseTheirConnection) {
  start(false, false, [](stream_connection& c) { return c.id() != 1; });
  tcp_client refused{port_};
  EXPECT_TRUE(refused.wait_closed());

  tcp_client throwing{port_};
  ASSERT_TRUE(wait_for_handlers(1));
  auto h = handler(0);
  h->throw_on_data = true;
  ASSERT_TRUE(throwing.send("boom"));
  EXPECT_TRUE(throwing.wait_closed());
  ASSERT_TRUE(events_.wait_for([&] { return h->closed_ == 1; }));
  EXPECT_EQ(h->close_error_, stream_errc::handler_failed);
}

TEST_F(StreamServerTest, ConnectionsAboveTheLimitAreClosed) {
  stream_options options;
  options.max_connections = 2;
  start(false, true, {}, options);
  tcp_client a{port_};
  tcp_client b{port_};
  ASSERT_TRUE(wait_for_handlers(2));
  tcp_client c{port_};
  EXPECT_TRUE(c.wait_closed());
  ASSERT_TRUE(a.send("a"));
  EXPECT_EQ(a.read_exact(1), "a");
}

TEST_F(StreamServerTest, StopClosesEverythingAndCallsOnClosedOncePerConnection) {
  start(true);
  std::vector<std::unique_ptr<tls_client>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<tls_client>(port_, client_options()));
    ASSERT_TRUE(clients.back()->handshake()) << clients.back()->error();
  }
  tcp_client in_handshake{port_}; // never sends a ClientHello
  ASSERT_TRUE(wait_for_handlers(3));
  ASSERT_TRUE(wait_for_connection_count(4));

  server_->stop();
  EXPECT_EQ(server_->connection_count(), 0u);
  for (std::size_t i = 0; i < 3; ++i) {
    auto h = handler(i);
    std::lock_guard<std::mutex> lock{events_.mutex};
    EXPECT_EQ(h->closed_, 1) << "stop() returns after on_closed";
    EXPECT_EQ(h->close_error_, stream_errc::server_stopped);
  }
  for (auto& client : clients) {
    EXPECT_TRUE(client->wait_closed());
  }
  EXPECT_TRUE(in_handshake.wait_closed());
  EXPECT_FALSE(tcp_client{port_}.connected()) << "the listener is closed";
  EXPECT_EQ(handler(0)->connection_->send("late"), 0u);

  server_->stop(); // idempotent
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(handler(i)->closed_, 1);
  }
}

TEST_F(StreamServerTest, StopFromInsideAHandlerDoesNotDeadlock) {
  start(false, false);
  tcp_client client{port_};
  ASSERT_TRUE(wait_for_handlers(1));
  auto h = handler(0);
  h->on_data_hook = [this] {
    server_->stop();
  };
  ASSERT_TRUE(client.send("stop"));
  ASSERT_TRUE(events_.wait_for([&] { return h->closed_ == 1; }));
  EXPECT_EQ(h->close_error_, stream_errc::server_stopped);
  EXPECT_TRUE(client.wait_closed());
}

TEST_F(StreamServerTest, StartReportsBadAddressesAndTlsFiles) {
  stream_options options;
  options.address = "127.0.0.1";
  std::string why;
  auto accept = [](std::shared_ptr<stream_connection>) -> std::shared_ptr<stream_handler> {
    return nullptr;
  };
  auto bad_address = stream_server::start(io_, options, accept, why);
  ASSERT_FALSE(bad_address);
  EXPECT_EQ(bad_address.error(), std::errc::invalid_argument);

  options.address = "127.0.0.1:0";
  const tls_files missing{*dir_ + "/nope.pem", *dir_ + "/nope.key.pem", {}};
  options.tls = &missing;
  auto bad_files = stream_server::start(io_, options, accept, why);
  ASSERT_FALSE(bad_files);
  EXPECT_EQ(bad_files.error(), std::errc::no_such_file_or_directory);
  EXPECT_NE(why.find("nope.pem"), std::string::npos) << why;

  const tls_files swapped{server_files_->cert, *dir_ + "/ca/edge-ca.key.pem", {}};
  options.tls = &swapped;
  auto mismatch = stream_server::start(io_, options, accept, why);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error(), certificate_errc::key_mismatch);
}

// ---- memory per idle connection (manual) -------------------------------------------------------
// Run with: transport_unit_tests --gtest_also_run_disabled_tests --gtest_filter='*IdleConnection*'
// OUTPOST_RSS_CONNECTIONS=N (default 2000). Each variant runs in a fresh process (so one
// variant's freed heap does not hide the next one's growth), and its clients in a child of that
// process, so the measured RSS is the server's alone.

long rss_kib() {
  std::ifstream status{"/proc/self/status"};
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

/// Bytes malloc has handed out and not taken back (all arenas): RSS minus fragmentation.
long heap_in_use_kib() {
  return static_cast<long>(::mallinfo2().uordblks / 1024);
}

/// The client process: opens `count` connections (TLS unless `plain`, with `cert` if given),
/// writes how many succeeded to `ready`, holds them until `release` is closed, exits.
[[noreturn]] void hold_connections(unsigned short port, int count, bool plain,
                                   const tls_files* cert, int ready, int release) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (cert) {
    SSL_CTX_use_certificate_file(ctx, cert->cert.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx, cert->key.c_str(), SSL_FILETYPE_PEM);
  }
  std::vector<SSL*> held;
  int opened = 0;
  for (int i = 0; i < count; ++i) {
    const int fd = connect_tcp(port);
    if (fd < 0) {
      break;
    }
    if (!plain) {
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, fd);
      if (SSL_connect(ssl) != 1) {
        break;
      }
      held.push_back(ssl);
    }
    ++opened;
  }
  (void)!::write(ready, &opened, sizeof opened);
  char byte = 0;
  (void)!::read(release, &byte, 1);
  std::_Exit(0);
}

/// One variant, in a process of its own: prints the RSS growth per connection; false on failure.
bool measure_idle_connections(const char* name, int count, const tls_files* server_files,
                              const tls_files* client_cert) {
  int to_server[2];
  int to_child[2];
  if (::pipe(to_server) != 0 || ::pipe(to_child) != 0) {
    return false;
  }
  io_runner io{2};
  stream_options options;
  options.address = "127.0.0.1:0";
  options.tls = server_files;
  std::atomic<int> accepted{0};
  struct idle final : stream_handler {
    void on_data(std::string_view) override {}
    void on_closed(std::error_code) override {}
  };
  std::string why;
  auto server = stream_server::start(
      io, options,
      [&](std::shared_ptr<stream_connection>) -> std::shared_ptr<stream_handler> {
        ++accepted;
        return std::make_shared<idle>();
      },
      why);
  if (!server) {
    std::fprintf(stderr, "start: %s\n", why.c_str());
    return false;
  }
  const auto port = port_of((*server)->bound_address());
  // Warm-up, so per-thread buffers and OpenSSL's lazily built tables are not counted.
  {
    tls_client_options warm_options;
    warm_options.ca = server_files ? server_files->ca : std::string{};
    tls_client warm{port, warm_options};
    if (server_files && (!warm.handshake() || !warm.send("x"))) {
      std::fprintf(stderr, "warm-up failed: %s\n", warm.error().c_str());
      return false;
    }
  }
  while ((*server)->connection_count() != 0) {
    std::this_thread::sleep_for(1ms);
  }
  accepted = 0;
  const long before = rss_kib();
  const long heap_before = heap_in_use_kib();
  // posix_spawn would need a helper binary; a forked child only runs the blocking client code
  // above (OpenSSL has no locks held by the I/O threads at this point that it would need).
  const pid_t child = ::fork();
  if (child < 0) {
    return false;
  }
  if (child == 0) {
    ::close(to_child[1]); // only the parent holds the write end, or closing it would not reach us
    hold_connections(port, count, server_files == nullptr, client_cert, to_server[1], to_child[0]);
  }
  int opened = 0;
  const bool reported = ::read(to_server[0], &opened, sizeof opened) == sizeof opened;
  while (reported && accepted.load() < opened) {
    std::this_thread::sleep_for(1ms);
  }
  const long after = rss_kib();
  const long heap_after = heap_in_use_kib();
  std::printf(
      "%s: %d idle connections, RSS %ld -> %ld KiB: %.2f KiB per connection (heap in use "
      "%.2f KiB per connection)\n",
      name, opened, before, after, static_cast<double>(after - before) / std::max(opened, 1),
      static_cast<double>(heap_after - heap_before) / std::max(opened, 1));
  std::fflush(stdout);
  ::close(to_child[1]);
  (*server)->stop();
  int status = 0;
  ::waitpid(child, &status, 0);
  return reported && opened == count;
}

TEST(StreamServerMemory, DISABLED_IdleConnectionRss) {
  const char* env = std::getenv("OUTPOST_RSS_CONNECTIONS");
  const int count = env ? std::atoi(env) : 2000;
  char pattern[] = "/tmp/outpost-rss-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string dir = pattern;
  std::string why;
  auto files = ensure_edge_ca(dir + "/ca", "localhost", why);
  ASSERT_TRUE(files) << why;
  auto client_cert = make_client_certificate(dir + "/clients", "device-rss", nullptr, why);
  ASSERT_TRUE(client_cert) << why;

  struct variant {
    const char* name;
    const tls_files* server;
    const tls_files* client;
  };
  const variant variants[] = {{"plain TCP", nullptr, nullptr},
                              {"TLS 1.3, no client certificate", &*files, nullptr},
                              {"TLS 1.3, self-signed client certificate", &*files, &*client_cert}};
  for (const auto& v : variants) {
    // Forked while this process has no threads (this test runs alone).
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::_Exit(measure_idle_connections(v.name, count, v.server, v.client) ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << v.name;
  }
  std::filesystem::remove_all(dir);
}

} // namespace
} // namespace outpost::transport

// ---- stream_client: the upstream link's outbound connection --------------------------------

namespace outpost::transport {
namespace {

/// Records what a stream_client reports.
struct client_recorder : client_handler {
  std::mutex mutex;
  std::condition_variable changed;
  bool connected = false;
  bool closed = false;
  std::string data;
  std::string why;

  void on_connected() override {
    std::lock_guard<std::mutex> lock{mutex};
    connected = true;
    changed.notify_all();
  }
  void on_data(std::string_view bytes) override {
    std::lock_guard<std::mutex> lock{mutex};
    data.append(bytes);
    changed.notify_all();
  }
  void on_closed(std::error_code, const std::string& reason) override {
    std::lock_guard<std::mutex> lock{mutex};
    closed = true;
    why = reason;
    changed.notify_all();
  }
  template <class Pred>
  bool wait(Pred p) {
    std::unique_lock<std::mutex> lock{mutex};
    return changed.wait_for(lock, std::chrono::seconds(10), p);
  }
};

class StreamClientTest : public StreamServerTest {
protected:
  transport::client_options options(const std::string& name = "localhost") {
    std::string why;
    auto ctx = tls_client_context::create(server_files_->ca, why);
    EXPECT_TRUE(ctx) << why;
    transport::client_options o;
    o.host = "127.0.0.1";
    o.port = port_;
    o.server_name = name;
    o.tls_context = ctx ? *ctx : nullptr;
    return o;
  }
};

TEST_F(StreamClientTest, EchoesOverVerifiedTlsInOrder) {
  start(true);
  auto rec = std::make_shared<client_recorder>();
  auto client = stream_client::start(options(), rec);
  ASSERT_TRUE(rec->wait([&] { return rec->connected || rec->closed; })) << rec->why;
  ASSERT_TRUE(rec->connected) << rec->why;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    auto chunk = "chunk " + std::to_string(i) + std::string(1000, 'x') + ";";
    expected += chunk;
    client->send(chunk);
  }
  ASSERT_TRUE(rec->wait([&] { return rec->data.size() >= expected.size(); }));
  EXPECT_EQ(rec->data, expected);
  client->close();
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
}

TEST_F(StreamClientTest, RefusesAPeerWhoseCertificateNamesAnotherHost) {
  start(true);
  auto rec = std::make_shared<client_recorder>();
  auto client = stream_client::start(options("not-this-host.example"), rec);
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
  EXPECT_FALSE(rec->connected);
  EXPECT_NE(rec->why.find("TLS handshake"), std::string::npos) << rec->why;
  EXPECT_NE(rec->why.find("certificate"), std::string::npos) << rec->why;
}

TEST_F(StreamClientTest, ReportsARefusedConnectionAndThePeerClosing) {
  start(true);
  auto o = options();
  const auto port = port_;
  server_->stop();
  server_.reset();
  o.port = port;
  auto rec = std::make_shared<client_recorder>();
  auto client = stream_client::start(o, rec);
  ASSERT_TRUE(rec->wait([&] { return rec->closed; }));
  EXPECT_FALSE(rec->connected);
  EXPECT_NE(rec->why.find("connecting to 127.0.0.1:"), std::string::npos) << rec->why;

  start(true);
  auto rec2 = std::make_shared<client_recorder>();
  auto client2 = stream_client::start(options(), rec2);
  ASSERT_TRUE(rec2->wait([&] { return rec2->connected; }));
  ASSERT_TRUE(wait_for_handlers(1));
  handler(0)->connection_->close();
  ASSERT_TRUE(rec2->wait([&] { return rec2->closed; }));
  EXPECT_NE(rec2->why.find("closed"), std::string::npos) << rec2->why;
}

} // namespace
} // namespace outpost::transport
