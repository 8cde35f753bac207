#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>

namespace outpost::transport {

/// The client side of RFC 6455 over any byte stream (the upstream link's `amqpws`: AMQP over
/// WebSocket to the parent's `GET /$iothub/websocket`, sub-protocol `AMQPWSB10`, as IoT
/// Edge's hub does to IoT Hub on 443). Pure: bytes in, bytes out; no sockets, threads or clocks.
///
/// Sends the upgrade request, checks the 101 answer (status, `Upgrade`, the
/// `Sec-WebSocket-Accept` of its key, the sub-protocol), then carries the stream as masked binary
/// frames out and unmasked binary/continuation frames in; answers pings, and a close ends it.
/// Every input is bounded: the answer's head at 16 KiB, a frame at `max_frame`.
class websocket_client_codec {
public:
  enum class state : std::uint8_t { handshaking, open, closed };

  /// `host` is the `Host` header (the parent's name, with its port when not 443), `path` the
  /// request target, `protocol` the sub-protocol asked for; `seed` feeds the key and masks.
  websocket_client_codec(std::string host, std::string path, std::string protocol,
                         std::uint64_t seed, std::size_t max_frame = std::size_t{1} << 20);

  /// The upgrade request, to send first.
  std::string handshake_request() const;
  /// Bytes from the server (any split). Appends the stream's payload to `payload` and what
  /// must go back at once (a pong, a close answer) to `reply`. After the 101, `opened()` turns
  /// true; on a protocol error or a close, `state()` is `closed` and `error()` says why.
  void on_bytes(std::string_view in, std::string& payload, std::string& reply);
  /// `bytes` as one masked binary frame (empty input: empty output).
  std::string frame(std::string_view bytes);

  state current() const noexcept { return state_; }
  bool opened() const noexcept { return state_ == state::open; }
  const std::string& error() const noexcept { return error_; }

private:
  void fail(std::string why);
  void read_handshake(std::string& payload, std::string& reply);
  void read_frames(std::string& payload, std::string& reply);
  std::string control(std::uint8_t opcode, std::string_view body);
  std::string encode(std::uint8_t opcode, std::string_view bytes);

  std::string host_;
  std::string path_;
  std::string protocol_;
  std::size_t max_frame_;
  std::mt19937_64 rng_;
  std::string key_; ///< base64 of 16 random bytes
  state state_ = state::handshaking;
  std::string error_;
  std::string in_; ///< bytes not consumed yet
};

} // namespace outpost::transport
