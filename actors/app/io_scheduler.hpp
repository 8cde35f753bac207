#pragma once

namespace caf {
class actor_system_config;
} // namespace caf

namespace outpost::transport {
class io_runner;
} // namespace outpost::transport

namespace outpost::actors {

/// Makes the actor system built from `cfg` run its scheduled actors on the I/O threads of `io`
/// instead of on CAF's own worker threads (`[runtime] scheduler = "io"`).
///
/// Why: a message used to cross about eight threads (I/O → session → writer → session → I/O,
/// writer → mailbox → module session → I/O), and on a virtual machine every wake-up costs a
/// context switch the hypervisor makes expensive; at a gateway's moderate load, where each
/// message arrives alone, those wake-ups were half of the broker's CPU. With actors on the
/// I/O threads, a send between actors and a write from an actor to its socket queue behind the
/// running handler on the same thread (see `io_runner::execute`): the socket read, the
/// session, the mailbox and the module's socket write run one after the other without a
/// hand-off. Only detached actors (the storage writer, blocking work) and timers wake an I/O
/// thread from outside.
///
/// Detached actors keep their own threads; timers (`delayed_send`, request timeouts) run on a
/// clock thread as with CAF's schedulers. `io` must outlive the actor system: the system's
/// shutdown waits for its actors, which run on `io`'s threads.
void use_io_scheduler(caf::actor_system_config& cfg, transport::io_runner& io);

} // namespace outpost::actors
