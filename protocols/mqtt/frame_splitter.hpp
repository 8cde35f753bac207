#pragma once

#include "protocols/common/result.hpp"

#include <cstddef>
#include <string_view>

namespace outpost::mqtt {

/// Where the next frame ends in a byte stream.
struct frame_split {
  std::size_t frame_size = 0;  ///< bytes of the whole frame; 0 = need more bytes
  std::size_t header_size = 0; ///< fixed header bytes (type + remaining length), when known
};

/// The longest remaining length MQTT 3.1.1 can express (§2.2.3: four bytes of seven bits).
inline constexpr std::size_t max_remaining_length = 268'435'455;

/// Finds the first frame at the start of `in` without copying or decoding it.
///
/// MQTT 3.1.1 §2.2.3: at most 4 remaining-length bytes, else `errc::malformed_remaining_length`.
/// A frame longer than `max_frame_size` is `errc::packet_too_large` as soon as its length is
/// known, before its body arrives. Returns `frame_size == 0` while the frame is incomplete.
/// Pure and allocation-free; any thread may call it.
result<frame_split> split_frame(std::string_view in, std::size_t max_frame_size) noexcept;

} // namespace outpost::mqtt
