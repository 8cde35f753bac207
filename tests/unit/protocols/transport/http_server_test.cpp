#include "protocols/transport/http_server.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
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

/// Blocking IPv4 client on plain POSIX sockets, so the tests do not share code with the server.
/// A receive timeout turns a server that never answers into a failure instead of a hang.
class test_client {
public:
  explicit test_client(unsigned short port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      connect_errno_ = errno;
    }
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

} // namespace
} // namespace outpost::transport
