#include "actors/common/mailbox_interface.hpp"
#include "actors/common/writer_interface.hpp"
#include "actors/hub/directory_interface.hpp"
#include "actors/workload/registry_interface.hpp"

#include <caf/response_type.hpp>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

// The typed handles turn a wrong message into a compile error: `send`, `request` and
// `anon_send` static_assert on `caf::response_type_unbox<signatures, message>::valid`
// (caf/mixin/sender.hpp, requester.hpp). These asserts pin down, through that same trait, what
// each handle takes and answers; typed_handles_wrong_message.cpp checks that sending what it
// does not take really fails to compile (ctest: typed_handles_reject_*).

namespace outpost::actors {
namespace {

/// Would `send(handle, Ts...)` compile?
template <class Handle, class... Ts>
constexpr bool accepts =
    caf::response_type_unbox<caf::signatures_of_t<Handle>, caf::detail::type_list<Ts...>>::valid;

/// The reply `request(handle, Ts...)` yields (`.then` handlers are checked against it).
template <class Handle, class... Ts>
using reply_of = typename caf::response_type_unbox<caf::signatures_of_t<Handle>,
                                                   caf::detail::type_list<Ts...>>::type;

template <class... Ts>
using list = caf::detail::type_list<Ts...>;

using storage::queue_handle;
using storage::sequence;
using strings = std::vector<std::string>;

// The writer.
static_assert(accepts<writer_actor, append_atom, append_requests>);
static_assert(
    std::is_same_v<reply_of<writer_actor, append_atom, append_requests>, list<append_outcomes>>);
static_assert(accepts<writer_actor, read_atom, queue_handle, sequence, std::uint32_t>);
static_assert(
    std::is_same_v<reply_of<writer_actor, read_atom, queue_handle, sequence, std::uint32_t>,
                   list<read_reply>>);
static_assert(accepts<writer_actor, ack_atom, ack_requests>);
static_assert(std::is_same_v<reply_of<writer_actor, ack_atom, ack_requests>, list<void>>);
static_assert(!accepts<writer_actor, append_atom, strings>); // a mailbox's append
static_assert(!accepts<writer_actor, ack_atom, sequence>);   // a mailbox's ack
static_assert(!accepts<writer_actor, flush_atom>);           // internal timer
static_assert(!accepts<writer_actor, cleanup_atom>);         // internal timer
static_assert(!accepts<writer_actor, read_atom, queue_handle, sequence, std::size_t>);
// The writer tells a mailbox what became durable; a mailbox handle converts to that listener.
// (CAF checks such a conversion with a static_assert inside the constructor, not by SFINAE,
// so only the positive case can be asserted here.)
static_assert(std::is_convertible_v<mailbox_actor, durable_listener_actor>);

// The mailbox.
static_assert(accepts<mailbox_actor, append_atom, strings, std::int64_t>);
static_assert(std::is_same_v<reply_of<mailbox_actor, append_atom, strings, std::int64_t>,
                             list<append_outcomes>>);
static_assert(accepts<mailbox_actor, subscribe_atom, consumer_actor>);
static_assert(accepts<mailbox_actor, ack_atom, sequence>);
static_assert(accepts<mailbox_actor, ack_atom, std::vector<sequence>>);
static_assert(accepts<mailbox_actor, nack_atom, sequence>);
static_assert(!accepts<mailbox_actor, append_atom, append_requests>); // the writer's append
static_assert(!accepts<mailbox_actor, ack_atom, ack_requests>);       // the writer's ack
static_assert(!accepts<mailbox_actor, flush_atom>);                   // internal
static_assert(!accepts<mailbox_actor, deliver_atom, queue_handle, entries>);
static_assert(accepts<consumer_actor, deliver_atom, queue_handle, entries>);
static_assert(accepts<consumer_actor, drained_atom, queue_handle>);

// The session directory.
static_assert(accepts<directory_actor, register_atom, std::string, directory_session_actor, bool>);
static_assert(std::is_same_v<
              reply_of<directory_actor, register_atom, std::string, directory_session_actor, bool>,
              list<session_info>>);
static_assert(accepts<directory_actor, subs_atom, std::string, strings, strings>);
static_assert(accepts<directory_actor, unregister_atom, std::string, directory_session_actor>);
static_assert(!accepts<directory_actor, register_atom, std::string, bool>);
static_assert(!accepts<directory_actor, session_restore_atom, std::string, bool>); // the writer's

// The identity registry.
static_assert(accepts<registry_actor, identity_add_atom, storage::identity_request>);
static_assert(std::is_same_v<reply_of<registry_actor, identity_remove_atom, std::string>,
                             list<identity_reply>>);
static_assert(accepts<registry_actor, identity_enable_atom, std::string, bool>);
static_assert(accepts<registry_actor, identity_rotate_atom, std::string, key_slot>);
static_assert(!accepts<registry_actor, identity_add_atom, std::string>);
static_assert(!accepts<registry_actor, identity_rotate_atom, std::string, bool>);

TEST(TypedHandles, WrongMessagesAreRejectedAtCompileTime) {
  // Everything above is checked by the compiler; this test only makes it visible in ctest.
  SUCCEED();
}

} // namespace
} // namespace outpost::actors
