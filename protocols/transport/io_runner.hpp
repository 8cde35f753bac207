#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace outpost::transport {

namespace detail {
struct io_runner_access;
} // namespace detail

/// A pool of threads running one I/O event loop, shared by the servers and clients of this
/// library (http_server, stream_server), plus the pool the HTTP handlers run on.
///
/// Owns the event loop and its threads; the threads start in the constructor and run until
/// `stop()`. Objects started on a runner (e.g. `http_server`) must be destroyed before the runner.
/// `stop()` and the destructor may be called from any thread except one of the runner's own
/// threads (a thread cannot join itself); all other members are thread-safe.
class io_runner {
public:
  /// Starts `threads` threads (at least one) running the event loop, and a separate pool of
  /// `handler_threads` (at least one) on which the HTTP servers call their handlers, so a
  /// handler that blocks never holds an I/O thread.
  explicit io_runner(std::size_t threads = 1, std::size_t handler_threads = 4);
  ~io_runner();

  io_runner(const io_runner&) = delete;
  io_runner& operator=(const io_runner&) = delete;

  /// Stops the event loop and joins the threads. Pending work is abandoned: its handlers are
  /// destroyed, not run, when the runner is destroyed. Idempotent.
  void stop();

  /// Finishes what the HTTP handler pool has queued and joins its threads; the I/O threads run
  /// on. For an owner whose actor system must go before the I/O threads do: a handler thread
  /// that used a CAF scoped actor holds the system's logger until it ends, and the system's
  /// destructor waits for that. Idempotent; `stop()` does it too.
  void stop_handlers();

  /// The number of threads started by the constructor.
  std::size_t thread_count() const noexcept;

  /// Runs `job` on one of the loop's threads, never inline. Called from one of them, the job
  /// queues behind the handler that is running, on this same thread, and wakes no other thread
  /// (Asio's continuation): a chain of hand-offs between the code on one I/O thread (socket
  /// handlers, actors run by `actors/app/io_scheduler`) costs no context switch. From any
  /// other thread it wakes one. After `stop()` the job is dropped (destroyed, not run).
  void execute(std::function<void()> job);

  /// Whether the calling thread is one of the loop's threads.
  bool running_in_this_thread() const noexcept;

private:
  void stop_handlers_locked();

  friend struct detail::io_runner_access;
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace outpost::transport
