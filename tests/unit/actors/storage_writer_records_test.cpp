// The storage writer as the engine's only writer (issue 9 item 4): the typed stores' records
// (identities, the agent's state) and the persistent MQTT sessions go through it, a pass's
// records in one write. On CAF's deterministic scheduler.

#include "actors/common/messages.hpp"
#include "actors/common/storage_writer.hpp"
#include "storage/agent_store.hpp"
#include "storage/memory_kv_store.hpp"
#include "storage/session_store.hpp"
#include "tests/unit/actors/counting_kv.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

namespace outpost::actors {
namespace {

using testing::counting_kv;

class WriterRecords : public ::testing::Test {
protected:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    return cfg;
  }

  void SetUp() override {
    storage_writer_config cfg;
    cfg.kv = kv_;
    cfg.now_ms = [] {
      return std::int64_t{1'000'000};
    };
    cfg.cleanup_interval = std::chrono::milliseconds{0};
    cfg.detached = false;
    auto w = spawn_storage_writer(sys_, cfg);
    ASSERT_TRUE(w);
    writer_ = *w;
  }

  storage::stored_session restore(const std::string& client, bool clean) {
    self_->send(writer_, session_restore_atom::value, client, clean);
    sched_.run();
    storage::stored_session out;
    self_->receive([&](storage::stored_session& s) { out = std::move(s); });
    return out;
  }

  std::shared_ptr<counting_kv> kv_ = std::make_shared<counting_kv>();
  caf::actor_system_config cfg_;
  caf::actor_system sys_{configure(cfg_)};
  caf::scheduler::test_coordinator& sched_ =
      dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler());
  caf::scoped_actor self_{sys_, true};
  writer_actor writer_;
};

TEST_F(WriterRecords, RecordsOfOnePassAreOneWriteAnsweredWhenWritten) {
  const int durable_before = kv_->durable_writes;
  self_->send(writer_, records_atom::value, storage::agent_batches::uid("a", 60001), true);
  self_->send(writer_, records_atom::value, storage::agent_batches::reported("{}"), false);
  self_->send(writer_, records_atom::value, storage::agent_batches::restart("a", {1, 2}), false);
  sched_.run();
  for (int i = 0; i < 3; ++i) {
    self_->receive([](records_reply& r) { EXPECT_FALSE(r.error); });
  }
  EXPECT_EQ(kv_->durable_writes - durable_before, 1) << "one synced write for the pass";
  EXPECT_EQ(kv_->lazy_writes, 0);
  auto set = storage::load_agent_records(*kv_);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->uids.at("a"), 60001u);
  EXPECT_EQ(set->restarts.at("a"), (storage::restart_record{1, 2}));
}

TEST_F(WriterRecords, LazyRecordsAreNotSynced) {
  self_->send(writer_, records_atom::value, storage::agent_batches::reported("{}"), false);
  sched_.run();
  self_->receive([](records_reply& r) { EXPECT_FALSE(r.error); });
  EXPECT_EQ(kv_->lazy_writes, 1);
}

TEST_F(WriterRecords, PersistentSessionsLiveInTheWriter) {
  auto s = restore("d1", false);
  EXPECT_FALSE(s.present);
  self_->send(writer_, session_subs_atom::value, std::string{"d1"},
              std::vector<std::string>{"a", "b"}, std::vector<std::string>{});
  self_->send(writer_, session_subs_atom::value, std::string{"d1"}, std::vector<std::string>{},
              std::vector<std::string>{"a"});
  // The next restore reads what the earlier messages changed, committed or not.
  s = restore("d1", false);
  EXPECT_TRUE(s.present);
  EXPECT_EQ(s.subscriptions, std::vector<std::string>{"b"});
  EXPECT_TRUE(*kv_->get(storage::column::sessions, storage::session_records::filter_key("d1", "b")))
      << "written by the writer";
  s = restore("d1", true);
  EXPECT_FALSE(s.present);
  s = restore("d1", false);
  EXPECT_FALSE(s.present) << "a clean session discarded what was stored";
}

TEST_F(WriterRecords, AnotherClientsConnectDoesNotCommitPendingChangesEarly) {
  restore("d1", false);
  restore("d2", false);
  const int durable_before = kv_->durable_writes;
  const int lazy_before = kv_->lazy_writes;
  // Queued without running the writer: d1's subscriptions around d2's reconnect, one pass.
  self_->send(writer_, session_subs_atom::value, std::string{"d1"}, std::vector<std::string>{"a"},
              std::vector<std::string>{});
  self_->send(writer_, session_restore_atom::value, std::string{"d2"}, false);
  self_->send(writer_, session_subs_atom::value, std::string{"d1"}, std::vector<std::string>{"b"},
              std::vector<std::string>{});
  sched_.run();
  self_->receive([](storage::stored_session& s) { EXPECT_TRUE(s.present); });
  EXPECT_EQ(kv_->durable_writes - durable_before, 1) << "one synced write in the pass";
  EXPECT_EQ(kv_->lazy_writes, lazy_before) << "no early write for d2's reads";
  EXPECT_EQ(restore("d1", false).subscriptions, (std::vector<std::string>{"a", "b"}));
}

} // namespace
} // namespace outpost::actors
