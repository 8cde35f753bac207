// Crash consistency of the fsync store: SIGKILL the writer at random points, reopen, and
// check that every acknowledged entry is there, in order, uncorrupted.

#include "storage/message_store.hpp"
#include "storage/rocksdb/rocksdb_kv_store.hpp"
#include "tests/integration/crash_body.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <random>
#include <sstream>
#include <thread>

namespace outpost::test {
namespace {

using namespace std::chrono_literals;

struct acked {
  int trial;
  std::uint64_t n;
};

TEST(StoreCrash, EveryAcknowledgedEntrySurvivesSigkill) {
  const auto dir = make_temp_dir("crash");
  const auto db = (dir / "db").string();
  std::mt19937 rng{std::random_device{}()};
  std::map<char, std::map<storage::sequence, acked>> all; // queue -> seq -> what was acked
  constexpr int trials = 24;
  std::size_t total = 0;
  for (int trial = 0; trial < trials; ++trial) {
    process p{{bin_path("store_crash_writer"), db, std::to_string(trial)}, dir / "writer.stderr"};
    // Kill points: right at start-up, after a few acks, or deep into a run.
    const std::size_t kill_after = std::uniform_int_distribution<std::size_t>{0, 4000}(rng);
    std::size_t seen = 0;
    auto take = [&](const std::string& line) {
      std::istringstream in{line};
      char q = 0;
      storage::sequence seq = 0;
      std::uint64_t n = 0;
      ASSERT_TRUE(in >> q >> seq >> n) << line;
      ASSERT_TRUE(all[q].emplace(seq, acked{trial, n}).second) << "sequence reused: " << line;
      ++seen;
    };
    if (kill_after < 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kill_after));
    } else {
      while (seen < kill_after) {
        auto line = p.read_line(10s);
        ASSERT_TRUE(line) << "writer stalled: " << p.stderr_text();
        take(*line);
      }
    }
    p.signal(SIGKILL);
    ASSERT_EQ(p.wait(5s).value_or(-1), 128 + SIGKILL);
    while (auto line = p.read_line(1s)) {
      take(*line); // acknowledged before the kill, still in the pipe
    }
    total += seen;

    // Reopen and compare: every acknowledged entry, in order, with its exact body.
    std::string why;
    auto kv = storage::rocksdb_kv_store::open({db, true}, why);
    ASSERT_TRUE(kv) << why;
    auto store = storage::message_store::open(**kv, {});
    ASSERT_TRUE(store) << store.error().message();
    for (auto& [name, q] : store->queues()) {
      auto entries = store->read(q, 0, 10'000'000, 1);
      ASSERT_TRUE(entries) << entries.error().message();
      const char qc = name.endpoint.back();
      std::map<storage::sequence, const storage::stored_entry*> by_seq;
      storage::sequence prev = 0;
      for (const auto& e : *entries) {
        ASSERT_GT(e.seq, prev) << "out of order";
        prev = e.seq;
        by_seq[e.seq] = &e;
      }
      for (const auto& [seq, a] : all[qc]) {
        auto i = by_seq.find(seq);
        ASSERT_NE(i, by_seq.end())
            << "trial " << trial << ": acknowledged " << qc << " " << seq << " lost";
        ASSERT_EQ(i->second->body, crash_body(a.trial, a.n)) << "corrupt " << qc << " " << seq;
      }
      EXPECT_GE(store->stats(q)->next, prev + 1);
    }
  }
  EXPECT_GT(total, 1000u) << "the kills came too early to test much";
  std::filesystem::remove_all(dir);
}

} // namespace
} // namespace outpost::test
