#include "storage/message_store.hpp"

#include "storage/errc.hpp"
#include "storage/memory_kv_store.hpp"
#include "storage/records.hpp"
#include "storage/rocksdb/rocksdb_kv_store.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <random>

namespace outpost::storage {
namespace {

namespace fs = std::filesystem;

/// Runs every test on both engines: the memory one is the reference model.
class MessageStore : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path()
           / ("outpost-store-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(dir_);
    reopen();
  }
  void TearDown() override {
    store_.reset();
    kv_.reset();
    fs::remove_all(dir_);
  }

  /// Closes and reopens the store on the same data (memory: same engine instance).
  void reopen(store_limits limits = {}) {
    store_.reset();
    if (GetParam() == "rocksdb") {
      kv_.reset();
      std::string why;
      auto kv = rocksdb_kv_store::open({dir_.string(), true}, why);
      ASSERT_TRUE(kv) << why;
      kv_ = std::move(*kv);
    } else if (!kv_) {
      kv_ = std::make_unique<memory_kv_store>();
    }
    auto s = message_store::open(*kv_, limits);
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::make_unique<message_store>(std::move(*s));
  }

  queue_handle queue(const std::string& name, std::uint32_t prio = 0) {
    auto q = store_->open_queue({name, prio});
    EXPECT_TRUE(q);
    return *q;
  }

  sequence append_one(queue_handle q, const std::string& body, std::int64_t ttl = -1,
                      std::int64_t now = 1000) {
    auto r = store_->append({{body, {{q, ttl}}}}, now);
    EXPECT_TRUE(r.at(0)) << r.at(0).error().message();
    return r.at(0)->seqs.at(0);
  }

  std::vector<std::string> bodies(queue_handle q, std::int64_t now = 1000, sequence from = 0) {
    auto r = store_->read(q, from, 1000, now);
    EXPECT_TRUE(r);
    std::vector<std::string> out;
    for (auto& e : *r) {
      out.push_back(e.body);
    }
    return out;
  }

  static inline int counter_ = 0;
  fs::path dir_;
  std::unique_ptr<kv_store> kv_;
  std::unique_ptr<message_store> store_;
};

using strings = std::vector<std::string>;

TEST_P(MessageStore, ReadsEntriesInFifoOrder) {
  auto q = queue("mod1/input1");
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(append_one(q, "m" + std::to_string(i)), static_cast<sequence>(i + 1));
  }
  auto r = store_->read(q, 0, 1000, 1000);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 300u);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ((*r)[i].seq, static_cast<sequence>(i + 1));
    EXPECT_EQ((*r)[i].body, "m" + std::to_string(i));
  }
  EXPECT_EQ(store_->read(q, 299, 10, 1000)->size(), 2u);
  EXPECT_EQ(store_->read(q, 0, 7, 1000)->size(), 7u);
}

TEST_P(MessageStore, KeepsQueuesApartAndFifoAcrossSequenceByteBoundaries) {
  auto a = queue("a");
  auto b = queue("a", 1); // same endpoint, other priority: other queue
  EXPECT_NE(a, b);
  for (int i = 0; i < 600; ++i) { // crosses the 0xFF -> 0x100 big-endian boundary twice
    append_one(i % 2 ? a : b, std::to_string(i));
  }
  auto ra = bodies(a);
  ASSERT_EQ(ra.size(), 300u);
  EXPECT_EQ(ra.front(), "1");
  EXPECT_EQ(ra.back(), "599");
  EXPECT_EQ(store_->stats(b)->length, 300u);
}

TEST_P(MessageStore, AckRemovesPrefixAndAdvancesCheckpoint) {
  auto q = queue("q");
  for (int i = 0; i < 10; ++i) {
    append_one(q, "x" + std::to_string(i));
  }
  ASSERT_TRUE(store_->ack({{q, 4}}));
  EXPECT_EQ(bodies(q), (strings{"x4", "x5", "x6", "x7", "x8", "x9"}));
  auto st = store_->stats(q);
  EXPECT_EQ(st->length, 6u);
  EXPECT_EQ(st->bytes, 12u);
  EXPECT_EQ(st->checkpoint, 4u);
  // Acks past the tail clamp; acks below the checkpoint are no-ops.
  ASSERT_TRUE(store_->ack({{q, 2}, {q, 99}}));
  EXPECT_TRUE(bodies(q).empty());
  EXPECT_EQ(store_->stats(q)->checkpoint, 10u);
  EXPECT_EQ(append_one(q, "next"), 11u);
}

TEST_P(MessageStore, StateSurvivesReopen) {
  auto q = queue("q", 3);
  for (int i = 0; i < 5; ++i) {
    append_one(q, "b" + std::to_string(i));
  }
  ASSERT_TRUE(store_->ack({{q, 2}}));
  const auto used = store_->used_bytes();
  reopen();
  EXPECT_EQ(queue("q", 3), q);
  EXPECT_EQ(bodies(q), (strings{"b2", "b3", "b4"}));
  EXPECT_EQ(store_->stats(q)->checkpoint, 2u);
  EXPECT_EQ(store_->stats(q)->length, 3u);
  EXPECT_EQ(store_->used_bytes(), used);
  EXPECT_EQ(append_one(q, "b5"), 6u);
}

TEST_P(MessageStore, SharedBodyIsStoredOnceAndFreedWithItsLastReference) {
  auto a = queue("a");
  auto b = queue("b");
  auto c = queue("c");
  auto r = store_->append({{std::string(1000, 'z'), {{a, -1}, {b, -1}, {c, -1}}}}, 1);
  ASSERT_TRUE(r[0]);
  const auto one_body = store_->used_bytes();
  EXPECT_LT(one_body, 1200u); // stored once, not three times
  ASSERT_TRUE(store_->ack({{a, 1}}));
  reopen(); // the reference count survives
  ASSERT_TRUE(store_->ack({{b, 1}}));
  EXPECT_EQ(bodies(c), (strings{std::string(1000, 'z')}));
  ASSERT_TRUE(store_->ack({{c, 1}}));
  EXPECT_EQ(store_->used_bytes(), 0u);
  std::size_t left = 0;
  ASSERT_TRUE(kv_->scan(column::messages, {}, {}, [&](auto, auto) { return ++left, true; }));
  ASSERT_TRUE(kv_->scan(column::refs, {}, {}, [&](auto, auto) { return ++left, true; }));
  EXPECT_EQ(left, 0u);
}

TEST_P(MessageStore, ASingleTargetBodyLivesInItsEntryAndIsAccountedTheSame) {
  auto q = queue("q");
  auto other = queue("other");
  auto r = store_->append({{"solo", {{q, -1}}}, {"both", {{q, -1}, {other, -1}}}}, 1000);
  ASSERT_TRUE(r.at(0) && r.at(1));
  // One write per single-target message: no `messages` key, the body is in the entry.
  EXPECT_FALSE(*kv_->get(column::messages, records::id_key(r.at(0)->id)));
  EXPECT_TRUE(*kv_->get(column::messages, records::id_key(r.at(1)->id)));
  const auto used = store_->used_bytes();
  EXPECT_EQ(used, 2 * (4 + records::body_overhead) + 3 * records::entry_cost);
  EXPECT_EQ(bodies(q), (strings{"solo", "both"}));
  reopen();
  EXPECT_EQ(store_->used_bytes(), used);
  EXPECT_EQ(bodies(q), (strings{"solo", "both"}));
  // Ids stay unique across a reopen although `solo` left no `messages` key.
  auto again = store_->append({{"next", {{q, -1}}}}, 1000);
  EXPECT_GT(again.at(0)->id, r.at(1)->id);
  EXPECT_TRUE(store_->ack({{q, 3}, {other, 1}}));
  EXPECT_EQ(store_->used_bytes(), 0u);
}

TEST_P(MessageStore, AckOfTwoQueuesInOneBatchFreesSharedBody) {
  auto a = queue("a");
  auto b = queue("b");
  ASSERT_TRUE(store_->append({{"shared", {{a, -1}, {b, -1}}}}, 1)[0]);
  ASSERT_TRUE(store_->ack({{a, 1}, {b, 1}}));
  EXPECT_EQ(store_->used_bytes(), 0u);
}

TEST_P(MessageStore, ExpiredEntriesAreNeverRead) {
  auto q = queue("q");
  append_one(q, "short", 100, 1000); // expires at 1100
  append_one(q, "long", 10000, 1000);
  append_one(q, "forever", -1, 1000);
  EXPECT_EQ(bodies(q, 1099), (strings{"short", "long", "forever"}));
  EXPECT_EQ(bodies(q, 1100), (strings{"long", "forever"}));
  EXPECT_EQ(bodies(q, 20000), (strings{"forever"}));
}

TEST_P(MessageStore, ExpiredEntriesPassedOverAreDroppedOnceWhoeverComesFirst) {
  auto q = queue("q");
  append_one(q, "short-1", 100, 1000);
  append_one(q, "long", 10000, 1000);
  append_one(q, "short-2", 100, 1000);
  std::vector<sequence> passed;
  auto r = store_->read(q, 0, 10, 2000, &passed);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(passed, (std::vector<sequence>{1, 3}));
  // Not expired (yet) at that time: kept.
  EXPECT_EQ(*store_->drop_expired(q, {2}, 2000), 0u);
  EXPECT_EQ(*store_->drop_expired(q, {1}, 2000), 1u);
  // The cleanup finds only short-2; dropping both again finds neither: each counted once.
  EXPECT_EQ(store_->cleanup_step(2000, 10)->expired, 1u);
  EXPECT_EQ(*store_->drop_expired(q, passed, 2000), 0u);
  EXPECT_EQ(store_->stats(q)->length, 1u);
  EXPECT_EQ(bodies(q, 2000), (strings{"long"}));
  // Acknowledged entries are the ack's, not a TTL drop.
  EXPECT_TRUE(store_->ack({{q, 2}}));
  EXPECT_EQ(*store_->drop_expired(q, {2}, 20000), 0u);
}

TEST_P(MessageStore, CleanupDeletesExpiredEntriesInSmallSteps) {
  auto q = queue("q");
  auto other = queue("other");
  for (int i = 0; i < 50; ++i) {
    append_one(q, "e" + std::to_string(i), i % 2 ? 100 : -1, 1000);
  }
  append_one(other, "o", 100, 1000);
  // Nothing is due yet: the step skips the queues without scanning.
  auto none = store_->cleanup_step(1050, 10);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->expired, 0u);
  EXPECT_EQ(none->scanned, 0u);
  std::size_t expired = 0;
  int steps = 0;
  while (expired < 26 && steps++ < 100) {
    auto r = store_->cleanup_step(2000, 10);
    ASSERT_TRUE(r);
    EXPECT_LE(r->scanned, 10u);
    expired += r->expired;
  }
  EXPECT_EQ(expired, 26u);
  EXPECT_GT(steps, 3); // it took several small steps, not one big sweep
  EXPECT_EQ(store_->stats(q)->length, 25u);
  EXPECT_EQ(store_->stats(other)->length, 0u);
  EXPECT_EQ(bodies(q, 0).size(), 25u); // the rest are still there, even read "in the past"
  // A finished pass remembers that nothing else expires: the next step scans nothing.
  EXPECT_EQ(store_->cleanup_step(3000, 10)->scanned, 0u);
  reopen();
  EXPECT_EQ(store_->stats(q)->length, 25u);
}

TEST_P(MessageStore, QuotaRejectsAppendsUntilAcksFreeSpace) {
  auto q = queue("q");
  reopen({4096});
  const std::string body(1000, 'b');
  int accepted = 0;
  std::error_code last;
  for (int i = 0; i < 10; ++i) {
    auto r = store_->append({{body, {{q, -1}}}}, 1);
    if (r[0]) {
      ++accepted;
    } else {
      last = r[0].error();
    }
  }
  EXPECT_EQ(accepted, 3);
  EXPECT_EQ(last, errc::quota_exceeded);
  EXPECT_NE(last.message().find("quota"), std::string::npos);
  EXPECT_LE(store_->used_bytes(), 4096u);
  // In one batch, the requests that fit go in and the others fail alone.
  ASSERT_TRUE(store_->ack({{q, 1}}));
  auto r = store_->append({{body, {{q, -1}}}, {body, {{q, -1}}}, {"tiny", {{q, -1}}}}, 1);
  EXPECT_TRUE(r[0]);
  EXPECT_EQ(r[1].error(), errc::quota_exceeded);
  EXPECT_TRUE(r[2]);
  ASSERT_TRUE(store_->ack({{q, 100}}));
  EXPECT_EQ(store_->used_bytes(), 0u);
  EXPECT_TRUE(store_->append({{body, {{q, -1}}}}, 1)[0]);
}

TEST_P(MessageStore, UnknownQueueFailsAlone) {
  auto q = queue("q");
  auto r = store_->append({{"a", {{q, -1}}}, {"b", {{77, -1}}}}, 1);
  EXPECT_TRUE(r[0]);
  EXPECT_EQ(r[1].error(), errc::unknown_queue);
  EXPECT_EQ(store_->read(77, 0, 1, 1).error(), errc::unknown_queue);
  EXPECT_EQ(store_->ack({{77, 1}}).error(), errc::unknown_queue);
}

TEST_P(MessageStore, MatchesNaiveModelUnderRandomOperations) {
  std::mt19937 rng{42};
  std::vector<queue_handle> qs{queue("a"), queue("b"), queue("c")};
  std::map<queue_handle, std::deque<std::pair<sequence, std::string>>> model;
  for (int step = 0; step < 2000; ++step) {
    const auto op = rng() % 10;
    if (op < 6) {
      append_request req{"m" + std::to_string(step), {}};
      for (auto q : qs) {
        if (rng() % 2) {
          req.targets.push_back({q, -1});
        }
      }
      auto r = store_->append({req}, 1);
      ASSERT_TRUE(r[0]);
      for (std::size_t i = 0; i < req.targets.size(); ++i) {
        model[req.targets[i].queue].emplace_back(r[0]->seqs[i], req.body);
      }
    } else if (op < 9) {
      auto q = qs[rng() % qs.size()];
      auto& m = model[q];
      if (!m.empty()) {
        auto n = rng() % m.size() + 1;
        auto up_to = m[n - 1].first;
        ASSERT_TRUE(store_->ack({{q, up_to}}));
        m.erase(m.begin(), m.begin() + n);
      }
    } else if (GetParam() == "rocksdb" && step % 200 == 0) {
      reopen();
    }
  }
  std::uint64_t live_bytes = 0;
  for (auto q : qs) {
    strings expect;
    for (auto& [s, b] : model[q]) {
      expect.push_back(b);
      live_bytes += b.size();
    }
    EXPECT_EQ(bodies(q), expect);
    EXPECT_EQ(store_->stats(q)->length, model[q].size());
  }
  for (auto q : qs) {
    ASSERT_TRUE(store_->ack({{q, 1u << 30}}));
  }
  EXPECT_EQ(store_->used_bytes(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Engines, MessageStore, ::testing::Values("memory", "rocksdb"));

TEST(RocksdbKvStore, OpenFailureIsAnErrorWithRocksdbsReason) {
  std::string why;
  auto kv = rocksdb_kv_store::open({"/proc/outpost-cannot-be-here", true}, why);
  ASSERT_FALSE(kv);
  EXPECT_EQ(kv.error(), errc::open_failed);
  EXPECT_FALSE(why.empty());
}

} // namespace
} // namespace outpost::storage
