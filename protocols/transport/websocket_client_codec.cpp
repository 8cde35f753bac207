#include "protocols/transport/websocket_client_codec.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>

namespace outpost::transport {

namespace {

constexpr std::size_t max_head = 16 * 1024;
constexpr const char* accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string lower(std::string_view s) {
  std::string out{s};
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string{s};
}

} // namespace

websocket_client_codec::websocket_client_codec(std::string host, std::string path,
                                               std::string protocol, std::uint64_t seed,
                                               std::size_t max_frame)
    : host_(std::move(host)),
      path_(std::move(path)),
      protocol_(std::move(protocol)),
      max_frame_(max_frame),
      rng_(seed) {
  std::string nonce(16, '\0');
  for (auto& c : nonce) {
    c = static_cast<char>(rng_() & 0xff);
  }
  key_ = base64(nonce);
}

std::string websocket_client_codec::handshake_request() const {
  return "GET " + path_ + " HTTP/1.1\r\nHost: " + host_
         + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key_
         + "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " + protocol_ + "\r\n\r\n";
}

void websocket_client_codec::fail(std::string why) {
  if (state_ != state::closed) {
    state_ = state::closed;
    error_ = std::move(why);
  }
  in_.clear();
}

void websocket_client_codec::on_bytes(std::string_view in, std::string& payload,
                                      std::string& reply) {
  if (state_ == state::closed) {
    return;
  }
  in_.append(in);
  if (state_ == state::handshaking) {
    read_handshake(payload, reply);
  }
  if (state_ == state::open) {
    read_frames(payload, reply);
  }
}

void websocket_client_codec::read_handshake(std::string&, std::string&) {
  const auto end = in_.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (in_.size() > max_head) {
      fail("the WebSocket upgrade answer is longer than 16 KiB");
    }
    return;
  }
  const std::string head = in_.substr(0, end);
  in_.erase(0, end + 4);
  const auto first = head.find("\r\n");
  const std::string status = head.substr(0, first);
  if (status.rfind("HTTP/1.1 101", 0) != 0) {
    fail("the parent refused the WebSocket upgrade: " + status);
    return;
  }
  std::string upgrade, accept, protocol;
  for (std::size_t pos = first; pos != std::string::npos && pos < head.size();) {
    const auto next = head.find("\r\n", pos + 2);
    const auto line = std::string_view{head}.substr(
        pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    pos = next;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    const auto name = lower(line.substr(0, colon));
    const auto value = trim(line.substr(colon + 1));
    if (name == "upgrade") {
      upgrade = lower(value);
    } else if (name == "sec-websocket-accept") {
      accept = value;
    } else if (name == "sec-websocket-protocol") {
      protocol = value;
    }
  }
  unsigned char digest[SHA_DIGEST_LENGTH];
  const std::string seed = key_ + accept_guid;
  SHA1(reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), digest);
  const auto expected = base64({reinterpret_cast<const char*>(digest), sizeof digest});
  if (upgrade != "websocket" || accept != expected) {
    fail("the parent's WebSocket upgrade answer is not valid (Upgrade or Sec-WebSocket-Accept)");
    return;
  }
  if (protocol != protocol_) {
    fail("the parent did not accept the WebSocket sub-protocol " + protocol_);
    return;
  }
  state_ = state::open;
}

void websocket_client_codec::read_frames(std::string& payload, std::string& reply) {
  std::size_t pos = 0;
  while (state_ == state::open) {
    if (in_.size() - pos < 2) {
      break;
    }
    const auto b0 = static_cast<unsigned char>(in_[pos]);
    const auto b1 = static_cast<unsigned char>(in_[pos + 1]);
    if ((b0 & 0x70) != 0 || (b1 & 0x80) != 0) {
      fail("a WebSocket frame from the parent with reserved bits or a mask");
      return;
    }
    std::size_t header = 2;
    std::uint64_t len = b1 & 0x7f;
    if (len >= 126) {
      const std::size_t extra = len == 126 ? 2 : 8;
      if (in_.size() - pos < 2 + extra) {
        break;
      }
      len = 0;
      for (std::size_t i = 0; i < extra; ++i) {
        len = (len << 8) | static_cast<unsigned char>(in_[pos + 2 + i]);
      }
      header += extra;
    }
    if (len > max_frame_) {
      fail("a WebSocket frame from the parent larger than " + std::to_string(max_frame_)
           + " bytes");
      return;
    }
    if (in_.size() - pos < header + len) {
      break;
    }
    const std::string_view body{in_.data() + pos + header, static_cast<std::size_t>(len)};
    pos += header + static_cast<std::size_t>(len);
    switch (b0 & 0x0f) {
      case 0x0: // continuation
      case 0x2: // binary
        payload.append(body);
        break;
      case 0x9: // ping
        reply += control(0xA, body);
        break;
      case 0xA: // pong
        break;
      case 0x8: // close
        reply += control(0x8, body.substr(0, std::min<std::size_t>(body.size(), 2)));
        fail("the parent closed the WebSocket");
        return;
      default:
        fail("a WebSocket frame from the parent with opcode " + std::to_string(b0 & 0x0f));
        return;
    }
  }
  in_.erase(0, pos);
}

std::string websocket_client_codec::control(std::uint8_t opcode, std::string_view body) {
  return encode(opcode, body.substr(0, std::min<std::size_t>(body.size(), 125)));
}

std::string websocket_client_codec::frame(std::string_view bytes) {
  return bytes.empty() ? std::string{} : encode(0x2, bytes);
}

/// One masked frame with FIN set (RFC 6455 §5.2: a client masks every frame).
std::string websocket_client_codec::encode(std::uint8_t opcode, std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + 14);
  out += static_cast<char>(0x80 | opcode);
  if (bytes.size() < 126) {
    out += static_cast<char>(0x80 | bytes.size());
  } else if (bytes.size() <= 0xffff) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>((bytes.size() >> 8) & 0xff);
    out += static_cast<char>(bytes.size() & 0xff);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      out += static_cast<char>((static_cast<std::uint64_t>(bytes.size()) >> shift) & 0xff);
    }
  }
  const auto m = static_cast<std::uint32_t>(rng_());
  const char mask[4] = {static_cast<char>(m >> 24), static_cast<char>(m >> 16),
                        static_cast<char>(m >> 8), static_cast<char>(m)};
  out.append(mask, 4);
  const auto start = out.size();
  out.append(bytes);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[start + i] = static_cast<char>(out[start + i] ^ mask[i & 3]);
  }
  return out;
}

} // namespace outpost::transport
