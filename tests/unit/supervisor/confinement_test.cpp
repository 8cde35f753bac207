// Module uid allocation and the cleanup of a killed daemon's leftovers, with real processes.
#include "supervisor/runtime/confinement.hpp"

#include "supervisor/runtime/process_host.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

namespace outpost::supervisor {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(ModuleUids, StablePerNameSkippingSystemAndTakenIds) {
  const auto none = [](std::uint32_t) {
    return false;
  };
  auto a = allocate_module_uid("filter", 61184, 65519, none);
  ASSERT_TRUE(a);
  EXPECT_EQ(allocate_module_uid("filter", 61184, 65519, none), a) << "same name, same uid";
  EXPECT_GE(*a, 61184u);
  EXPECT_LE(*a, 65519u);
  auto b = allocate_module_uid("filter", 61184, 65519, [&](std::uint32_t u) { return u == *a; });
  ASSERT_TRUE(b);
  EXPECT_NE(*b, *a) << "an id another module holds is skipped";
  // A range holding only ids the system knows (root, nobody) has nothing to give.
  EXPECT_FALSE(allocate_module_uid("x", 0, 0, none));
  EXPECT_FALSE(allocate_module_uid("x", 65534, 65534, none));
  EXPECT_TRUE(system_id_taken(0));
}

/// A child that sleeps, reaped by the test.
pid_t sleeper() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setsid();
    ::execl("/bin/sleep", "sleep", "300", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

bool exited(pid_t pid) {
  for (int i = 0; i < 300; ++i) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

TEST(Leftovers, OnlyTheRecordedProcessWithItsStartTimeIsKilled) {
  const auto dir = fs::temp_directory_path() / ("outpost-leftovers-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const pid_t ours = sleeper();
  const pid_t reused = sleeper();
  ASSERT_TRUE([&] {
    for (int i = 0; i < 200; ++i) { // until both have exec'd (their start time is set at fork)
      if (process_start_time(ours) != 0 && process_start_time(reused) != 0) {
        return true;
      }
      std::this_thread::sleep_for(5ms);
    }
    return false;
  }());
  record_started(dir.string(), "ours", ours);
  // A record whose pid now names another process (pid reuse): its start time differs.
  std::ofstream{dir / "stale.pid"} << reused << " " << process_start_time(reused) + 1 << "\n";
  auto killed = end_leftovers(dir.string(), "", 2000);
  ASSERT_EQ(killed.size(), 1u);
  EXPECT_EQ(killed[0], "ours " + std::to_string(ours));
  EXPECT_TRUE(exited(ours));
  EXPECT_EQ(::waitpid(reused, nullptr, WNOHANG), 0) << "a process that is not ours was killed";
  EXPECT_FALSE(fs::exists(dir / "ours.pid"));
  EXPECT_FALSE(fs::exists(dir / "stale.pid"));
  ::kill(reused, SIGKILL);
  ::waitpid(reused, nullptr, 0);
  fs::remove_all(dir);
}

} // namespace
} // namespace outpost::supervisor
