// Fuzz target for the hub's AMQP connection (protocols/amqp/hub_connection): Proton's engine
// with the hub's IoT Hub handlers, fed bytes as a socket would. The first byte picks the chunk
// size; the input is fed in chunks, and after each the target plays the owner: it settles
// telemetry (accepted or rejected), sends a message on every receiving link attached (inputs,
// C2D, twin, methods), answers twin requests, and lets time pass. Tokens starting with "good"
// authenticate (no crypto: the target is the engine and the dialect, not HMAC).
// Invariants: no exception escapes, no sanitizer report, and once finished() nothing more is
// reported but closing. Built with libFuzzer under OUTPOST_FUZZ, and replayed by ctest
// (replay_main.cpp) over corpus/amqp_connection in every build. Seeds: the byte streams of the
// back-to-back unit tests (OUTPOST_AMQP_SEEDS=dir amqp_unit_tests), each behind a chunk-size byte.

#include "protocols/amqp/hub_connection.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

namespace {

namespace amqp = outpost::amqp;

amqp::auth_verdict fuzz_auth(const outpost::iothub::client_identity& who, const std::string& token,
                             std::string_view) {
  if (token.rfind("good", 0) != 0) {
    return {false, "refused", 0, false};
  }
  return {true, {}, token.size() > 4 ? 1'800'000'100 : 0, who.device_id.empty()};
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::size_t chunk = 1 + data[0] % 97;
  std::string_view rest{reinterpret_cast<const char*>(data) + 1, size - 1};
  amqp::connection_settings settings;
  settings.max_links = 16;
  settings.max_identities = 8;
  settings.max_message_bytes = 4096;
  amqp::hub_connection conn{settings, fuzz_auth};
  std::int64_t now = 1'800'000'000'000;
  std::uint64_t token = 1;
  bool reject = false;
  while (!rest.empty()) {
    amqp::events evs;
    conn.on_bytes(rest.substr(0, chunk), now, evs);
    rest.remove_prefix(std::min(chunk, rest.size()));
    for (auto& e : evs) {
      if (auto* t = std::get_if<amqp::telemetry_event>(&e)) {
        conn.settle(t->delivery, reject ? amqp::outcome::rejected : amqp::outcome::accepted);
        reject = !reject;
      } else if (auto* c = std::get_if<amqp::c2d_send_event>(&e)) {
        conn.settle(c->delivery, amqp::outcome::accepted);
      } else if (auto* l = std::get_if<amqp::link_event>(&e)) {
        if (l->attached) {
          outpost::routing::message m;
          m.body = "payload";
          m.set(outpost::routing::system_property::message_id, "m-1");
          switch (l->kind) {
            case amqp::outbound::inputs:
            case amqp::outbound::c2d:
              conn.deliver(l->who, l->kind, m, token++, 0);
              break;
            case amqp::outbound::twin:
              conn.desired_patch(l->who, R"({"k":1,"$version":2})");
              break;
            case amqp::outbound::methods:
              conn.method_request(l->who, "rid-1", "reboot", "{}");
              break;
          }
        }
      } else if (auto* t = std::get_if<amqp::twin_request_event>(&e)) {
        conn.twin_response(t->who, t->correlation, 200, R"({"desired":{},"reported":{}})", 3);
      }
    }
    (void)conn.take_output();
    now += 1000;
  }
  amqp::events evs;
  conn.on_tick(now + 600'000, evs); // idle time-out and token expiry
  (void)conn.take_output();
  conn.on_disconnected(evs);
  (void)conn.take_output();
  return 0;
}
