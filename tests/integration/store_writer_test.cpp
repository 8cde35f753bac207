// The storage writer actor on a real RocksDB store and CAF's real scheduler: TTL cleanup on
// its own timer, the quota, and metrics.

#include "actors/common/messages.hpp"
#include "actors/common/storage_writer.hpp"
#include "actors/common/store_metrics.hpp"
#include "storage/errc.hpp"
#include "storage/rocksdb/rocksdb_kv_store.hpp"
#include "tests/support/process.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <thread>

namespace outpost::test {
namespace {

using namespace std::chrono_literals;

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class StoreWriter : public ::testing::Test {
protected:
  void start(std::uint64_t quota) {
    std::string why;
    auto kv = storage::rocksdb_kv_store::open({(dir_ / "db").string(), true}, why);
    ASSERT_TRUE(kv) << why;
    actors::storage_writer_config cfg;
    cfg.kv = std::shared_ptr<storage::kv_store>{std::move(*kv)};
    cfg.max_size_bytes = quota;
    cfg.now_ms = wall_ms;
    cfg.cleanup_interval = 50ms;
    cfg.cleanup_budget = 100; // small steps
    cfg.metrics = metrics_;
    auto w = actors::spawn_storage_writer(sys_, cfg);
    ASSERT_TRUE(w);
    writer_ = *w;
    self_->request(writer_, 5s, actors::open_atom::value, storage::queue_name{"m/in", 0})
        .receive([&](actors::open_reply& r) { q_ = r.queue; }, [](caf::error&) { FAIL(); });
  }

  void TearDown() override {
    caf::anon_send_exit(writer_, caf::exit_reason::user_shutdown);
    std::filesystem::remove_all(dir_);
  }

  actors::append_outcomes append(std::vector<std::string> bodies, std::int64_t ttl) {
    actors::append_requests reqs;
    for (auto& b : bodies) {
      reqs.push_back({std::move(b), {{q_, ttl}}});
    }
    actors::append_outcomes out;
    self_->request(writer_, 5s, actors::append_atom::value, reqs)
        .receive([&](actors::append_outcomes& o) { out = std::move(o); },
                 [](caf::error&) { FAIL(); });
    return out;
  }

  actors::store_report report() {
    actors::store_report r;
    self_->request(writer_, 5s, actors::stats_atom::value)
        .receive([&](actors::store_report& x) { r = std::move(x); }, [](caf::error&) { FAIL(); });
    return r;
  }

  std::size_t readable() {
    std::size_t n = 0;
    self_
        ->request(writer_, 5s, actors::read_atom::value, q_, storage::sequence{0},
                  std::uint32_t{100000})
        .receive([&](actors::read_reply& r) { n = r.entries.size(); }, [](caf::error&) { FAIL(); });
    return n;
  }

  std::string scrape() { return prometheus::TextSerializer{}.Serialize(registry_.Collect()); }

  std::filesystem::path dir_ = make_temp_dir("writer");
  prometheus::Registry registry_;
  std::shared_ptr<actors::store_metrics> metrics_ =
      std::make_shared<actors::store_metrics>(registry_);
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};
  actors::writer_actor writer_;
  storage::queue_handle q_ = 0;
};

TEST_F(StoreWriter, ExpiredEntriesAreNeverReadAndCleanedUpWithinSeconds) {
  start(0);
  std::vector<std::string> short_lived(500, std::string(100, 's'));
  for (auto& o : append(short_lived, 300)) {
    ASSERT_FALSE(o.error);
  }
  append({"keep1", "keep2"}, -1);
  EXPECT_EQ(readable(), 502u);
  const auto expiry = std::chrono::steady_clock::now() + 300ms;
  std::this_thread::sleep_until(expiry);
  // Not read here: a read drops the expired entries it passes over at once, and this test is
  // about the cleanup finding them by itself (the unit tests cover "never read").
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (report().queues.at(0).stats.length != 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  const auto cleaned_in = std::chrono::steady_clock::now() - expiry;
  EXPECT_EQ(report().queues.at(0).stats.length, 2u);
  EXPECT_EQ(readable(), 2u);
  EXPECT_LT(cleaned_in, 5s);
  // 500 entries in steps of 100 every 50 ms: several steps, not one sweep.
  EXPECT_GE(cleaned_in, 150ms);
  std::this_thread::sleep_for(100ms); // metrics are published by the cleanup tick
  const auto text = scrape();
  EXPECT_NE(
      text.find("edgehub_messages_dropped_total{endpoint=\"m/in\",reason=\"ttl_expiry\"} 500"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("edgehub_queue_length{endpoint=\"m/in\",priority=\"0\"} 2"),
            std::string::npos)
      << text;
}

TEST_F(StoreWriter, QuotaRefusesAppendsUntilAcksFreeSpace) {
  start(20'000);
  std::vector<std::string> bodies(30, std::string(1000, 'q'));
  auto outs = append(bodies, -1);
  std::size_t ok = 0;
  storage::sequence last_ok = 0;
  for (auto& o : outs) {
    if (!o.error) {
      ++ok;
      last_ok = o.value.seqs[0];
    } else {
      EXPECT_EQ(o.error, storage::errc::quota_exceeded);
      EXPECT_NE(o.error.message().find("quota"), std::string::npos);
    }
  }
  EXPECT_GT(ok, 10u);
  EXPECT_LT(ok, 30u);
  EXPECT_LE(report().used_bytes, 20'000u);
  EXPECT_TRUE(append({std::string(1000, 'x')}, -1).at(0).error);
  self_->send(writer_, actors::ack_atom::value, actors::ack_requests{{q_, last_ok}});
  EXPECT_EQ(report().used_bytes, 0u); // the ack was written before the stats request ran
  EXPECT_FALSE(append({std::string(1000, 'x')}, -1).at(0).error);
}

} // namespace
} // namespace outpost::test
