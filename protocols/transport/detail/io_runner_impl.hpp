#pragma once

// Private to protocols/transport: only .cpp files of this library include this header, so the
// public headers stay free of Asio (it is expensive to compile).

#include "protocols/transport/io_runner.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace outpost::transport {

struct io_runner::impl {
  explicit impl(int concurrency_hint) : context(concurrency_hint) {}

  boost::asio::io_context context;
  /// Keeps `run()` from returning while there is no work; reset by `stop()`.
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  std::size_t thread_count = 0;
  /// Where the HTTP servers' handlers run: never on `threads`, so a handler that blocks or
  /// works long stalls no socket. Its threads run at nice +10, so a 6 MB scrape takes the CPU
  /// the broker leaves over rather than competing with it. Joined by `stop()`, so thread-local
  /// state of whatever the handlers used (CAF's scoped actors) is gone before the runner's
  /// owner tears down.
  boost::asio::io_context handlers;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      handlers_work;
  std::vector<std::thread> handler_threads;
  std::mutex stop_mutex;
  bool stopped = false;
};

namespace detail {

/// The one way for this library's .cpp files to reach the runner's `io_context`.
struct io_runner_access {
  static boost::asio::io_context& context(io_runner& io) { return io.impl_->context; }
  static boost::asio::io_context& handlers(io_runner& io) { return io.impl_->handlers; }
};

} // namespace detail
} // namespace outpost::transport
