#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
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
/// It also keeps what Proton 0.37 loses of IoT Hub's batched message format (message-format
/// 0x80013700, the SDKs' `SendEventBatch`): Proton exposes no message-format and keeps only
/// the last Data section of a message, so the payload of a batched delivery (the outer
/// message's sections, each Data section one encoded message) is kept here, bounded, for the
/// handler to take by delivery tag.
///
/// Pure and incremental: bytes in any split; keeps at most one frame header and the start of
/// one performative (and the payload of batched deliveries). Tracks protocol headers (AMQP and
/// SASL), frame boundaries and, per channel and handle, whether a multi-frame transfer is in
/// progress.
class frame_guard {
public:
  static constexpr std::uint32_t batched_format = 0x80013700;

  /// `max_batch_bytes` bounds one batched delivery's payload.
  explicit frame_guard(std::size_t max_batch_bytes = std::size_t{1} << 20)
      : max_batch_bytes_(max_batch_bytes) {}

  /// Scans the next bytes of the stream. False (and `why()`) once a frame breaks the rule or the
  /// performative cannot be read; the guard stays failed.
  bool scan(std::string_view bytes);

  const std::string& why() const noexcept { return why_; }

  /// Once failed: how many bytes of the last `scan` came before the refused frame (whole
  /// frames the engine may still take, so it can answer the peer with a close that says why).
  std::size_t accepted() const noexcept { return accepted_; }

  /// The payload of the oldest complete batched delivery with this delivery tag, taken.
  std::optional<std::string> take_batch(std::string_view tag);
  bool has_batches() const noexcept { return !batches_.empty(); }

private:
  bool frame_complete_prefix();
  bool check_transfer(std::uint16_t channel, std::string_view body);
  bool capture(std::string_view bytes);
  void end_frame();

  enum class state : unsigned char { header, frame_head, frame_body, skip, capture };
  using link_key = std::pair<std::uint16_t, std::uint32_t>; ///< channel, handle
  struct pending_batch {
    std::string tag;
    std::string payload;
  };
  state state_ = state::header;
  std::string head_;              ///< the current protocol header or frame header
  std::string body_;              ///< the start of the current frame's body
  std::uint32_t frame_size_ = 0;  ///< of the current frame
  std::uint32_t body_offset_ = 0; ///< doff * 4
  std::uint64_t left_ = 0;        ///< bytes of the current frame still to come
  std::uint8_t type_ = 0;
  std::uint16_t channel_ = 0;
  std::set<link_key> more_pending_;
  std::string why_;
  bool failed_ = false;
  std::size_t accepted_ = 0;

  std::size_t max_batch_bytes_;
  std::map<link_key, pending_batch> batching_; ///< batched deliveries still arriving
  std::deque<pending_batch> batches_;          ///< complete ones, for take_batch (at most 16)
  // The current frame's part in a batched delivery:
  pending_batch* capturing_ = nullptr; ///< the delivery this frame's payload belongs to
  std::size_t payload_at_ = 0;         ///< where the payload starts in the frame's body
  std::size_t skip_before_payload_ = 0;
  bool completes_batch_ = false;
  link_key capture_key_{};
};

} // namespace outpost::amqp
