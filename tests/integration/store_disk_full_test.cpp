// The RocksDB engine on a filesystem that another process fills to the last byte (issue 8,
// item 5): RocksDB itself meets ENOSPC, which Debian's librocksdb 7.8 turned into an abort
// (an assertion on its info log). Now it is `errc::disk_full`, and the store resumes by itself.

#include "storage/errc.hpp"
#include "storage/rocksdb/rocksdb_kv_store.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

namespace outpost::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class StoreDiskFull : public ::testing::Test {
protected:
  void SetUp() override {
    if (::geteuid() != 0) {
      GTEST_SKIP() << "mounting a tmpfs needs root";
    }
    dir_ = make_temp_dir("diskfull");
    ASSERT_EQ(::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=8m"), 0) << std::strerror(errno);
    mounted_ = true;
  }
  void TearDown() override {
    kv_.reset();
    if (mounted_) {
      ::umount2(dir_.c_str(), MNT_DETACH);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void open() {
    storage::rocksdb_options o;
    o.path = (dir_ / "db").string();
    o.log = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock{mu_};
      log_.emplace_back(line);
    };
    std::string why;
    auto kv = storage::rocksdb_kv_store::open(o, why);
    ASSERT_TRUE(kv) << why;
    kv_ = std::move(*kv);
  }

  void fill(const std::string& name) {
    const int fd = ::open((dir_ / name).c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    ASSERT_GE(fd, 0);
    const std::string chunk(16 * 1024, 'f');
    while (::write(fd, chunk.data(), chunk.size()) > 0) {
    }
    ::close(fd);
  }

  result<void> put(const std::string& key, std::size_t bytes, storage::write_mode mode) {
    storage::write_batch b;
    b.put(storage::column::agent, key, std::string(bytes, 'v'));
    return kv_->write(b, mode);
  }

  fs::path dir_;
  bool mounted_ = false;
  std::unique_ptr<storage::rocksdb_kv_store> kv_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

TEST_F(StoreDiskFull, RocksDbOutOfSpaceIsAnErrorNotAnAbortAndItResumes) {
  open();
  ASSERT_TRUE(put("before", 1000, storage::write_mode::durable));
  EXPECT_FALSE(kv_->check_space().disk_full);
  EXPECT_GT(kv_->check_space().reserve_bytes, 0u);

  fill("filler1"); // the store's headroom is gone: it gives RocksDB the reserve
  auto s = kv_->check_space();
  EXPECT_TRUE(s.disk_full);
  EXPECT_EQ(s.reserve_bytes, 0u);
  EXPECT_EQ(put("refused", 1000, storage::write_mode::durable).error(), storage::errc::disk_full);
  fill("filler2"); // and another process takes that too

  // Lazy writes (acks) still go to RocksDB, which now runs out of space itself.
  std::error_code failed;
  for (int i = 0; i < 400 && !failed; ++i) {
    if (auto r = put("lazy" + std::to_string(i), 32 * 1024, storage::write_mode::lazy); !r) {
      failed = r.error();
    }
  }
  EXPECT_EQ(failed, storage::errc::disk_full);
  {
    std::lock_guard<std::mutex> lock{mu_};
    bool met = false;
    for (const auto& l : log_) {
      met = met || l.find("RocksDB ran out of space") != std::string::npos;
    }
    EXPECT_TRUE(met) << "RocksDB itself never met ENOSPC";
  }
  // RocksDB's recovery thread polls and logs meanwhile: the process must survive it.
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(kv_->check_space().disk_full);

  fs::remove(dir_ / "filler1");
  fs::remove(dir_ / "filler2");
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (kv_->check_space().disk_full && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(kv_->check_space().disk_full);
  ASSERT_TRUE(put("after", 1000, storage::write_mode::durable));
  EXPECT_TRUE(kv_->get(storage::column::agent, "before")->has_value());

  kv_.reset();
  open(); // and it opens again, with everything durable still there
  EXPECT_TRUE(kv_->get(storage::column::agent, "before")->has_value());
  EXPECT_TRUE(kv_->get(storage::column::agent, "after")->has_value());
}

} // namespace
} // namespace outpost::test
