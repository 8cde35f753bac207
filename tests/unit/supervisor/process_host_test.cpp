// process_host with real processes (/bin/sh scripts): spawn with env and working folder,
// output to a timestamped rotating log, exit codes and signals, process groups, verification.
#include "supervisor/runtime/process_host.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include <sys/stat.h>
#include <unistd.h>

namespace outpost::supervisor {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class ProcessHost : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path()
           / ("outpost-proc-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::permissions(dir_, fs::perms::others_write, fs::perm_options::remove);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string script(const std::string& name, const std::string& body) {
    const auto p = (dir_ / name).string();
    std::ofstream{p} << "#!/bin/sh\n" << body << "\n";
    fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);
    return p;
  }

  /// Spawns and returns a waiter for the exit code.
  pid_t start(process_host& host, const std::string& path, std::vector<std::string> args = {},
              std::vector<std::string> env = {}) {
    std::string why;
    auto pid = host.spawn(
        {path, std::move(args), dir_.string(), std::move(env), log()},
        [this](pid_t, int code) {
          std::lock_guard<std::mutex> lock{mutex_};
          codes_.push_back(code);
          cv_.notify_all();
        },
        why);
    EXPECT_TRUE(pid) << why;
    return pid ? *pid : -1;
  }

  std::optional<int> wait_exit(std::size_t n = 1) {
    std::unique_lock<std::mutex> lock{mutex_};
    if (!cv_.wait_for(lock, 10s, [&] { return codes_.size() >= n; })) {
      return std::nullopt;
    }
    return codes_[n - 1];
  }

  std::string log() const { return (dir_ / "m.log").string(); }

  static inline int counter_ = 0;
  fs::path dir_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<int> codes_;
};

TEST_F(ProcessHost, RunsWithArgsEnvAndWorkingFolderAndLogsTimestampedLines) {
  process_host host;
  auto s = script("m.sh", "echo \"arg=$1 env=$GREETING pwd=$(pwd)\"; echo oops >&2; exit 3");
  start(host, s, {"one"}, {"GREETING=hello", "PATH=/usr/bin:/bin"});
  EXPECT_EQ(wait_exit(), 3);
  auto lines = read_log(log(), 0, 0);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find(" arg=one env=hello pwd=" + dir_.string()), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[1].find(" oops"), std::string::npos);
  EXPECT_GT(log_line_time_ms(lines[0]), 1'700'000'000'000);
  EXPECT_EQ(host.running(), 0u);
}

TEST_F(ProcessHost, StopsTheWholeProcessGroupAndReportsTheSignal) {
  process_host host;
  // The module starts a child of its own; both must go when the module is stopped.
  auto s = script("m.sh", "sleep 300 & echo child=$!; wait");
  auto pid = start(host, s);
  std::string child;
  for (int i = 0; i < 100 && child.empty(); ++i) {
    for (auto& l : read_log(log(), 0, 0)) {
      if (auto at = l.find("child="); at != std::string::npos) {
        child = l.substr(at + 6);
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(child.empty());
  host.signal(pid, SIGTERM);
  EXPECT_EQ(wait_exit(), 128 + SIGTERM);
  std::this_thread::sleep_for(100ms);
  // Gone, or a zombie waiting for whoever inherited it (PID 1 here may not reap).
  std::ifstream stat{"/proc/" + child + "/stat"};
  std::string pid_field, comm, state;
  stat >> pid_field >> comm >> state;
  EXPECT_TRUE(!stat || state == "Z") << "the module's child survived: state " << state;
}

TEST_F(ProcessHost, TheModuleDoesNotInheritBlockedSignalsOrDescriptors) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr); // as outpostd's signal thread does
  process_host host;
  auto s = script("m.sh", "ls /proc/self/fd | wc -l; exec sleep 300");
  auto pid = start(host, s);
  std::this_thread::sleep_for(200ms);
  host.signal(pid, SIGTERM);
  EXPECT_EQ(wait_exit(), 128 + SIGTERM);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  auto lines = read_log(log(), 0, 0);
  ASSERT_FALSE(lines.empty());
  // stdin, stdout, stderr and the fd `ls` itself opens.
  EXPECT_NE(lines[0].find(" 4"), std::string::npos) << lines[0];
}

TEST_F(ProcessHost, LogRotatesAtItsCapAndReadLogTails) {
  process_host host{log_limits{2000, 2}};
  auto s = script("m.sh", "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done");
  start(host, s);
  EXPECT_EQ(wait_exit(), 0);
  EXPECT_TRUE(fs::exists(log() + ".1"));
  EXPECT_TRUE(fs::exists(log() + ".2"));
  EXPECT_FALSE(fs::exists(log() + ".3"));
  EXPECT_LE(fs::file_size(log()), 2000u);
  auto last = read_log(log(), 3, 0);
  ASSERT_EQ(last.size(), 3u);
  EXPECT_NE(last[2].find(" line-299"), std::string::npos);
  EXPECT_NE(last[0].find(" line-297"), std::string::npos);
  EXPECT_TRUE(read_log(log(), 0, 32'000'000'000'000).empty()); // nothing that late
}

TEST_F(ProcessHost, ReportsWhatCannotStart) {
  process_host host;
  std::string why;
  auto r = host.spawn({(dir_ / "missing").string(), {}, dir_.string(), {}, log()}, nullptr, why);
  EXPECT_FALSE(r);
  EXPECT_NE(why.find("missing"), std::string::npos) << why;
}

TEST_F(ProcessHost, VerificationChecksDigestAndPermissions) {
  auto s = script("m.sh", "exit 0");
  const auto digest = file_digest(s);
  ASSERT_EQ(digest.size(), 7u + 64u);
  EXPECT_EQ(verify_executable(s, digest), "");
  auto wrong = "sha256:" + std::string(64, '0');
  EXPECT_NE(verify_executable(s, wrong).find("has digest " + digest), std::string::npos);
  fs::permissions(s, fs::perms::others_write, fs::perm_options::add);
  EXPECT_NE(verify_executable(s, digest).find("writable by everyone"), std::string::npos);
  fs::permissions(s, fs::perms::others_write | fs::perms::owner_exec | fs::perms::group_exec,
                  fs::perm_options::remove);
  EXPECT_NE(verify_executable(s, digest).find("not executable"), std::string::npos);
  EXPECT_NE(verify_executable((dir_ / "nope").string(), digest).find("nope"), std::string::npos);
  EXPECT_NE(verify_executable(dir_.string(), digest).find("not a regular file"), std::string::npos);
}

TEST_F(ProcessHost, RunsTheOpenedFileEvenWhenThePathIsSwappedAfterVerification) {
  auto s = script("m.sh", "echo verified");
  auto evil = script("evil.sh", "echo swapped");
  bool is_script = false;
  std::string why;
  const int fd = open_verified(s, file_digest(s), is_script, why);
  ASSERT_GE(fd, 0) << why;
  EXPECT_TRUE(is_script);
  fs::rename(evil, s); // the race an attacker would win against verify-then-exec-by-path
  process_host host;
  spawn_spec spec{s, {}, dir_.string(), {}, log()};
  spec.exec_fd = fd;
  spec.script = true;
  auto pid = host.spawn(
      spec,
      [this](pid_t, int code) {
        std::lock_guard<std::mutex> lock{mutex_};
        codes_.push_back(code);
        cv_.notify_all();
      },
      why);
  ::close(fd);
  ASSERT_TRUE(pid) << why;
  EXPECT_EQ(wait_exit(), 0);
  auto lines = read_log(log(), 0, 0);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(" verified"), std::string::npos) << lines[0];
}

TEST_F(ProcessHost, VerificationRefusesFilesOthersCouldChange) {
  auto s = script("m.sh", "exit 0");
  const auto digest = file_digest(s);
  fs::permissions(s, fs::perms::group_write, fs::perm_options::add);
  EXPECT_NE(verify_executable(s, digest).find("writable by its group"), std::string::npos);
  fs::permissions(s, fs::perms::group_write, fs::perm_options::remove);
  fs::permissions(dir_, fs::perms::group_write, fs::perm_options::add);
  EXPECT_NE(verify_executable(s, digest).find("folder"), std::string::npos);
  fs::permissions(dir_, fs::perms::group_write, fs::perm_options::remove);
  if (::geteuid() == 0) {
    ASSERT_EQ(::chown(s.c_str(), 65534, 65534), 0);
    EXPECT_NE(verify_executable(s, digest).find("owned by uid 65534"), std::string::npos);
  }
}

TEST_F(ProcessHost, ChildRunsAsItsUidInItsOwnSessionWithNoNewPrivs) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to switch uids";
  }
  fs::permissions(dir_, fs::perms::others_exec | fs::perms::others_read, fs::perm_options::add);
  auto s = script("m.sh",
                  "grep -E '^(Uid|Gid|Groups|NoNewPrivs):' /proc/self/status; "
                  "echo sid=$(cut -d' ' -f6 /proc/self/stat) pid=$$");
  fs::permissions(s, fs::perms::others_exec | fs::perms::others_read, fs::perm_options::add);
  bool is_script = false;
  std::string why;
  const int fd = open_verified(s, file_digest(s), is_script, why);
  ASSERT_GE(fd, 0) << why;
  process_host host;
  spawn_spec spec{s, {}, "/", {}, log()};
  spec.exec_fd = fd;
  spec.script = is_script;
  spec.uid = 61999;
  spec.gid = 61999;
  auto pid = host.spawn(
      spec,
      [this](pid_t, int code) {
        std::lock_guard<std::mutex> lock{mutex_};
        codes_.push_back(code);
        cv_.notify_all();
      },
      why);
  ::close(fd);
  ASSERT_TRUE(pid) << why;
  EXPECT_EQ(wait_exit(), 0);
  std::string all;
  for (const auto& l : read_log(log(), 0, 0)) {
    all += l + "\n";
  }
  EXPECT_NE(all.find("Uid:\t61999\t61999\t61999\t61999"), std::string::npos) << all;
  EXPECT_NE(all.find("Gid:\t61999\t61999\t61999\t61999"), std::string::npos) << all;
  EXPECT_NE(all.find("NoNewPrivs:\t1"), std::string::npos) << all;
  const auto sid = all.find("sid=");
  ASSERT_NE(sid, std::string::npos) << all;
  std::istringstream ids{all.substr(sid)};
  std::string sid_field;
  std::string pid_field;
  ids >> sid_field >> pid_field;
  EXPECT_EQ(sid_field.substr(4), pid_field.substr(4)) << "its own session";
}

TEST_F(ProcessHost, ReportsAStageThatFails) {
  auto s = script("m.sh", "exit 0");
  process_host host;
  std::string why;
  spawn_spec spec{s, {}, (dir_ / "no-such-folder").string(), {}, log()};
  auto r = host.spawn(spec, nullptr, why);
  EXPECT_FALSE(r);
  EXPECT_NE(why.find("chdir"), std::string::npos) << why;
}

} // namespace
} // namespace outpost::supervisor

namespace outpost::supervisor {
namespace {

TEST(LogSince, AcceptsUnixSecondsIsoAndDurations) {
  const std::int64_t now = 1'795'716'000'000;
  EXPECT_EQ(parse_since("", now), 0);
  EXPECT_EQ(parse_since("1795715000", now), 1'795'715'000'000);
  EXPECT_EQ(parse_since("10m", now), now - 600'000);
  EXPECT_EQ(parse_since("2h", now), now - 7'200'000);
  EXPECT_EQ(parse_since("1d", now), now - 86'400'000);
  EXPECT_EQ(parse_since("30s", now), now - 30'000);
  EXPECT_EQ(parse_since("2026-11-26T18:00:00Z", now), log_line_time_ms("2026-11-26T18:00:00.000Z"));
  EXPECT_EQ(parse_since("yesterday", now), -1);
  EXPECT_EQ(parse_since("10x", now), -1);
}

} // namespace
} // namespace outpost::supervisor
