// Fuzz target for the twin document model (protocols/iothub/twin): what devices send as
// reported patches and what the service API sends as desired patches and twin updates. The
// input is split at NUL bytes into fields: field 0 holds one operation byte per following
// field (0 reported patch, 1 desired patch, 2 service update, 3 service replace), fields 1..6
// are the JSON bodies. For arbitrary bytes, only what the header promises:
// - nothing crashes, leaks or hits undefined behaviour;
// - a refused request leaves the twin byte for byte as it was and answers 400 with IoT Hub's
//   ArgumentInvalid (400004) and a JSON body the SDKs recognise (`errorCode`, `message`);
// - an accepted request grows the version of the section it wrote by exactly one, and the
//   twin's version never shrinks; a pushed desired patch carries the new `$version`;
// - no section ever exceeds the limit, and the device view always has both `$version`s;
// - load(save()) gives back the same document.
// Any violation traps. Built with libFuzzer under OUTPOST_FUZZ, and replayed by ctest
// (replay_main.cpp) over corpus/twin_document in every build.

#include "protocols/iothub/twin.hpp"
#include "tests/fuzz/fields.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using outpost::iothub::hub_error;
using outpost::iothub::twin;
using outpost::iothub::twin_limits;
using json = nlohmann::json;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

constexpr std::size_t field_count = 7;
constexpr std::string_view now = "2026-12-04T10:00:00.0000000Z";

void check_refusal(const hub_error& e) {
  check(e.status == 400 && e.code == 400004 && !e.message.empty());
  const auto body = json::parse(e.body(), nullptr, false);
  check(body.is_object() && body["errorCode"] == 400004 && body["message"] == e.message);
}

void check_views(const twin& t, const twin_limits& limits) {
  auto view = json::parse(t.device_json(), nullptr, false);
  check(view.is_object() && view["desired"]["$version"] == t.desired_version()
        && view["reported"]["$version"] == t.reported_version());
  for (const char* s : {"desired", "reported"}) {
    view[s].erase("$version");
    check(view[s].dump().size() <= limits.max_section_bytes);
  }
  check(json::parse(t.service_json("d", "m"), nullptr, false).is_object());
  auto again = twin::load(t.save());
  check(again && again->save() == t.save());
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto fields =
      outpost::fuzz::split_fields<field_count>({reinterpret_cast<const char*>(data), size});
  // Small limits so the fuzzer reaches them.
  twin_limits limits;
  limits.max_depth = 4;
  limits.max_name_bytes = 16;
  limits.max_string_bytes = 32;
  limits.max_section_bytes = 256;
  twin t;
  for (std::size_t i = 1; i < field_count; ++i) {
    const auto op = i - 1 < fields[0].size() ? static_cast<std::uint8_t>(fields[0][i - 1]) % 4 : 0;
    const auto before = t.save();
    const auto desired = t.desired_version();
    const auto reported = t.reported_version();
    const auto version = t.version();
    std::string pushed;
    std::optional<hub_error> e;
    switch (op) {
      case 0:
        e = t.patch_reported(fields[i], now, limits);
        check(e || (t.reported_version() == reported + 1 && t.desired_version() == desired));
        break;
      case 1:
        e = t.patch_desired(fields[i], now, pushed, limits);
        check(e || t.desired_version() == desired + 1);
        break;
      case 2:
        e = t.update(fields[i], now, pushed, limits);
        check(e || t.desired_version() <= desired + 1);
        break;
      default:
        e = t.replace(fields[i], now, pushed, limits);
        check(e || t.desired_version() == desired + 1);
        break;
    }
    if (e) {
      check_refusal(*e);
      check(t.save() == before);
    } else {
      check(t.version() >= version && t.reported_version() >= reported);
      if (!pushed.empty()) {
        const auto p = json::parse(pushed, nullptr, false);
        check(p.is_object() && p["$version"] == t.desired_version());
      }
    }
    check_views(t, limits);
  }
  return 0;
}
