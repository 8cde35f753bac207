#include "protocols/transport/http_server.hpp"

#include "protocols/transport/certificates.hpp"
#include "protocols/transport/http_client.hpp"
#include "protocols/transport/tls_context.hpp"
#include "tests/support/tls_http.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

namespace outpost::transport {
namespace {

unsigned short port_of(const std::string& bound_address) {
  return static_cast<unsigned short>(std::stoi(bound_address.substr(bound_address.rfind(':') + 1)));
}

struct parsed_response {
  int status = 0;
  std::map<std::string, std::string> headers; // lower-case names
  std::string body;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

/// Blocking IPv4 or unix socket client on plain POSIX sockets, so the tests do not share code
/// with the server (nor with http_client). A receive timeout turns a server that never answers
/// into a failure instead of a hang.
class test_client {
public:
  explicit test_client(unsigned short port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(addr);
  }
  /// Connects to the unix socket at `path`.
  explicit test_client(const std::string& path) : fd_(::socket(AF_UNIX, SOCK_STREAM, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connect(addr);
  }
  ~test_client() { ::close(fd_); }
  test_client(const test_client&) = delete;
  test_client& operator=(const test_client&) = delete;

  int connect_errno() const { return connect_errno_; }

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

  /// One response; the body is read by Content-Length unless `head`. nullopt on EOF or error.
  std::optional<parsed_response> read_response(bool head = false) {
    std::size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        return std::nullopt;
      }
    }
    const std::string header_block = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 4);

    parsed_response response;
    std::size_t line_end = header_block.find("\r\n");
    const std::string status_line = header_block.substr(0, line_end);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
      return std::nullopt;
    }
    response.status = std::stoi(status_line.substr(9, 3));
    for (std::size_t pos = line_end + 2; pos < header_block.size(); pos = line_end + 2) {
      line_end = header_block.find("\r\n", pos);
      const std::string line = header_block.substr(pos, line_end - pos);
      const auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      response.headers[name] = value;
    }
    if (!head && response.headers.count("content-length") != 0) {
      const auto length = std::stoul(response.headers["content-length"]);
      while (buffer_.size() < length) {
        if (!fill()) {
          return std::nullopt;
        }
      }
      response.body = buffer_.substr(0, length);
      buffer_.erase(0, length);
    }
    return response;
  }

  /// True when the server closed the connection (orderly or reset) with nothing left unread.
  bool closed_by_peer() {
    if (!buffer_.empty()) {
      return false;
    }
    char c;
    const auto n = ::recv(fd_, &c, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

private:
  template <class Address>
  void connect(const Address& addr) {
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      connect_errno_ = errno;
    }
  }

  bool fill() {
    char chunk[4096];
    const auto n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_;
  int connect_errno_ = 0;
  std::string buffer_;
};

std::string get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n";
}

/// Starts a server on 127.0.0.1:0 and records the requests its handler sees.
class HttpServer : public ::testing::Test {
protected:
  void start(http_handler handler = nullptr) {
    if (!handler) {
      handler = [](const http_request& request) {
        return http_response{200, "text/plain", "echo " + request.method + " " + request.target};
      };
    }
    auto started = http_server::start(
        io_, "127.0.0.1:0", [this, handler = std::move(handler)](const http_request& request) {
          {
            std::lock_guard<std::mutex> lock{mutex_};
            seen_.push_back(request);
          }
          return handler(request);
        });
    ASSERT_TRUE(started) << started.error().message();
    server_ = std::move(*started);
    port_ = port_of(server_->bound_address());
  }

  std::vector<http_request> seen() {
    std::lock_guard<std::mutex> lock{mutex_};
    return seen_;
  }

  // Declared first, destroyed last: the handler uses them until the server is gone.
  std::mutex mutex_;
  std::vector<http_request> seen_;
  io_runner io_{2};
  std::unique_ptr<http_server> server_;
  unsigned short port_ = 0;
};

TEST_F(HttpServer, GetReturnsHandlerStatusContentTypeAndBody) {
  start([](const http_request&) { return http_response{201, "application/json", "{\"a\":1}"}; });
  test_client client{port_};
  ASSERT_TRUE(client.send(get("/twins/d1?api-version=1")));
  const auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->header("content-type"), "application/json");
  EXPECT_EQ(response->header("content-length"), "7");
  EXPECT_EQ(response->header("server"), "outpost");
  EXPECT_EQ(response->body, "{\"a\":1}");
  const auto requests = seen();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "GET");
  EXPECT_EQ(requests[0].target, "/twins/d1?api-version=1");
  EXPECT_EQ(requests[0].body, "");
}

TEST_F(HttpServer, BoundAddressIsLoopbackWithTheChosenPort) {
  start();
  EXPECT_EQ(server_->bound_address().rfind("127.0.0.1:", 0), 0u) << server_->bound_address();
  EXPECT_NE(port_, 0);
}

TEST_F(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  test_client client{port_};
  ASSERT_TRUE(client.send(get("/one")));
  auto first = client.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body, "echo GET /one");
  ASSERT_TRUE(client.send(get("/two")));
  auto second = client.read_response();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->body, "echo GET /two");
  // Pipelined: both requests in one segment, answered in order.
  ASSERT_TRUE(client.send(get("/three") + get("/four")));
  auto third = client.read_response();
  auto fourth = client.read_response();
  ASSERT_TRUE(third && fourth);
  EXPECT_EQ(third->body, "echo GET /three");
  EXPECT_EQ(fourth->body, "echo GET /four");
}

TEST_F(HttpServer, ConnectionCloseIsHonoured) {
  start();
  test_client client{port_};
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(client.closed_by_peer());
}

TEST_F(HttpServer, Http10WithoutKeepAliveIsClosedAfterTheResponse) {
  start();
  test_client client{port_};
  ASSERT_TRUE(client.send("GET /old HTTP/1.0\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "echo GET /old");
  EXPECT_TRUE(client.closed_by_peer());
}

TEST_F(HttpServer, HeadHasContentLengthButNoBody) {
  start([](const http_request&) { return http_response{200, "text/plain", "hello"}; });
  test_client client{port_};
  ASSERT_TRUE(client.send("HEAD /metrics HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head = client.read_response(/*head=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "5");
  // Had the server sent the body after all, this response would start with "hello".
  ASSERT_TRUE(client.send(get("/metrics")));
  auto after = client.read_response();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->body, "hello");
  const auto requests = seen();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "GET"); // HEAD is answered as GET
}

TEST_F(HttpServer, PostBodyReachesTheHandler) {
  start([](const http_request& request) {
    return http_response{200, "text/plain", request.method + ":" + request.body};
  });
  test_client client{port_};
  ASSERT_TRUE(
      client.send("POST /methods HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n{\"x\":true}\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "POST:{\"x\":true}\n");
}

TEST_F(HttpServer, HeadersReachTheHandlerAndAreFoundWhateverTheirCase) {
  start([](const http_request& request) {
    return http_response{200, "text/plain",
                         request.header("if-match") + "|" + request.header("X-MS-EDGE-MODULEID")
                             + "|" + request.header("absent") + "|"
                             + std::to_string(request.headers.size())};
  });
  test_client client{port_};
  ASSERT_TRUE(
      client.send("GET /twins/d HTTP/1.1\r\nHost: t\r\nIf-Match: \"AAAAAAAAAAE=\"\r\n"
                  "x-ms-edge-moduleId: modA\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body, "\"AAAAAAAAAAE=\"|modA||3");
}

TEST_F(HttpServer, ExpectContinueGets100BeforeTheBody) {
  start([](const http_request& request) { return http_response{200, "text/plain", request.body}; });
  test_client client{port_};
  ASSERT_TRUE(client.send(
      "PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = client.read_response(/*head=*/true);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.send("hello"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
}

TEST_F(HttpServer, MalformedRequestGets400AndClosesOnlyItsConnection) {
  start();
  test_client good{port_};
  ASSERT_TRUE(good.send(get("/before")));
  ASSERT_TRUE(good.read_response());

  test_client bad{port_};
  ASSERT_TRUE(bad.send("this is not http\r\n\r\n"));
  auto rejected = bad.read_response();
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 400);
  EXPECT_EQ(rejected->header("connection"), "close");
  EXPECT_TRUE(bad.closed_by_peer());

  ASSERT_TRUE(good.send(get("/after")));
  auto after = good.read_response();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->body, "echo GET /after");
  EXPECT_EQ(seen().size(), 2u);
}

TEST_F(HttpServer, UnknownMethodGets400) {
  start();
  test_client client{port_};
  ASSERT_TRUE(client.send("FROB / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_TRUE(seen().empty());
}

TEST_F(HttpServer, OversizedBodyGets413) {
  start();
  test_client client{port_};
  ASSERT_TRUE(client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(client.closed_by_peer());
  EXPECT_TRUE(seen().empty());
}

TEST_F(HttpServer, OversizedHeaderGets431) {
  start();
  test_client client{port_};
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
}

TEST_F(HttpServer, HandlerExceptionBecomes500AndTheConnectionSurvives) {
  start([](const http_request& request) -> http_response {
    if (request.target == "/throw") {
      throw std::runtime_error{"boom"};
    }
    return http_response{200, "text/plain", "fine"};
  });
  test_client client{port_};
  ASSERT_TRUE(client.send(get("/throw")));
  auto failed = client.read_response();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 500);
  EXPECT_EQ(failed->body.find("boom"), std::string::npos); // no internals leak to clients
  ASSERT_TRUE(client.send(get("/ok")));
  auto next = client.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

TEST_F(HttpServer, OutOfRangeStatusBecomes500) {
  start([](const http_request&) { return http_response{42, "text/plain", "?"}; });
  test_client client{port_};
  ASSERT_TRUE(client.send(get("/")));
  auto response = client.read_response();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 500);
}

TEST_F(HttpServer, NoContentHasNoContentLength) {
  start([](const http_request&) { return http_response{204, "text/plain", "dropped"}; });
  test_client client{port_};
  ASSERT_TRUE(client.send(get("/") + get("/")));
  auto first = client.read_response();
  auto second = client.read_response();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->status, 204);
  EXPECT_EQ(first->headers.count("content-length"), 0u);
  EXPECT_EQ(second->status, 204);
}

TEST_F(HttpServer, ManyConcurrentConnections) {
  start();
  std::vector<std::unique_ptr<test_client>> clients;
  for (int i = 0; i < 16; ++i) {
    clients.push_back(std::make_unique<test_client>(port_));
    ASSERT_TRUE(clients.back()->send(get("/c" + std::to_string(i))));
  }
  for (int i = 0; i < 16; ++i) {
    auto response = clients[i]->read_response();
    ASSERT_TRUE(response);
    EXPECT_EQ(response->body, "echo GET /c" + std::to_string(i));
  }
}

TEST_F(HttpServer, StopRefusesNewConnectionsAndClosesOpenOnes) {
  start();
  test_client open{port_};
  ASSERT_TRUE(open.send(get("/")));
  ASSERT_TRUE(open.read_response());

  server_->stop();
  test_client late{port_};
  EXPECT_EQ(late.connect_errno(), ECONNREFUSED);
  EXPECT_TRUE(open.closed_by_peer());
  server_->stop(); // idempotent
}

TEST_F(HttpServer, StopFromInsideTheHandlerReturns) {
  std::atomic<http_server*> self{nullptr};
  start([&self](const http_request&) {
    self.load()->stop();
    return http_response{};
  });
  self = server_.get();
  test_client client{port_};
  ASSERT_TRUE(client.send(get("/")));
  // Whether the response makes it out before the close is not specified; the close is.
  client.read_response();
  EXPECT_TRUE(client.closed_by_peer());
  test_client late{port_};
  EXPECT_EQ(late.connect_errno(), ECONNREFUSED);
}

TEST(HttpServerStart, RejectsMalformedAddresses) {
  io_runner io;
  const auto handler = [](const http_request&) {
    return http_response{};
  };
  for (const char* address :
       {"127.0.0.1:notaport", "nohostport", "127.0.0.1:", ":8080", "127.0.0.1:70000",
        "127.0.0.1:-1", "127.0.0.1:+80", "127.0.0.1:80x", "999.0.0.1:80", "example.com:80",
        "[::1:80", "::1:80", "[127.0.0.1]:80", "[]:80"}) {
    auto started = http_server::start(io, address, handler);
    ASSERT_FALSE(started) << address;
    EXPECT_EQ(started.error(), std::errc::invalid_argument) << address;
  }
}

TEST(HttpServerStart, RejectsAnEmptyHandler) {
  io_runner io;
  auto started = http_server::start(io, "127.0.0.1:0", nullptr);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error(), std::errc::invalid_argument);
}

TEST(HttpServerStart, PortInUseFails) {
  io_runner io;
  const auto handler = [](const http_request&) {
    return http_response{};
  };
  auto first = http_server::start(io, "127.0.0.1:0", handler);
  ASSERT_TRUE(first) << first.error().message();
  auto second = http_server::start(io, (*first)->bound_address(), handler);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use) << second.error().message();
}

TEST(HttpServerStart, LocalhostMeansIpv4Loopback) {
  io_runner io;
  auto started =
      http_server::start(io, "localhost:0", [](const http_request&) { return http_response{}; });
  ASSERT_TRUE(started) << started.error().message();
  EXPECT_EQ((*started)->bound_address().rfind("127.0.0.1:", 0), 0u);
}

TEST(HttpServerStart, BracketedIpv6Loopback) {
  io_runner io;
  auto started =
      http_server::start(io, "[::1]:0", [](const http_request&) { return http_response{}; });
  if (!started
      && (started.error() == std::errc::address_not_available
          || started.error() == std::errc::address_family_not_supported)) {
    GTEST_SKIP() << "no IPv6 loopback here: " << started.error().message();
  }
  ASSERT_TRUE(started) << started.error().message();
  const auto bound = (*started)->bound_address();
  EXPECT_EQ(bound.rfind("[::1]:", 0), 0u) << bound;
  EXPECT_NE(port_of(bound), 0);
}

TEST(IoRunner, StopIsIdempotentAndCountsThreads) {
  io_runner io{3};
  EXPECT_EQ(io.thread_count(), 3u);
  io.stop();
  io.stop();
  EXPECT_EQ(io_runner{0}.thread_count(), 1u);
}

TEST(IoRunner, ServerOutlivingAStoppedRunnerStopsCleanly) {
  io_runner io;
  auto started =
      http_server::start(io, "127.0.0.1:0", [](const http_request&) { return http_response{}; });
  ASSERT_TRUE(started);
  io.stop();
  (*started)->stop();
  started.value().reset();
}

// --- unix domain sockets and http_call ---

/// A fresh directory under /tmp (short, so socket paths fit sun_path), removed afterwards.
class temp_dir {
public:
  temp_dir() {
    char name[] = "/tmp/outpost-http-XXXXXX";
    if (::mkdtemp(name) != nullptr) {
      path_ = name;
    }
  }
  ~temp_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  bool ok() const { return !path_.empty(); }

private:
  std::string path_;
};

/// A unix socket bound at `path` by hand: listening (someone else's live server), or closed
/// again without unlinking (what a crashed server leaves behind, `listen == false`).
class raw_unix_socket {
public:
  raw_unix_socket(const std::string& path, bool listen)
      : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    ok_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0
          && (!listen || ::listen(fd_, 16) == 0);
    if (!listen) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~raw_unix_socket() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  raw_unix_socket(const raw_unix_socket&) = delete;
  raw_unix_socket& operator=(const raw_unix_socket&) = delete;

  bool ok() const { return ok_; }
  int fd() const { return fd_; }

private:
  int fd_;
  bool ok_ = false;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

bool is_socket(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

std::string read_file(const std::string& path) {
  std::ifstream in{path};
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

http_response echo(const http_request& request) {
  return http_response{200, "text/plain",
                       request.method + " " + request.target + " " + request.body};
}

/// Starts a server on a unix socket in a temporary directory.
class HttpLocal : public ::testing::Test {
protected:
  void SetUp() override { ASSERT_TRUE(dir_.ok()); }

  void start(unsigned mode = 0660) {
    auto started = http_server::start_local(io_, path_, echo, mode);
    ASSERT_TRUE(started) << started.error().message();
    server_ = std::move(*started);
  }

  temp_dir dir_;
  const std::string path_ = dir_ / "admin.sock";
  io_runner io_{2};
  std::unique_ptr<http_server> server_;
};

TEST_F(HttpLocal, GetAndPostRoundTripViaHttpCall) {
  start();
  EXPECT_EQ(server_->bound_address(), "unix:" + path_);

  auto got = http_call(server_->bound_address(), "GET", "/status?x=1");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->status, 200u);
  EXPECT_EQ(got->content_type, "text/plain");
  EXPECT_EQ(got->body, "GET /status?x=1 ");

  auto posted = http_call("unix:" + path_, "POST", "/modules/m1/restart", "{\"force\":true}");
  ASSERT_TRUE(posted) << posted.error().message();
  EXPECT_EQ(posted->status, 200u);
  EXPECT_EQ(posted->body, "POST /modules/m1/restart {\"force\":true}");

  auto head = http_call(server_->bound_address(), "HEAD", "/status");
  ASSERT_TRUE(head) << head.error().message();
  EXPECT_EQ(head->status, 200u);
  EXPECT_EQ(head->body, "");

  auto via_get = http_get(server_->bound_address(), "/g");
  ASSERT_TRUE(via_get) << via_get.error().message();
  EXPECT_EQ(via_get->body, "GET /g ");
}

TEST_F(HttpLocal, KeepAliveOnOneUnixConnection) {
  start();
  test_client client{path_};
  ASSERT_EQ(client.connect_errno(), 0);
  ASSERT_TRUE(client.send(get("/one") + get("/two")));
  auto first = client.read_response();
  auto second = client.read_response();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->body, "GET /one ");
  EXPECT_EQ(second->body, "GET /two ");
}

TEST_F(HttpLocal, SocketGetsTheRequestedMode) {
  start(); // 0660 by default
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0660u);

  auto other = http_server::start_local(io_, dir_ / "private.sock", echo, 0600);
  ASSERT_TRUE(other) << other.error().message();
  ASSERT_EQ(::stat((dir_ / "private.sock").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(HttpLocal, StaleSocketFileIsReplaced) {
  {
    raw_unix_socket crashed{path_, /*listen=*/false};
    ASSERT_TRUE(crashed.ok());
  }
  ASSERT_TRUE(is_socket(path_)); // left behind, nobody listening
  start();
  auto reply = http_call(server_->bound_address(), "GET", "/after-crash");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->status, 200u);
}

TEST_F(HttpLocal, LiveListenerIsAddressInUseAndKeepsItsSocket) {
  raw_unix_socket live{path_, /*listen=*/true};
  ASSERT_TRUE(live.ok());
  auto started = http_server::start_local(io_, path_, echo);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error(), std::errc::address_in_use) << started.error().message();
  // Still there and still reachable.
  ASSERT_TRUE(is_socket(path_));
  test_client client{path_};
  EXPECT_EQ(client.connect_errno(), 0);
}

TEST_F(HttpLocal, SecondServerOnTheSamePathIsAddressInUse) {
  start();
  auto second = http_server::start_local(io_, path_, echo);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), std::errc::address_in_use) << second.error().message();
  auto reply = http_call(server_->bound_address(), "GET", "/first-still-serves");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->status, 200u);
}

TEST_F(HttpLocal, RegularFileIsFileExistsAndUntouched) {
  {
    std::ofstream out{path_};
    out << "not a socket\n";
  }
  auto started = http_server::start_local(io_, path_, echo);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error(), std::errc::file_exists) << started.error().message();
  EXPECT_EQ(read_file(path_), "not a socket\n");

  std::filesystem::create_directory(dir_ / "a-directory");
  auto on_directory = http_server::start_local(io_, dir_ / "a-directory", echo);
  ASSERT_FALSE(on_directory);
  EXPECT_EQ(on_directory.error(), std::errc::file_exists);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ / "a-directory"));
}

TEST_F(HttpLocal, MissingParentDirectoryIsNotCreated) {
  auto started = http_server::start_local(io_, dir_ / "missing/admin.sock", echo);
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error(), std::errc::no_such_file_or_directory) << started.error().message();
  EXPECT_FALSE(exists(dir_ / "missing"));
}

TEST_F(HttpLocal, RejectsBadArguments) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  auto empty_path = http_server::start_local(io_, "", echo);
  ASSERT_FALSE(empty_path);
  EXPECT_EQ(empty_path.error(), invalid);
  auto no_handler = http_server::start_local(io_, path_, http_handler{});
  ASSERT_FALSE(no_handler);
  EXPECT_EQ(no_handler.error(), invalid);
  auto setuid_mode = http_server::start_local(io_, path_, echo, 04770);
  ASSERT_FALSE(setuid_mode);
  EXPECT_EQ(setuid_mode.error(), invalid);
  auto too_long = http_server::start_local(io_, "/tmp/" + std::string(200, 'x'), echo);
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error(), std::errc::filename_too_long);
  EXPECT_FALSE(exists(path_));
}

TEST_F(HttpLocal, StopUnlinksTheSocket) {
  start();
  test_client open{path_};
  ASSERT_TRUE(open.send(get("/")));
  ASSERT_TRUE(open.read_response());
  server_->stop();
  EXPECT_FALSE(exists(path_));
  EXPECT_TRUE(open.closed_by_peer());
  test_client late{path_};
  EXPECT_EQ(late.connect_errno(), ENOENT);
  server_->stop(); // idempotent

  // The destructor stops, and so unlinks, too.
  auto again = http_server::start_local(io_, path_, echo);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_TRUE(is_socket(path_));
  again.value().reset();
  EXPECT_FALSE(exists(path_));
}

TEST_F(HttpLocal, StopLeavesAFileThatReplacedTheSocketAlone) {
  start();
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  {
    std::ofstream out{path_};
    out << "someone else's\n";
  }
  server_->stop();
  EXPECT_EQ(read_file(path_), "someone else's\n");
}

TEST_F(HttpLocal, MalformedRequestGets400AndAnotherConnectionStillWorks) {
  start();
  test_client good{path_};
  ASSERT_TRUE(good.send(get("/before")));
  ASSERT_TRUE(good.read_response());

  test_client bad{path_};
  ASSERT_TRUE(bad.send("this is not http\r\n\r\n"));
  auto rejected = bad.read_response();
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->status, 400);
  EXPECT_EQ(rejected->header("connection"), "close");
  EXPECT_TRUE(bad.closed_by_peer());

  ASSERT_TRUE(good.send(get("/after")));
  auto after = good.read_response();
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->body, "GET /after ");
  auto fresh = http_call(server_->bound_address(), "GET", "/fresh");
  ASSERT_TRUE(fresh) << fresh.error().message();
  EXPECT_EQ(fresh->status, 200u);
}

TEST_F(HttpLocal, OversizedBodyGets413) {
  start();
  auto reply =
      http_call(server_->bound_address(), "POST", "/big", std::string(1024 * 1024 + 1, 'x'));
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->status, 413u);
}

TEST_F(HttpServer, HttpCallPostsABodyOverTcp) {
  start([](const http_request& request) {
    return http_response{201, "application/json", "{\"got\":" + request.body + "}"};
  });
  auto reply = http_call(server_->bound_address(), "POST", "/twins/d1", "{\"a\":1}");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->status, 201u);
  EXPECT_EQ(reply->content_type, "application/json");
  EXPECT_EQ(reply->body, "{\"got\":{\"a\":1}}");
  const auto requests = seen();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/twins/d1");
  EXPECT_EQ(requests[0].body, "{\"a\":1}");

  auto empty_put = http_call("localhost:" + std::to_string(port_), "PUT", "/x");
  ASSERT_TRUE(empty_put) << empty_put.error().message();
  EXPECT_EQ(empty_put->status, 201u);
}

TEST(HttpCall, SendsContentLengthTypeAndCloseAndDecodesChunkedReplies) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  const auto path = dir / "capture.sock";
  raw_unix_socket listener{path, /*listen=*/true};
  ASSERT_TRUE(listener.ok());
  std::string captured;
  std::thread server{[&] {
    const int fd = ::accept(listener.fd(), nullptr, nullptr);
    if (fd < 0) {
      return;
    }
    timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    // The body is 7 bytes; read until the blank line and those 7 bytes have arrived.
    char chunk[4096];
    for (;;) {
      const auto head_end = captured.find("\r\n\r\n");
      if (head_end != std::string::npos && captured.size() >= head_end + 4 + 7) {
        break;
      }
      const auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) {
        break;
      }
      captured.append(chunk, static_cast<std::size_t>(n));
    }
    const std::string reply =
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n";
    ::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
    ::close(fd);
  }};
  auto reply = http_call("unix:" + path, "POST", "/x?y=1", "{\"a\":1}", "application/json");
  server.join();
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->status, 200u);
  EXPECT_EQ(reply->content_type, "text/plain");
  EXPECT_EQ(reply->body, "hello world");
  EXPECT_EQ(captured.rfind("POST /x?y=1 HTTP/1.1\r\n", 0), 0u) << captured;
  EXPECT_NE(captured.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(captured.find("\r\nContent-Length: 7\r\n"), std::string::npos);
  EXPECT_NE(captured.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_NE(captured.find("\r\nHost: localhost\r\n"), std::string::npos);
  EXPECT_EQ(captured.substr(captured.size() - 11), "\r\n\r\n{\"a\":1}");
}

TEST(HttpCall, MissingSocketPathIsAnError) {
  auto reply = http_call("unix:/nonexistent-outpost-dir/admin.sock", "GET", "/");
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error(), std::errc::no_such_file_or_directory) << reply.error().message();
}

TEST(HttpCall, TimesOutWhenTheServerNeverAnswers) {
  temp_dir dir;
  ASSERT_TRUE(dir.ok());
  // Listening but never accepting: connect succeeds (backlog), no response ever comes.
  raw_unix_socket silent{dir / "silent.sock", /*listen=*/true};
  ASSERT_TRUE(silent.ok());
  const auto before = std::chrono::steady_clock::now();
  auto reply =
      http_call("unix:" + dir / "silent.sock", "GET", "/", {}, {}, std::chrono::milliseconds(200));
  const auto took = std::chrono::steady_clock::now() - before;
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error(), std::errc::timed_out) << reply.error().message();
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST(HttpCall, RejectsMalformedArguments) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  for (const char* address : {"nohostport", "127.0.0.1:", "127.0.0.1:70000", "example.com:80",
                              "[::1:80", "unix:", "127.0.0.1:+80"}) {
    auto reply = http_call(address, "GET", "/");
    ASSERT_FALSE(reply) << address;
    EXPECT_EQ(reply.error(), invalid) << address;
  }
  auto too_long = http_call("unix:/tmp/" + std::string(200, 'x'), "GET", "/");
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error(), std::errc::filename_too_long);
  auto bad_method = http_call("127.0.0.1:1", "GET /x HTTP/1.1\r\nX:", "/");
  ASSERT_FALSE(bad_method);
  EXPECT_EQ(bad_method.error(), invalid);
  auto bad_target = http_call("127.0.0.1:1", "GET", "/x HTTP/1.1\r\nX: y");
  ASSERT_FALSE(bad_target);
  EXPECT_EQ(bad_target.error(), invalid);
  auto bad_type = http_call("127.0.0.1:1", "POST", "/", "{}", "a/b\r\nX: y");
  ASSERT_FALSE(bad_type);
  EXPECT_EQ(bad_type.error(), invalid);
}

TEST(HttpCall, ConnectionRefusedOverTcpIsAnError) {
  io_runner io;
  auto started =
      http_server::start(io, "127.0.0.1:0", [](const http_request&) { return http_response{}; });
  ASSERT_TRUE(started);
  const auto address = (*started)->bound_address();
  (*started)->stop();
  auto reply = http_call(address, "GET", "/");
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error(), std::errc::connection_refused) << reply.error().message();
}

} // namespace
} // namespace outpost::transport

namespace outpost::transport {
namespace {

// Issue 8 §9: handlers used to run on the I/O thread, so a /healthz waiting 2 s, an admin
// request waiting 10 s or an agent method waiting 30 s stalled every socket of the runner.
TEST(HttpServerHandlers, ABlockedHandlerDoesNotHoldTheOnlyIoThread) {
  io_runner io{1}; // the worst case: one I/O thread for everything
  std::promise<void> release;
  auto released = release.get_future().share();
  auto slow = http_server::start(io, "127.0.0.1:0", [released](const http_request&) {
    released.wait_for(std::chrono::seconds(10));
    return http_response{200, "text/plain", "slow"};
  });
  ASSERT_TRUE(slow);
  auto fast = http_server::start(io, "127.0.0.1:0", [](const http_request&) {
    return http_response{200, "text/plain", "fast"};
  });
  ASSERT_TRUE(fast);
  test_client blocked{port_of((*slow)->bound_address())};
  ASSERT_TRUE(blocked.send(get("/wait")));
  const auto start = std::chrono::steady_clock::now();
  test_client other{port_of((*fast)->bound_address())};
  ASSERT_TRUE(other.send(get("/now")));
  const auto answer = other.read_response();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->body, "fast");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5))
      << "the other server waited for the blocked handler";
  release.set_value();
  const auto late = blocked.read_response();
  ASSERT_TRUE(late);
  EXPECT_EQ(late->body, "slow");
}

// HTTPS: the hub's REST API listener. The client is OpenSSL's own (no code shared with the
// server), verifying the server certificate against the edge CA for "localhost".

using outpost::test::tls_exchange;

class HttpsServer : public HttpServer {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/outpost-https-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    std::string why;
    auto files = ensure_edge_ca(dir_ + "/ca", "localhost", why);
    ASSERT_TRUE(files) << why;
    ca_ = files->ca;
    auto tls = tls_server_context::create(*files, false, why);
    ASSERT_TRUE(tls) << why;
    tls_ = *tls;
    auto started = http_server::start_tls(io_, "127.0.0.1:0", tls_, [](const http_request& r) {
      return http_response{200, "application/json", "{\"target\":\"" + r.target + "\"}"};
    });
    ASSERT_TRUE(started) << started.error().message();
    server_ = std::move(*started);
    port_ = port_of(server_->bound_address());
  }
  void TearDown() override {
    capped_.reset();
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  /// A second server on the same certificate that answers `body`, with `max_connections`; its
  /// port (0 when it did not start).
  unsigned short start_capped(std::size_t max_connections, std::string body) {
    auto started = http_server::start_tls(
        io_, "127.0.0.1:0", tls_,
        [body = std::move(body)](const http_request&) {
          return http_response{200, "text/plain", body};
        },
        max_connections);
    EXPECT_TRUE(started);
    if (!started) {
      return 0;
    }
    capped_ = std::move(*started);
    return port_of(capped_->bound_address());
  }

  std::string dir_;
  std::string ca_;
  std::shared_ptr<tls_server_context> tls_;
  std::unique_ptr<http_server> capped_;
};

TEST_F(HttpsServer, AnswersOverTlsVerifiedAgainstTheEdgeCa) {
  const auto out = tls_exchange(port_, ca_,
                                {"GET /twins/d1 HTTP/1.1\r\nHost: localhost\r\n"
                                 "Connection: close\r\n\r\n"});
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("{\"target\":\"/twins/d1\"}"), std::string::npos) << out;
}

TEST_F(HttpsServer, KeepsTheConnectionForSeveralRequests) {
  const auto out =
      tls_exchange(port_, ca_,
                   {"GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n",
                    "GET /b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"});
  EXPECT_NE(out.find("/a"), std::string::npos) << out;
  EXPECT_NE(out.find("/b"), std::string::npos) << out;
}

TEST_F(HttpsServer, PlainHttpOnTheTlsPortClosesOnlyThatConnection) {
  test_client plain{port_};
  ASSERT_TRUE(plain.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  EXPECT_TRUE(plain.closed_by_peer());
  const auto out = tls_exchange(port_, ca_,
                                {"GET /after HTTP/1.1\r\nHost: localhost\r\n"
                                 "Connection: close\r\n\r\n"});
  EXPECT_NE(out.find("/after"), std::string::npos) << out;
}

TEST_F(HttpsServer, AClientThatNeverHandshakesDoesNotBlockOthers) {
  test_client silent{port_};
  const auto out = tls_exchange(port_, ca_,
                                {"GET /other HTTP/1.1\r\nHost: localhost\r\n"
                                 "Connection: close\r\n\r\n"});
  EXPECT_NE(out.find("/other"), std::string::npos) << out;
}

TEST_F(HttpsServer, ConnectionsBeyondTheCapAreClosedAndTheListenerGoesOn) {
  const auto port = start_capped(2, "capped");
  ASSERT_NE(port, 0);
  auto first = std::make_unique<test_client>(port);
  auto second = std::make_unique<test_client>(port);
  test_client third{port};
  EXPECT_TRUE(third.closed_by_peer()); // two are open (silent, not yet handshaken)
  first.reset();
  second.reset();
  // Once they are gone, a client gets through again.
  std::string out;
  for (int i = 0; i < 50 && out.find("capped") == std::string::npos; ++i) {
    out =
        tls_exchange(port, ca_, {"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"});
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(out.find("capped"), std::string::npos) << out;
}

/// A TCP connection to 127.0.0.1:`port` from `source` (another loopback address); true when the
/// server has not closed it within 500 ms.
bool stays_open_from(const char* source, unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &from.sin_addr);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval t{0, 500000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
  bool open = ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0
              && ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  if (open) {
    char c;
    const auto n = ::recv(fd, &c, 1, 0);
    open = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
  ::close(fd);
  return open;
}

TEST_F(HttpsServer, OneAddressGetsAQuarterOfTheConnectionsAndOthersStillGetIn) {
  const auto port = start_capped(8, "ok");
  ASSERT_NE(port, 0);
  // 127.0.0.1 holds its quarter (2) with silent connections; its third is closed at once.
  test_client a{port};
  test_client b{port};
  test_client c{port};
  EXPECT_TRUE(c.closed_by_peer());
  // Another address is not shut out by it.
  EXPECT_TRUE(stays_open_from("127.0.0.2", port));
}

} // namespace
} // namespace outpost::transport
