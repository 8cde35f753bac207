// Fuzz target for the MQTT 3.1.1 codec (protocols/mqtt). For arbitrary bytes:
// - split_frame never claims more bytes than it was given or than the limit allows;
// - decode never crashes, on the split frames and on the raw input as one frame;
// - every decoded packet round-trips: decode(encode(p)) == p, encoded_size matches, and the
//   re-encoded frame equals the input frame whenever the input used the minimal length form.
// Any violation traps. Built with libFuzzer under OUTPOST_FUZZ, and replayed by ctest
// (replay_main.cpp) over corpus/mqtt_codec in every build.

#include "protocols/mqtt/decoder.hpp"
#include "protocols/mqtt/encoder.hpp"
#include "protocols/mqtt/frame_splitter.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace mqtt = outpost::mqtt;

constexpr std::size_t limit = std::size_t{1} << 20;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

// Bytes of the minimal remaining-length encoding (§2.2.3).
std::size_t minimal_header(std::size_t remaining) {
  std::size_t n = 2;
  for (; remaining >= 128; remaining >>= 7) {
    ++n;
  }
  return n;
}

void check_frame(std::string_view frame) {
  const auto decoded = mqtt::decode(frame);
  if (!decoded) {
    check(static_cast<bool>(decoded.error()));
    return;
  }
  std::string wire;
  mqtt::encode(*decoded, wire);
  check(wire.size() == mqtt::encoded_size(*decoded));
  const auto split = mqtt::split_frame(wire, wire.size());
  check(split && split->frame_size == wire.size());
  const auto again = mqtt::decode(wire);
  check(again && *again == *decoded);
  // The decoder is strict, so only a non-minimal remaining length can change the bytes.
  const auto original = mqtt::split_frame(frame, frame.size());
  check(original && original->frame_size == frame.size());
  if (original->header_size == minimal_header(frame.size() - original->header_size)) {
    check(wire == frame);
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_frame(in);
  while (!in.empty()) {
    const auto split = mqtt::split_frame(in, limit);
    if (!split || split->frame_size == 0) {
      break;
    }
    check(split->frame_size <= in.size() && split->frame_size <= limit);
    check(split->header_size >= 2 && split->header_size <= 5);
    check_frame(in.substr(0, split->frame_size));
    in.remove_prefix(split->frame_size);
  }
  return 0;
}
