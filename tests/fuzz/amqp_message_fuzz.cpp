// Differential fuzz target for the hub's own AMQP message decoder (protocols/amqp/
// message_decoder) against Proton's: whatever bytes come in, the decoder either leaves the
// message to Proton (`other`) or maps it exactly as Proton's decode and `from_amqp` do.
// Invariants: no sanitizer report; `ok` only where the Proton path also takes the message, with
// the same body, system and application properties (abort otherwise). Replayed by ctest over
// corpus/amqp_message in every build; seeds: the unit tests' messages
// (OUTPOST_AMQP_MESSAGE_SEEDS=dir amqp_unit_tests --gtest_filter='MessageDecoder.*').

#include "protocols/amqp/message_decoder.hpp"
#include "protocols/amqp/message_map.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <proton/message.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace amqp = outpost::amqp;
  const std::string_view bytes{reinterpret_cast<const char*>(data), size};
  outpost::routing::message ours;
  if (amqp::message_decoder::decode(bytes, ours) != amqp::message_decoder::status::ok) {
    return 0;
  }
  proton::message m;
  try {
    m.decode(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const std::exception&) {
    std::abort(); // the decoder took what Proton refuses
  }
  auto theirs = amqp::from_amqp(m);
  if (!theirs || !(*theirs == ours)) {
    std::abort(); // the two paths differ
  }
  return 0;
}
