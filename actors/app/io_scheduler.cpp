#include "actors/app/io_scheduler.hpp"

#include "protocols/transport/io_runner.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/detail/set_thread_name.hpp>
#include <caf/detail/thread_safe_actor_clock.hpp>
#include <caf/execution_unit.hpp>
#include <caf/logger.hpp>
#include <caf/resumable.hpp>
#include <caf/scheduler/abstract_coordinator.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace outpost::actors {

namespace {

/// CAF's scheduler interface over the I/O runner: `enqueue` hands a runnable actor to
/// `io_runner::execute`, which keeps it on the calling I/O thread when there is one.
class io_coordinator final : public caf::scheduler::abstract_coordinator {
public:
  io_coordinator(caf::actor_system& sys, transport::io_runner& io)
      : abstract_coordinator(sys),
        io_(io) {}

  void enqueue(caf::resumable* job) override {
    pending_.fetch_add(1, std::memory_order_relaxed);
    io_.execute([this, job] { run(job); });
  }

  caf::detail::thread_safe_actor_clock& clock() noexcept override { return clock_; }

protected:
  void start() override {
    timer_ = std::thread{[this] {
      caf::detail::set_thread_name("caf.clock");
      system().thread_started();
      clock_.run_dispatch_loop();
      system().thread_terminates();
    }};
    abstract_coordinator::start(); // the printer (a detached utility actor)
  }

  void stop() override {
    stop_actors();
    // The system has waited for its actors; what is still queued are the last resumptions of
    // finished ones (each holds a reference). Let them run before the system goes away.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (pending_.load(std::memory_order_acquire) != 0
           && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    clock_.cancel_dispatch_loop();
    timer_.join();
    release_loggers();
  }

  /// CAF keeps a reference to the system's logger in a thread-local of every thread that
  /// spawned an actor (here: I/O threads, where sessions are spawned), and the system's
  /// destructor waits until the logger is gone. The I/O threads outlive the system, so each
  /// drops its reference now: one job per thread, each holding its thread until all have run,
  /// so no thread takes two.
  void release_loggers() {
    struct barrier {
      std::mutex m;
      std::condition_variable cv;
      std::size_t threads = 0;
      std::size_t arrived = 0;
      std::size_t left = 0;
    };
    auto b = std::make_shared<barrier>(); // shared: a job may outlive a wait that gave up
    b->threads = io_.thread_count();
    for (std::size_t i = 0; i < b->threads; ++i) {
      io_.execute([b] {
        caf::logger::set_current_actor_system(nullptr);
        std::unique_lock<std::mutex> lock{b->m};
        ++b->arrived;
        b->cv.notify_all();
        b->cv.wait_for(lock, std::chrono::seconds(5), [&] { return b->arrived == b->threads; });
        ++b->left;
        b->cv.notify_all();
      });
    }
    std::unique_lock<std::mutex> lock{b->m};
    // Bounded: an I/O runner already stopped runs nothing (and holds no reference either).
    b->cv.wait_for(lock, std::chrono::seconds(10), [&] { return b->left == b->threads; });
  }

private:
  /// What an actor sees as its thread while it runs: its sends to other actors schedule them
  /// through `exec_later`, i.e. on this I/O thread, behind it.
  struct unit final : caf::execution_unit {
    explicit unit(caf::actor_system* sys, io_coordinator* c) : execution_unit(sys), owner(c) {}
    void exec_later(caf::resumable* job) override { owner->enqueue(job); }
    io_coordinator* owner;
  };

  void run(caf::resumable* job) {
    unit u{&system(), this};
    switch (job->resume(&u, max_throughput())) {
      case caf::resumable::resume_later:
        enqueue(job); // keeps its reference; queues behind the others on this thread
        break;
      case caf::resumable::done:
      case caf::resumable::awaiting_message:
        caf::intrusive_ptr_release(job); // the reference taken when it was scheduled
        break;
      case caf::resumable::shutdown_execution_unit:
        break; // only CAF's own shutdown helpers answer this; none are sent here
    }
    pending_.fetch_sub(1, std::memory_order_release);
  }

  transport::io_runner& io_;
  caf::detail::thread_safe_actor_clock clock_;
  std::thread timer_;
  std::atomic<std::size_t> pending_{0}; ///< scheduled and not yet finished resumptions
};

} // namespace

void use_io_scheduler(caf::actor_system_config& cfg, transport::io_runner& io) {
  cfg.module_factories.push_back([&io](caf::actor_system& sys) -> caf::actor_system::module* {
    return new io_coordinator(sys, io);
  });
}

} // namespace outpost::actors
