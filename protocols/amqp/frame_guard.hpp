#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace outpost::amqp {

/// Looks at the AMQP frames a peer sends before Proton's engine does, for what Debian's Proton
/// 0.37 does not survive. A `transfer` that starts a delivery without a delivery-id reaches an
/// `assert` in its transport (PROTON-2853, fixed upstream in 0.40): with asserts compiled in,
/// one frame from any peer would abort the whole daemon. The spec requires the id on the first
/// transfer of every delivery; the guard refuses the connection instead.
///
/// Pure and incremental: bytes in any split; keeps at most one frame header and the start of
/// one performative. Tracks protocol headers (AMQP and SASL), frame boundaries and, per channel
/// and handle, whether a multi-frame transfer is in progress.
class frame_guard {
public:
  /// Scans the next bytes of the stream. False (and `why()`) once a frame breaks the rule or the
  /// performative cannot be read; the guard stays failed.
  bool scan(std::string_view bytes);

  const std::string& why() const noexcept { return why_; }

private:
  bool frame_complete_prefix();
  bool check_transfer(std::uint16_t channel, std::string_view body);

  enum class state : unsigned char { header, frame_head, frame_body, skip };
  state state_ = state::header;
  std::string head_;              ///< the current protocol header or frame header
  std::string body_;              ///< the start of the current frame's body
  std::uint32_t frame_size_ = 0;  ///< of the current frame
  std::uint32_t body_offset_ = 0; ///< doff * 4
  std::uint64_t left_ = 0;        ///< bytes of the current frame still to come
  std::uint8_t type_ = 0;
  std::uint16_t channel_ = 0;
  std::set<std::pair<std::uint16_t, std::uint32_t>> more_pending_;
  std::string why_;
  bool failed_ = false;
};

} // namespace outpost::amqp
