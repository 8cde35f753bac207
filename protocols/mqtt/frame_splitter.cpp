#include "protocols/mqtt/frame_splitter.hpp"

#include "protocols/mqtt/errc.hpp"

#include <cstdint>

namespace outpost::mqtt {
namespace {

constexpr std::size_t max_length_bytes = 4;

} // namespace

result<frame_split> split_frame(std::string_view in, std::size_t max_frame_size) noexcept {
  // MQTT 3.1.1 §2.2.3: seven bits per byte, least significant first, bit 7 = "more follows".
  std::size_t remaining = 0;
  for (std::size_t i = 1; i <= max_length_bytes; ++i) {
    if (i >= in.size()) {
      return frame_split{}; // header not complete yet
    }
    const auto digit = static_cast<std::uint8_t>(in[i]);
    remaining |= static_cast<std::size_t>(digit & 0x7Fu) << (7 * (i - 1));
    if ((digit & 0x80u) == 0) {
      const std::size_t header = 1 + i;
      const std::size_t total = header + remaining;
      if (total > max_frame_size) {
        return errc::packet_too_large;
      }
      return frame_split{total <= in.size() ? total : 0, header};
    }
  }
  return errc::malformed_remaining_length;
}

} // namespace outpost::mqtt
