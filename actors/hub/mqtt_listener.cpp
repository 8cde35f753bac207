#include "actors/hub/mqtt_listener.hpp"

#include "protocols/mqtt/errc.hpp"
#include "protocols/mqtt/frame_splitter.hpp"

#include <caf/all.hpp>

namespace outpost::actors {

namespace {

/// Runs on the connection's strand: buffers partial frames and forwards whole ones.
class frame_forwarder final : public transport::stream_handler {
public:
  frame_forwarder(caf::actor session, std::shared_ptr<frame_limit> max_frame)
      : session_(std::move(session)),
        max_frame_(std::move(max_frame)) {}

  void on_data(std::string_view bytes) override {
    if (broken_) {
      return;
    }
    pending_.append(bytes);
    std::size_t end = 0;
    while (end < pending_.size()) {
      const auto type = static_cast<std::uint8_t>(pending_[end]) >> 4;
      if (type == 0 || type == 15) {
        // Reserved packet types (§2.2.1): no need to wait for a length that may never end.
        forward(end);
        caf::anon_send(session_, frame_error_atom::value,
                       std::error_code{mqtt::errc::unknown_packet_type});
        broken_ = true;
        return;
      }
      // Until CONNECT is accepted the limit is a few KiB: an unauthenticated peer cannot make
      // this buffer hold a 256 KiB frame.
      auto split = mqtt::split_frame(std::string_view{pending_}.substr(end),
                                     max_frame_->load(std::memory_order_relaxed));
      if (!split) {
        forward(end);
        caf::anon_send(session_, frame_error_atom::value, split.error());
        broken_ = true;
        return;
      }
      if (split->frame_size == 0) {
        break; // the rest of this frame is still on its way
      }
      end += split->frame_size;
    }
    forward(end);
  }

  void on_closed(std::error_code) override { caf::anon_send(session_, closed_atom::value); }

private:
  void forward(std::size_t end) {
    if (end == 0) {
      return;
    }
    std::string chunk;
    if (end == pending_.size()) {
      chunk.swap(pending_); // the common case: a read of whole frames, no copy
    } else {
      chunk = pending_.substr(0, end);
      pending_.erase(0, end);
    }
    caf::anon_send(session_, data_atom::value, std::move(chunk));
  }

  caf::actor session_;
  std::shared_ptr<frame_limit> max_frame_;
  std::string pending_;
  bool broken_ = false;
};

} // namespace

transport::stream_server::accept_fn mqtt_acceptor(caf::actor_system& sys,
                                                  std::shared_ptr<const hub_services> hub) {
  return [&sys, hub](std::shared_ptr<transport::stream_connection> conn)
             -> std::shared_ptr<transport::stream_handler> {
    auto limit = std::make_shared<frame_limit>(hub->pre_auth_frame_bytes);
    auto session = spawn_mqtt_session(sys, hub, std::move(conn), limit);
    return std::make_shared<frame_forwarder>(std::move(session), std::move(limit));
  };
}

result<std::unique_ptr<transport::stream_server>> start_mqtt_listener(
    transport::io_runner& io, caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
    transport::stream_options opts, std::string& why) {
  return transport::stream_server::start(io, opts, mqtt_acceptor(sys, std::move(hub)), why);
}

} // namespace outpost::actors
