#include "protocols/transport/io_runner.hpp"

#include "protocols/transport/detail/io_runner_impl.hpp"

#include <boost/asio/defer.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace outpost::transport {

io_runner::io_runner(std::size_t threads, std::size_t handler_threads) {
  const auto n = std::max<std::size_t>(threads, 1);
  // A hint of 1 tells Asio one thread runs the loop (its posts skip waking anyone); it still
  // locks, so other threads (the storage writer, timers, HTTP handlers) may post to it.
  impl_ = std::make_unique<impl>(n == 1 ? 1 : static_cast<int>(n));
  impl_->handlers_work.emplace(impl_->handlers.get_executor());
  for (std::size_t i = 0; i < std::max<std::size_t>(handler_threads, 1); ++i) {
    impl_->handler_threads.emplace_back([ctx = &impl_->handlers] {
      // Lower priority than the I/O and actor threads (Linux: nice applies per thread).
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
      for (;;) {
        try {
          ctx->run();
          return;
        } catch (...) {
        }
      }
    });
  }
  impl_->work.emplace(impl_->context.get_executor());
  impl_->thread_count = n;
  impl_->threads.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    impl_->threads.emplace_back([ctx = &impl_->context] {
      // Handlers of this library catch their own exceptions; this loop is a last line of
      // defence, because an exception escaping a thread terminates the whole daemon.
      for (;;) {
        try {
          ctx->run();
          return;
        } catch (...) {
        }
      }
    });
  }
}

io_runner::~io_runner() {
  stop();
}

void io_runner::stop_handlers() {
  std::lock_guard<std::mutex> guard{impl_->stop_mutex};
  stop_handlers_locked();
}

void io_runner::stop_handlers_locked() {
  impl_->handlers_work.reset();
  for (auto& t : impl_->handler_threads) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();
    } else if (t.joinable()) {
      t.join();
    }
  }
  impl_->handler_threads.clear();
}

void io_runner::stop() {
  std::lock_guard<std::mutex> guard{impl_->stop_mutex};
  if (impl_->stopped) {
    return;
  }
  impl_->stopped = true;
  // Handlers first (what is queued still runs): one may post its answer to the loop below.
  stop_handlers_locked();
  impl_->work.reset();
  impl_->context.stop();
  const auto self = std::this_thread::get_id();
  for (auto& t : impl_->threads) {
    if (t.get_id() == self) {
      // Misuse (stop from a handler): joining would throw; let the thread finish on its own.
      t.detach();
    } else if (t.joinable()) {
      t.join();
    }
  }
  impl_->threads.clear();
}

std::size_t io_runner::thread_count() const noexcept {
  return impl_->thread_count;
}

void io_runner::execute(std::function<void()> job) {
  auto& ctx = impl_->context;
  if (ctx.get_executor().running_in_this_thread()) {
    boost::asio::defer(ctx, std::move(job));
  } else {
    boost::asio::post(ctx, std::move(job));
  }
}

bool io_runner::running_in_this_thread() const noexcept {
  return impl_->context.get_executor().running_in_this_thread();
}

} // namespace outpost::transport
