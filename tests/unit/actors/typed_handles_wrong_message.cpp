// Must NOT compile: each OUTPOST_WRONG_MESSAGE case sends a typed handle a message it does not
// take. Built only by the typed_handles_reject_* tests (tests/unit/actors/CMakeLists.txt),
// which pass when the compiler stops with CAF's "receiver does not accept given message".
#include "actors/common/mailbox_interface.hpp"
#include "actors/common/writer_interface.hpp"
#include "actors/hub/directory_interface.hpp"
#include "actors/workload/registry_interface.hpp"

#include <caf/send.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace outpost::actors {

void wrong_message(const writer_actor& writer, const mailbox_actor& mailbox,
                   const directory_actor& directory, const registry_actor& registry) {
#if OUTPOST_WRONG_MESSAGE == 1
  // A mailbox's append (bodies + TTL) sent to the writer, which takes append_requests.
  caf::anon_send(writer, append_atom::value, std::vector<std::string>{"x"}, std::int64_t{-1});
#elif OUTPOST_WRONG_MESSAGE == 2
  // The writer's ack (per-queue checkpoints) sent to a mailbox, which takes sequences.
  caf::anon_send(mailbox, ack_atom::value, ack_requests{});
#elif OUTPOST_WRONG_MESSAGE == 3
  // A register without the session handle.
  caf::anon_send(directory, register_atom::value, std::string{"dev"}, true);
#elif OUTPOST_WRONG_MESSAGE == 4
  // A rotation with a bool where the key slot goes.
  caf::anon_send(registry, identity_rotate_atom::value, std::string{"dev"}, true);
#else
#error "set OUTPOST_WRONG_MESSAGE"
#endif
  (void)writer, (void)mailbox, (void)directory, (void)registry;
}

} // namespace outpost::actors
