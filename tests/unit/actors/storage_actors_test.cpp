#include "actors/common/mailbox.hpp"
#include "actors/common/messages.hpp"
#include "actors/common/storage_writer.hpp"
#include "actors/common/store_metrics.hpp"
#include "storage/errc.hpp"
#include "storage/memory_kv_store.hpp"
#include "tests/unit/actors/counting_kv.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

namespace outpost::actors {
namespace {

using storage::sequence;

using testing::counting_kv;

/// Actors on CAF's deterministic scheduler: nothing runs until the test says so.
class StorageActors : public ::testing::Test {
protected:
  static caf::actor_system_config& configure(caf::actor_system_config& cfg) {
    cfg.set("scheduler.policy", caf::atom("testing"));
    return cfg;
  }

  void SetUp() override { spawn_writer(); }

  void spawn_writer() {
    storage_writer_config cfg;
    cfg.kv = kv_;
    cfg.now_ms = [this] {
      return now_;
    };
    cfg.cleanup_interval = std::chrono::milliseconds{0};
    cfg.detached = false;
    cfg.metrics = metrics_;
    auto w = spawn_storage_writer(sys_, cfg);
    ASSERT_TRUE(w);
    writer_ = *w;
  }

  storage::queue_handle open_queue(const std::string& name) {
    self_->send(writer_, open_atom::value, storage::queue_name{name, 0});
    sched_.run();
    storage::queue_handle q = 0;
    self_->receive([&](open_reply& r) { q = r.queue; });
    return q;
  }

  mailbox_actor mailbox(storage::queue_handle q, std::uint32_t window) {
    return spawn_mailbox(sys_, {writer_, q, window, 4096, [this] {
                                  return now_;
                                }});
  }

  /// A route mailbox as the hub makes it: its checkpoint written at most every 20 ms.
  mailbox_actor interval_mailbox(storage::queue_handle q, std::shared_ptr<live_count> live = {}) {
    mailbox_config cfg{writer_, q, 10, 4096, [this] {
                         return now_;
                       }};
    cfg.checkpoint_interval = std::chrono::milliseconds{20};
    cfg.live = std::move(live);
    return spawn_mailbox(sys_, cfg);
  }

  /// The writer's report of its only queue.
  queue_report only_queue() {
    self_->send(writer_, stats_atom::value);
    sched_.run();
    queue_report out;
    self_->receive([&](store_report& r) {
      EXPECT_EQ(r.queues.size(), 1u);
      out = r.queues.at(0);
    });
    return out;
  }

  /// The test's scoped actor as a mailbox consumer (it receives what a session would).
  consumer_actor me() { return caf::actor_cast<consumer_actor>(caf::actor{self_}); }

  /// Did a `drained` notification for `q` arrive?
  bool drained(storage::queue_handle q) {
    bool got = false;
    self_->receive([&](drained_atom, storage::queue_handle from) { got = from == q; },
                   caf::after(std::chrono::seconds(0)) >> [] {});
    return got;
  }

  append_outcomes append_via(const mailbox_actor& mb, std::vector<std::string> bodies,
                             std::int64_t ttl = -1) {
    self_->send(mb, append_atom::value, std::move(bodies), ttl);
    sched_.run();
    append_outcomes out;
    self_->receive([&](append_outcomes& o) { out = std::move(o); });
    return out;
  }

  /// The bodies of one delivery to the test's scoped actor, or {} if none came.
  std::vector<std::pair<sequence, std::string>> delivered() {
    std::vector<std::pair<sequence, std::string>> out;
    self_->receive(
        [&](deliver_atom, storage::queue_handle, entries& es) {
          for (auto& e : es) {
            out.emplace_back(e.seq, e.body);
          }
        },
        caf::after(std::chrono::seconds(0)) >> [] {});
    return out;
  }

  std::int64_t now_ = 1'000'000;
  prometheus::Registry registry_;
  std::shared_ptr<store_metrics> metrics_ = std::make_shared<store_metrics>(registry_);
  std::shared_ptr<counting_kv> kv_ = std::make_shared<counting_kv>();
  caf::actor_system_config cfg_;
  caf::actor_system sys_{configure(cfg_)};
  caf::scheduler::test_coordinator& sched_ =
      dynamic_cast<caf::scheduler::test_coordinator&>(sys_.scheduler());
  caf::scoped_actor self_{sys_, true};
  writer_actor writer_;
};

TEST_F(StorageActors, WriterGroupCommitsOnePassInOneDurableWrite) {
  auto q = open_queue("mod/in");
  const int writes_before = kv_->durable_writes;
  for (int i = 0; i < 5; ++i) {
    self_->send(writer_, append_atom::value, append_requests{{"m" + std::to_string(i), {{q, -1}}}});
  }
  sched_.run();
  std::vector<sequence> seqs;
  for (int i = 0; i < 5; ++i) {
    self_->receive([&](append_outcomes& o) {
      ASSERT_EQ(o.size(), 1u);
      EXPECT_FALSE(o[0].error);
      seqs.push_back(o[0].value.seqs[0]);
    });
  }
  EXPECT_EQ(seqs, (std::vector<sequence>{1, 2, 3, 4, 5}));
  EXPECT_EQ(kv_->durable_writes - writes_before, 1); // five callers, one write (one sync)
}

TEST_F(StorageActors, WriterAnswersWithTheErrorWhenTheWriteFails) {
  auto q = open_queue("mod/in");
  kv_->fail = true;
  self_->send(writer_, append_atom::value, append_requests{{"m", {{q, -1}}}});
  sched_.run();
  self_->receive([&](append_outcomes& o) { EXPECT_EQ(o.at(0).error, storage::errc::io_error); });
  kv_->fail = false;
  self_->send(writer_, read_atom::value, q, sequence{0}, std::uint32_t{10});
  sched_.run();
  self_->receive([&](read_reply& r) { EXPECT_TRUE(r.entries.empty()); });
}

TEST_F(StorageActors, MailboxDeliversWithinItsWindowAndCheckpointsAckedPrefix) {
  auto q = open_queue("mod/in");
  auto mb = mailbox(q, 3);
  auto outs = append_via(mb, {"a", "b", "c", "d", "e"});
  ASSERT_EQ(outs.size(), 5u);
  self_->send(mb, subscribe_atom::value, me());
  sched_.run();
  auto first = delivered();
  ASSERT_EQ(first.size(), 3u); // the window
  EXPECT_EQ(first[0], (std::pair<sequence, std::string>{1, "a"}));
  EXPECT_TRUE(delivered().empty());
  // Out-of-order ack: 2 alone moves neither the checkpoint nor the window (which counts
  // from the oldest unacknowledged entry).
  self_->send(mb, ack_atom::value, sequence{2});
  sched_.run();
  EXPECT_TRUE(delivered().empty());
  self_->send(writer_, stats_atom::value);
  sched_.run();
  self_->receive([&](store_report& r) { EXPECT_EQ(r.queues.at(0).stats.checkpoint, 0u); });
  self_->send(mb, ack_atom::value, sequence{1});
  sched_.run();
  auto more = delivered();
  ASSERT_EQ(more.size(), 2u);
  EXPECT_EQ(more[0].second, "d");
  EXPECT_EQ(more[1].second, "e");
  self_->send(writer_, stats_atom::value);
  sched_.run();
  self_->receive([&](store_report& r) {
    EXPECT_EQ(r.queues.at(0).stats.checkpoint, 2u);
    EXPECT_EQ(r.queues.at(0).stats.length, 3u);
  });
}

TEST_F(StorageActors, MailboxTakesABurstOfAcksAsOneMessage) {
  auto q = open_queue("mod/in");
  auto mb = mailbox(q, 10);
  append_via(mb, {"a", "b", "c"});
  self_->send(mb, subscribe_atom::value, me());
  sched_.run();
  ASSERT_EQ(delivered().size(), 3u);
  self_->send(mb, ack_atom::value, std::vector<sequence>{3, 1, 99}); // any order, unknown ignored
  sched_.run();
  self_->send(writer_, stats_atom::value);
  sched_.run();
  self_->receive([&](store_report& r) { EXPECT_EQ(r.queues.at(0).stats.checkpoint, 1u); });
  self_->send(mb, ack_atom::value, std::vector<sequence>{2});
  sched_.run();
  self_->send(writer_, stats_atom::value);
  sched_.run();
  self_->receive([&](store_report& r) {
    EXPECT_EQ(r.queues.at(0).stats.checkpoint, 3u);
    EXPECT_EQ(r.queues.at(0).stats.length, 0u);
  });
}

TEST_F(StorageActors, MailboxWithAnIntervalWritesOneCheckpointForTheAcksWithinIt) {
  auto q = open_queue("mod/in");
  auto mb = interval_mailbox(q);
  append_via(mb, {"a", "b", "c"});
  self_->send(mb, subscribe_atom::value, me());
  sched_.run();
  ASSERT_EQ(delivered().size(), 3u);
  const auto writes_before = kv_->lazy_writes;
  for (sequence seq : {1, 2, 3}) { // one by one, as a module acknowledges them
    self_->send(mb, ack_atom::value, seq);
    sched_.run();
  }
  EXPECT_EQ(kv_->lazy_writes, writes_before); // the writer has not heard of them yet
  EXPECT_EQ(only_queue().stats.checkpoint, 0u);
  ASSERT_TRUE(sched_.has_pending_timeout());
  sched_.trigger_timeouts();
  sched_.run();
  EXPECT_EQ(kv_->lazy_writes, writes_before + 1); // one checkpoint for the three
  const auto after = only_queue().stats;
  EXPECT_EQ(after.checkpoint, 3u);
  EXPECT_EQ(after.length, 0u);
}

TEST_F(StorageActors, AStoppedMailboxHandsItsPendingCheckpointToTheWriterBeforeItGoes) {
  // The hub's stop: the mailboxes exit, the stop waits for them (live), then the writer exits.
  // A restart on the same store must not deliver the acknowledged entries again.
  auto q = open_queue("mod/in");
  auto live = std::make_shared<live_count>();
  auto mb = interval_mailbox(q, live);
  append_via(mb, {"a", "b", "c"});
  self_->send(mb, subscribe_atom::value, me());
  sched_.run();
  ASSERT_EQ(delivered().size(), 3u);
  self_->send(mb, ack_atom::value, std::vector<sequence>{1, 2});
  sched_.run();
  EXPECT_EQ(live->wait_zero(std::chrono::milliseconds{0}), 1u);
  caf::anon_send_exit(mb, caf::exit_reason::user_shutdown);
  sched_.run();
  EXPECT_EQ(live->wait_zero(std::chrono::milliseconds{0}), 0u);
  caf::anon_send_exit(writer_, caf::exit_reason::user_shutdown);
  sched_.run();

  spawn_writer(); // the restart
  const auto after = only_queue().stats;
  EXPECT_EQ(after.checkpoint, 2u);
  EXPECT_EQ(after.length, 1u); // "c" alone was never acknowledged
}

TEST_F(StorageActors, MailboxRedeliversUnackedEntriesToTheNextConsumer) {
  auto q = open_queue("mod/in");
  auto mb = mailbox(q, 10);
  append_via(mb, {"a", "b", "c"});
  auto first = sys_.spawn([](caf::event_based_actor* self) -> caf::behavior {
    return {[=](deliver_atom, storage::queue_handle, entries& es) {
      // Acks only the first entry, then dies.
      self->send(caf::actor_cast<caf::actor>(self->current_sender()), ack_atom::value,
                 es.at(0).seq);
      self->quit();
    }};
  });
  self_->send(mb, subscribe_atom::value, caf::actor_cast<consumer_actor>(first));
  sched_.run();
  self_->send(mb, subscribe_atom::value, me());
  sched_.run();
  auto again = delivered();
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0], (std::pair<sequence, std::string>{2, "b"}));
  EXPECT_EQ(again[1], (std::pair<sequence, std::string>{3, "c"}));
}

TEST_F(StorageActors, MailboxRedeliversFromTheOldestUnackedAfterANackAndItsBackOff) {
  auto q = open_queue("mod/in");
  auto mb = mailbox(q, 10);
  append_via(mb, {"a", "b", "c"});
  self_->send(mb, subscribe_atom::value, me());
  sched_.run();
  ASSERT_EQ(delivered().size(), 3u);
  EXPECT_TRUE(drained(q));
  self_->send(mb, nack_atom::value, sequence{2}); // the consumer could not deliver "b"
  self_->send(mb, ack_atom::value, std::vector<sequence>{1, 3});
  sched_.run();
  EXPECT_TRUE(delivered().empty()); // nothing goes out during the back-off
  ASSERT_TRUE(sched_.has_pending_timeout());
  sched_.trigger_timeouts();
  sched_.run();
  auto again = delivered();
  ASSERT_EQ(again.size(), 2u); // from the oldest unacknowledged entry, in order
  EXPECT_EQ(again[0], (std::pair<sequence, std::string>{2, "b"}));
  EXPECT_EQ(again[1], (std::pair<sequence, std::string>{3, "c"}));
  EXPECT_FALSE(drained(q)); // once per subscription
  self_->send(mb, ack_atom::value, std::vector<sequence>{2, 3});
  sched_.run();
  self_->send(writer_, stats_atom::value);
  sched_.run();
  self_->receive([&](store_report& r) { EXPECT_EQ(r.queues.at(0).stats.checkpoint, 3u); });
}

TEST_F(StorageActors, MailboxReadsBacklogFromTheStoreAndSkipsExpiredEntries) {
  auto q = open_queue("mod/in");
  // Appended by someone else (the router, or before a restart): only the store has them.
  append_requests reqs;
  for (int i = 0; i < 100; ++i) {
    reqs.push_back({"m" + std::to_string(i), {{q, i % 10 == 0 ? 50 : -1}}});
  }
  self_->send(writer_, append_atom::value, reqs);
  sched_.run();
  self_->receive([&](append_outcomes&) {});
  now_ += 100; // every tenth entry expires
  auto mb = mailbox(q, 1000);
  self_->send(mb, subscribe_atom::value, me());
  sched_.run();
  std::vector<std::string> got;
  for (auto d = delivered(); !d.empty(); d = delivered()) {
    for (auto& [seq, body] : d) {
      got.push_back(body);
      self_->send(mb, ack_atom::value, seq);
    }
    sched_.run();
  }
  ASSERT_EQ(got.size(), 90u);
  EXPECT_EQ(got.front(), "m1");
  EXPECT_EQ(got.back(), "m99");
  // New appends while synced come from memory, after the backlog.
  append_via(mb, {"live"});
  EXPECT_EQ(delivered().at(0).second, "live");
}

TEST_F(StorageActors, MailboxSaysDrainedOnceItsBacklogIsOutAndCountsExpiredEntries) {
  auto q = open_queue("mod/in");
  append_requests reqs;
  for (int i = 0; i < 6; ++i) {
    reqs.push_back({"m" + std::to_string(i), {{q, i % 3 == 0 ? 50 : -1}}});
  }
  self_->send(writer_, append_atom::value, reqs);
  sched_.run();
  self_->receive([&](append_outcomes&) {});
  now_ += 100; // m0 and m3 expire
  auto mb = mailbox(q, 2);
  self_->send(mb, subscribe_atom::value, me());
  sched_.run();
  std::vector<std::string> got;
  for (auto d = delivered(); !d.empty(); d = delivered()) {
    EXPECT_FALSE(got.size() < 2 && drained(q)) << "drained before the backlog went out";
    for (auto& [seq, body] : d) {
      got.push_back(body);
      self_->send(mb, ack_atom::value, seq);
    }
    sched_.run();
  }
  EXPECT_EQ(got, (std::vector<std::string>{"m1", "m2", "m4", "m5"}));
  EXPECT_TRUE(drained(q));
  // Counted once each although the read passed over them and the checkpoint passed them too.
  EXPECT_EQ(metrics_->ttl_dropped("mod/in").Value(), 2.0);
  self_->send(writer_, stats_atom::value);
  sched_.run();
  self_->receive([&](store_report& r) { EXPECT_EQ(r.queues.at(0).stats.length, 0u); });
  // Once per subscription: live entries later do not repeat it.
  append_via(mb, {"live"});
  EXPECT_EQ(delivered().at(0).second, "live");
  EXPECT_FALSE(drained(q));
}

} // namespace
} // namespace outpost::actors
