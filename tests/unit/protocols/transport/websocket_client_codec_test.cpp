// The upstream link's WebSocket framing (amqpws), checked against RFC 6455's own example
// (§1.3: the key "dGhlIHNhbXBsZSBub25jZQ==" is answered "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") and
// frames built by hand. The real server is covered by acceptance `nested` over amqpws.

#include "protocols/transport/websocket_client_codec.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <string>

namespace outpost::transport {
namespace {

std::string accept_of(const std::string& request) {
  const auto at = request.find("Sec-WebSocket-Key: ") + 19;
  const auto key = request.substr(at, request.find("\r\n", at) - at);
  const std::string seed = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), digest);
  std::string out(28, '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), digest, sizeof digest);
  return out;
}

std::string answer(const std::string& accept, const std::string& protocol = "AMQPWSB10") {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Accept: "
         + accept + "\r\nSec-WebSocket-Protocol: " + protocol + "\r\n\r\n";
}

/// An unmasked server frame.
std::string server_frame(unsigned char opcode, const std::string& body) {
  std::string f;
  f += static_cast<char>(0x80 | opcode);
  if (body.size() < 126) {
    f += static_cast<char>(body.size());
  } else {
    f += static_cast<char>(126);
    f += static_cast<char>(body.size() >> 8);
    f += static_cast<char>(body.size() & 0xff);
  }
  return f + body;
}

TEST(WebSocketClientCodec, AcceptsTheRightUpgradeAndCarriesBinaryFramesBothWays) {
  websocket_client_codec ws("hub.example", "/$iothub/websocket", "AMQPWSB10", 7);
  const auto req = ws.handshake_request();
  EXPECT_EQ(req.rfind("GET /$iothub/websocket HTTP/1.1\r\nHost: hub.example\r\n", 0), 0u);
  EXPECT_NE(req.find("Sec-WebSocket-Protocol: AMQPWSB10\r\n"), std::string::npos);
  std::string payload, reply;
  const auto head = answer(accept_of(req));
  const std::string big(300, 'x');
  const auto rest = server_frame(0x2, "AMQP") + server_frame(0x0, big) + server_frame(0x9, "hi");
  // Any split: the head and the frames one byte at a time.
  for (char c : head + rest) {
    ws.on_bytes(std::string_view{&c, 1}, payload, reply);
  }
  ASSERT_TRUE(ws.opened()) << ws.error();
  EXPECT_EQ(payload, "AMQP" + big);
  ASSERT_EQ(reply.size(), 2u + 4u + 2u); // a masked pong with the ping's body
  EXPECT_EQ(static_cast<unsigned char>(reply[0]), 0x8A);
  const auto f = ws.frame("hello");
  ASSERT_EQ(f.size(), 2u + 4u + 5u);
  EXPECT_EQ(static_cast<unsigned char>(f[0]), 0x82);
  EXPECT_EQ(static_cast<unsigned char>(f[1]), 0x80 | 5);
  std::string unmasked;
  for (std::size_t i = 0; i < 5; ++i) {
    unmasked += static_cast<char>(f[6 + i] ^ f[2 + (i & 3)]);
  }
  EXPECT_EQ(unmasked, "hello");
  EXPECT_EQ(static_cast<unsigned char>(ws.frame(std::string(70000, 'y'))[1]), 0x80 | 127);
}

TEST(WebSocketClientCodec, RefusesABadUpgradeAndBadFrames) {
  std::string payload, reply;
  {
    websocket_client_codec ws("h", "/", "AMQPWSB10", 1);
    ws.on_bytes("HTTP/1.1 401 Unauthorized\r\n\r\n", payload, reply);
    EXPECT_EQ(ws.current(), websocket_client_codec::state::closed);
    EXPECT_NE(ws.error().find("401"), std::string::npos);
  }
  {
    websocket_client_codec ws("h", "/", "AMQPWSB10", 1);
    ws.on_bytes(answer("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), payload, reply); // another key's
    EXPECT_EQ(ws.current(), websocket_client_codec::state::closed);
  }
  {
    websocket_client_codec ws("h", "/", "AMQPWSB10", 1);
    ws.on_bytes(answer(accept_of(ws.handshake_request()), "mqtt"), payload, reply);
    EXPECT_NE(ws.error().find("sub-protocol"), std::string::npos);
  }
  {
    websocket_client_codec ws("h", "/", "AMQPWSB10", 1, 100);
    ws.on_bytes(answer(accept_of(ws.handshake_request())), payload, reply);
    ASSERT_TRUE(ws.opened());
    ws.on_bytes(server_frame(0x2, std::string(200, 'z')), payload, reply);
    EXPECT_NE(ws.error().find("larger than 100"), std::string::npos);
  }
  {
    websocket_client_codec ws("h", "/", "AMQPWSB10", 1);
    ws.on_bytes(std::string(20000, 'H'), payload, reply); // a head that never ends
    EXPECT_NE(ws.error().find("16 KiB"), std::string::npos);
  }
  {
    websocket_client_codec ws("h", "/", "AMQPWSB10", 1);
    ws.on_bytes(answer(accept_of(ws.handshake_request())), payload, reply);
    reply.clear();
    ws.on_bytes(server_frame(0x8, "\x03\xe8"), payload, reply);
    EXPECT_EQ(ws.current(), websocket_client_codec::state::closed);
    EXPECT_EQ(static_cast<unsigned char>(reply[0]), 0x88); // the close is answered
  }
}

} // namespace
} // namespace outpost::transport
