#include "protocols/amqp/frame_guard.hpp"

#include <algorithm>
#include <optional>

namespace outpost::amqp {

namespace {

// Enough of a performative for transfer's first six fields (a 32-byte tag included).
constexpr std::size_t body_prefix = 192;

constexpr std::uint8_t performative_transfer = 0x14;
constexpr std::uint8_t performative_detach = 0x16;
constexpr std::uint8_t performative_end = 0x17;

std::uint32_t be32(const char* p) {
  return (std::uint32_t{static_cast<unsigned char>(p[0])} << 24)
         | (std::uint32_t{static_cast<unsigned char>(p[1])} << 16)
         | (std::uint32_t{static_cast<unsigned char>(p[2])} << 8)
         | std::uint32_t{static_cast<unsigned char>(p[3])};
}

/// Reads AMQP-encoded fields of a performative's list, left to right.
class fields {
public:
  fields(std::string_view body, std::uint32_t count) : rest_(body), count_(count) {}

  /// A uint field: nullopt when null or absent; false when malformed.
  bool uint_field(std::optional<std::uint32_t>& out) {
    out.reset();
    if (!next()) {
      return true;
    }
    const auto code = byte();
    switch (code) {
      case 0x40:
        return true;
      case 0x43:
        out = 0;
        return true;
      case 0x52:
        if (rest_.empty()) {
          return false;
        }
        out = byte();
        return true;
      case 0x70:
        if (rest_.size() < 4) {
          return false;
        }
        out = be32(rest_.data());
        rest_.remove_prefix(4);
        return true;
      default:
        return false;
    }
  }

  bool binary_field(std::string_view* out = nullptr) {
    if (!next()) {
      return true;
    }
    const auto code = byte();
    std::uint32_t len = 0;
    if (code == 0x40) {
      return true;
    }
    if (code == 0xa0 && !rest_.empty()) {
      len = byte();
    } else if (code == 0xb0 && rest_.size() >= 4) {
      len = be32(rest_.data());
      rest_.remove_prefix(4);
    } else {
      return false;
    }
    if (rest_.size() < len) {
      return false;
    }
    if (out != nullptr) {
      *out = rest_.substr(0, len);
    }
    rest_.remove_prefix(len);
    return true;
  }

  bool bool_field(bool& out) {
    out = false;
    if (!next()) {
      return true;
    }
    const auto code = byte();
    if (code == 0x40 || code == 0x42) {
      return true;
    }
    if (code == 0x41) {
      out = true;
      return true;
    }
    if (code == 0x56 && !rest_.empty()) {
      out = byte() != 0;
      return true;
    }
    return false;
  }

private:
  bool next() {
    if (count_ == 0) {
      return false;
    }
    --count_;
    return true;
  }
  std::uint8_t byte() {
    if (rest_.empty()) {
      return 0xff; // no such code: the caller fails
    }
    const auto b = static_cast<std::uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }

  std::string_view rest_;
  std::uint32_t count_;
};

/// The performative's code, its list (count and encoded fields) and where the list ends in
/// `body` (the payload's start); false if unreadable.
bool performative(std::string_view body, std::uint8_t& code, std::uint32_t& count,
                  std::string_view& list, std::size_t& end) {
  if (body.size() < 3 || body[0] != '\x00') {
    return false;
  }
  std::size_t at = 1;
  const auto kind = static_cast<std::uint8_t>(body[at++]);
  if (kind == 0x53) {
    code = static_cast<std::uint8_t>(body[at++]);
  } else if (kind == 0x80 && body.size() >= at + 8) {
    code = static_cast<std::uint8_t>(body[at + 7]);
    at += 8;
  } else {
    return false;
  }
  if (body.size() <= at) {
    return false;
  }
  const auto list_code = static_cast<std::uint8_t>(body[at++]);
  if (list_code == 0x45) {
    count = 0;
    end = at;
  } else if (list_code == 0xc0 && body.size() >= at + 2) {
    end = at + 1 + static_cast<std::uint8_t>(body[at]);
    count = static_cast<std::uint8_t>(body[at + 1]);
    at += 2;
  } else if (list_code == 0xd0 && body.size() >= at + 8) {
    end = at + 4 + std::size_t{be32(body.data() + at)};
    count = be32(body.data() + at + 4);
    at += 8;
  } else {
    return false;
  }
  list = body.substr(at);
  return true;
}

} // namespace

bool frame_guard::scan(std::string_view bytes) {
  const auto total = bytes.size();
  std::size_t frame_start = 0; // in this chunk (0: the frame began in an earlier one)
  accepted_ = 0;
  const auto refuse = [&] { // the frame that began at `frame_start` breaks a rule
    failed_ = true;
    accepted_ = frame_start;
    return false;
  };
  while (!failed_ && !bytes.empty()) {
    if (state_ == state::header) {
      if (head_.empty()) {
        frame_start = total - bytes.size();
      }
      // At a boundary: a protocol header ("AMQP" and 4 bytes) or a frame header (8 bytes).
      const auto take = std::min<std::size_t>(8 - head_.size(), bytes.size());
      head_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (head_.size() < 8) {
        break;
      }
      if (head_.compare(0, 4, "AMQP") == 0) {
        head_.clear();
        continue;
      }
      frame_size_ = be32(head_.data());
      body_offset_ = std::uint32_t{static_cast<unsigned char>(head_[4])} * 4;
      type_ = static_cast<std::uint8_t>(head_[5]);
      channel_ = static_cast<std::uint16_t>((static_cast<unsigned char>(head_[6]) << 8)
                                            | static_cast<unsigned char>(head_[7]));
      head_.clear();
      if (frame_size_ < 8 || body_offset_ < 8 || body_offset_ > frame_size_) {
        // Not a frame Proton takes either: it closes the connection with a framing error.
        state_ = state::skip;
        left_ = UINT64_MAX;
        continue;
      }
      left_ = frame_size_ - 8;
      body_.clear();
      state_ = left_ == 0 ? state::header : state::frame_body;
      continue;
    }
    if (state_ == state::skip || state_ == state::capture) {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, bytes.size()));
      if (state_ == state::capture && !capture(bytes.substr(0, take))) {
        return refuse();
      }
      bytes.remove_prefix(take);
      left_ -= take;
      if (left_ == 0) {
        end_frame();
      }
      continue;
    }
    // frame_body: the extended header is skipped, the performative's start kept.
    const std::uint64_t consumed = (frame_size_ - 8) - left_;
    const std::uint64_t ext = body_offset_ - 8;
    std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, bytes.size()));
    if (consumed < ext) {
      take = static_cast<std::size_t>(std::min<std::uint64_t>(take, ext - consumed));
    } else if (type_ == 0 && body_.size() < body_prefix) {
      take = std::min(take, body_prefix - body_.size());
      body_.append(bytes.substr(0, take));
    }
    bytes.remove_prefix(take);
    left_ -= take;
    const bool have_prefix = body_.size() >= body_prefix;
    if (left_ == 0 || (have_prefix && consumed + take >= ext)) {
      if (type_ == 0 && !frame_complete_prefix()) {
        return refuse();
      }
      if (capturing_ != nullptr) {
        // The payload's start may already be in the prefix, or still to come.
        if (payload_at_ < body_.size()) {
          if (!capture(std::string_view{body_}.substr(payload_at_))) {
            return refuse();
          }
        } else {
          skip_before_payload_ = payload_at_ - body_.size();
        }
      }
      if (left_ == 0) {
        end_frame();
      } else {
        state_ = capturing_ != nullptr ? state::capture : state::skip;
      }
    }
  }
  return !failed_;
}

bool frame_guard::capture(std::string_view bytes) {
  const auto skip = std::min(skip_before_payload_, bytes.size());
  skip_before_payload_ -= skip;
  bytes.remove_prefix(skip);
  if (capturing_->payload.size() + bytes.size() > max_batch_bytes_) {
    why_ = "a batched message larger than the hub takes (" + std::to_string(max_batch_bytes_)
           + " bytes)";
    return false;
  }
  capturing_->payload.append(bytes);
  return true;
}

void frame_guard::end_frame() {
  state_ = state::header;
  if (capturing_ != nullptr && completes_batch_) {
    if (batches_.size() == 16) {
      batches_.pop_front(); // never taken (its link was refused): the oldest goes
    }
    batches_.push_back(std::move(*capturing_));
    batching_.erase(capture_key_);
  }
  capturing_ = nullptr;
  completes_batch_ = false;
  skip_before_payload_ = 0;
}

std::optional<std::string> frame_guard::take_batch(std::string_view tag) {
  for (auto it = batches_.begin(); it != batches_.end(); ++it) {
    if (it->tag == tag) {
      auto payload = std::move(it->payload);
      batches_.erase(it);
      return payload;
    }
  }
  return std::nullopt;
}

bool frame_guard::frame_complete_prefix() {
  if (body_.empty()) {
    return true; // an empty frame (heartbeat)
  }
  return check_transfer(channel_, body_);
}

bool frame_guard::check_transfer(std::uint16_t channel, std::string_view body) {
  std::uint8_t code = 0;
  std::uint32_t count = 0;
  std::string_view list;
  std::size_t end = 0;
  if (!performative(body, code, count, list, end)) {
    return true; // not a performative this guard reads: Proton decides
  }
  fields f{list, count};
  if (code == performative_detach) {
    std::optional<std::uint32_t> handle;
    if (f.uint_field(handle) && handle) {
      more_pending_.erase({channel, *handle});
      batching_.erase({channel, *handle});
    }
    return true;
  }
  if (code == performative_end) {
    for (auto it = more_pending_.begin(); it != more_pending_.end();) {
      it = it->first == channel ? more_pending_.erase(it) : std::next(it);
    }
    for (auto it = batching_.begin(); it != batching_.end();) {
      it = it->first.first == channel ? batching_.erase(it) : std::next(it);
    }
    return true;
  }
  if (code != performative_transfer) {
    return true;
  }
  std::optional<std::uint32_t> handle;
  std::optional<std::uint32_t> id;
  std::optional<std::uint32_t> format;
  bool settled = false;
  bool more = false;
  std::string_view tag; // kept only for a batched delivery
  if (!f.uint_field(handle) || !f.uint_field(id) || !f.binary_field(&tag) || !f.uint_field(format)
      || !f.bool_field(settled) || !f.bool_field(more)) {
    why_ = "a transfer performative the hub cannot read";
    return false;
  }
  const std::pair<std::uint16_t, std::uint32_t> key{channel, handle.value_or(0)};
  const bool continuing = more_pending_.count(key) != 0;
  if (!id && !continuing) {
    why_ = "delivery-id required on the first transfer of a delivery";
    return false;
  }
  if (more) {
    more_pending_.insert(key);
  } else {
    more_pending_.erase(key);
  }
  if (!continuing) {
    batching_.erase(key); // an aborted or unfinished one is forgotten
    if (format == batched_format) {
      batching_[key].tag.assign(tag);
    }
  }
  if (auto b = batching_.find(key); b != batching_.end()) {
    capturing_ = &b->second;
    capture_key_ = key;
    payload_at_ = end;
    completes_batch_ = !more;
  }
  return true;
}

} // namespace outpost::amqp
