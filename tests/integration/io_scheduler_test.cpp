// The "io" scheduler (actors/app/io_scheduler): CAF actors run on the I/O runner's threads.
// Real CAF, real Asio threads: actors talk, timers fire, detached actors answer, actors spawned
// from an I/O thread and scoped actors on other threads do not keep the system from shutting
// down (two hangs found while building it).

#include "actors/app/io_scheduler.hpp"

#include "protocols/transport/io_runner.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>

namespace {

using namespace std::chrono_literals;
using ping_atom = caf::atom_constant<caf::atom("ping")>;
using where_atom = caf::atom_constant<caf::atom("where")>;

/// Fails the whole binary if a shutdown hangs, instead of leaving ctest to time out silently.
class watchdog {
public:
  explicit watchdog(std::chrono::seconds limit)
      : thread_([this, limit] {
          std::unique_lock<std::mutex> lock{m_};
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "io_scheduler_test: hung for %lld s\n",
                         static_cast<long long>(limit.count()));
            std::abort();
          }
        }) {}
  ~watchdog() {
    {
      std::lock_guard<std::mutex> lock{m_};
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

private:
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

caf::behavior echo(caf::event_based_actor*, outpost::transport::io_runner* io) {
  return {
      [](ping_atom, int n) { return n + 1; },
      [io](where_atom) { return io->running_in_this_thread(); },
  };
}

/// Asks `echo` for n + 1 until 10,000, one request at a time, then reports.
void ping_chain(caf::event_based_actor* self, caf::actor echo, int n, std::promise<int>* done) {
  if (n == 10000) {
    done->set_value(n);
    self->quit();
    return;
  }
  self->request(echo, caf::infinite, ping_atom::value, n).then([=](int m) {
    ping_chain(self, echo, m, done);
  });
}

/// A system on the "io" scheduler over two I/O threads, destroyed before them (as in the
/// daemon), under a watchdog.
class IoScheduler : public testing::Test {
protected:
  IoScheduler() {
    outpost::actors::use_io_scheduler(cfg_, io_);
    sys_ = std::make_unique<caf::actor_system>(cfg_);
  }

  watchdog dog_{60s};
  outpost::transport::io_runner io_{2, 1};
  caf::actor_system_config cfg_;
  std::unique_ptr<caf::actor_system> sys_;
};

TEST_F(IoScheduler, ActorsRunOnTheIoThreadsAndTalk) {
  auto a = sys_->spawn(echo, &io_);
  // A chain of 10,000 request/response pairs between two scheduled actors.
  std::promise<int> result;
  sys_->spawn(ping_chain, a, 0, &result);
  auto f = result.get_future();
  ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(f.get(), 10000);
  caf::scoped_actor self{*sys_}; // from this (non-I/O) thread
  bool on_io = false;
  self->request(a, 5s, where_atom::value).receive([&](bool b) { on_io = b; }, [](caf::error&) {});
  EXPECT_TRUE(on_io);
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

/// Blocks for `work` per request (a detached actor's kind of job), answers n * 2.
caf::behavior doubler(caf::event_based_actor*, std::chrono::milliseconds work) {
  return {[work](ping_atom, int n) {
    std::this_thread::sleep_for(work);
    return n * 2;
  }};
}

/// Asks `worker` once, then waits 50 ms on the clock and reports how long it all took.
caf::behavior wait_then_report(caf::event_based_actor* self, caf::actor worker,
                               std::chrono::steady_clock::time_point start,
                               std::promise<std::chrono::milliseconds>* waited) {
  self->request(worker, 5s, ping_atom::value, 21).then([=](int n) {
    EXPECT_EQ(n, 42);
    self->delayed_send(self, 50ms, where_atom::value);
  });
  return {[=](where_atom) {
    waited->set_value(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start));
    self->quit();
  }};
}

TEST_F(IoScheduler, TimersAndDetachedActors) {
  // A detached actor (blocking work has its own thread) answers a scheduled one; the
  // scheduled one then waits 50 ms on the clock before it reports.
  auto worker = sys_->spawn<caf::detached>(doubler, 10ms);
  std::promise<std::chrono::milliseconds> waited;
  sys_->spawn(wait_then_report, worker, std::chrono::steady_clock::now(), &waited);
  auto f = waited.get_future();
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_GE(f.get(), 50ms);
  caf::anon_send_exit(worker, caf::exit_reason::user_shutdown);
}

TEST_F(IoScheduler, ShutsDownAfterSpawnsFromIoThreads) {
  // CAF keeps the logger referenced from every thread that spawned an actor (or made a scoped
  // actor), and the system's destructor waits for the logger: an I/O thread that spawned a
  // session used to hang the shutdown. (Threads that end first, like the scoped actor's here,
  // release theirs; the daemon ends its HTTP handler threads before the system for this.)
  std::promise<caf::actor> spawned;
  io_.execute([&] { spawned.set_value(sys_->spawn(echo, &io_)); }); // as an accept handler does
  auto a = spawned.get_future().get();
  std::thread other{[&] {
    caf::scoped_actor self{*sys_};
    int got = 0;
    self->request(a, 5s, ping_atom::value, 1).receive([&](int n) { got = n; }, [](caf::error&) {});
    EXPECT_EQ(got, 2);
  }};
  other.join();
  caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  a = nullptr;
  const auto start = std::chrono::steady_clock::now();
  sys_.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 15s);
}

} // namespace
