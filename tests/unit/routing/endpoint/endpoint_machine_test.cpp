#include "routing/endpoint/endpoint_machine.hpp"

#include "tests/unit/routing/endpoint/test_entry.hpp"

#include <gtest/gtest.h>

namespace outpost::routing {
namespace {

using testing::entries;
using testing::seqs;
using testing::test_actions;
using testing::test_entry;
using testing::test_machine;
using S = std::vector<endpoint_seq>;

endpoint_config config(std::uint32_t window, std::uint32_t read_batch = 64,
                       std::size_t buffer_limit = 4096) {
  endpoint_config c;
  c.window = window;
  c.read_batch = read_batch;
  c.buffer_limit = buffer_limit;
  return c;
}

/// Answers the read `out` asked for with `es` and the queue's `next`.
void answer(test_machine& m, test_actions& out, std::vector<test_entry> es, endpoint_seq next,
            std::int64_t now = 0) {
  ASSERT_TRUE(out.read.has_value());
  const auto ticket = out.read->ticket;
  out.clear();
  m.on_read(ticket, es, next, now, out);
}

TEST(EndpointMachine, StartsClosedAndReadsTheBacklogWhenAConsumerSubscribes) {
  test_machine m{config(3), 41};
  test_actions out;
  EXPECT_EQ(m.state(), endpoint_state::closed);
  auto es = entries(42, 43);
  m.on_durable(es, 0, out); // no consumer: noted by the store only
  EXPECT_TRUE(out.empty());

  m.on_subscribe(0, out);
  EXPECT_EQ(m.state(), endpoint_state::reading);
  ASSERT_TRUE(out.read);
  EXPECT_EQ(out.read->from, 42U); // after the checkpoint it started from
  EXPECT_EQ(out.read->max, 64U);
  answer(m, out, entries(42, 46), 47);
  EXPECT_EQ(seqs(out.deliver), (S{42, 43, 44}));
  EXPECT_EQ(m.state(), endpoint_state::sending); // window full
  EXPECT_FALSE(out.drained);
}

TEST(EndpointMachine, DeliversWithinItsWindowAndCheckpointsTheAckedPrefixOncePerBurst) {
  test_machine m{config(3)};
  test_actions out;
  m.on_subscribe(0, out);
  answer(m, out, entries(1, 5), 6);
  EXPECT_EQ(seqs(out.deliver), (S{1, 2, 3}));

  out.clear();
  m.on_ack(2, 0, out); // out of order: no prefix yet, no room
  EXPECT_TRUE(out.empty());
  m.on_ack(1, 0, out);
  EXPECT_TRUE(out.flush); // prefix 1..2: one flush asked for the burst
  EXPECT_EQ(seqs(out.deliver), (S{4, 5}));
  EXPECT_TRUE(out.drained); // everything stored at subscription is out
  EXPECT_EQ(out.checkpoint, 0U);

  out.clear();
  m.on_ack(S{3, 4}, 0, out);
  EXPECT_FALSE(out.flush); // the flush asked for is still to come
  m.on_flush(out);
  EXPECT_EQ(out.checkpoint, 4U); // the highest of the burst, written once
  EXPECT_EQ(m.inflight(), 1U);
  EXPECT_EQ(m.state(), endpoint_state::idle);
}

TEST(EndpointMachine, ServesNewDurableEntriesFromMemoryOnceInSync) {
  test_machine m{config(10)};
  test_actions out;
  m.on_subscribe(0, out);
  answer(m, out, {}, 1); // empty queue: in sync
  EXPECT_TRUE(out.drained);
  EXPECT_TRUE(m.synced());
  out.clear();
  auto es = entries(1, 3);
  m.on_durable(es, 0, out);
  EXPECT_EQ(seqs(out.deliver), (S{1, 2, 3}));
  EXPECT_FALSE(out.read);
  EXPECT_FALSE(out.drained); // once per subscription

  out.clear();
  auto gap = entries(5, 5); // 4 went elsewhere first: read it back from the store
  m.on_durable(gap, 0, out);
  EXPECT_TRUE(out.deliver.empty());
  ASSERT_TRUE(out.read);
  EXPECT_EQ(out.read->from, 4U);
}

TEST(EndpointMachine, ReadsFromTheStoreWhenMoreThanTheBufferLimitArrives) {
  test_machine m{config(1, 64, 2)};
  test_actions out;
  m.on_subscribe(0, out);
  answer(m, out, {}, 1);
  out.clear();
  auto es = entries(1, 5);
  m.on_durable(es, 0, out);
  EXPECT_EQ(seqs(out.deliver), (S{1}));
  EXPECT_EQ(m.buffered(), 1U); // 2 kept (limit), then out of sync
  EXPECT_FALSE(m.synced());
  out.clear();
  m.on_ack(1, 0, out);
  EXPECT_EQ(seqs(out.deliver), (S{2}));
  EXPECT_FALSE(out.read);
  out.clear();
  m.on_ack(2, 0, out);
  ASSERT_TRUE(out.read); // memory ran dry before the queue's end
  EXPECT_EQ(out.read->from, 3U);
}

TEST(EndpointMachine, RedeliversFromTheOldestUnackedEntryToTheNextConsumer) {
  test_machine m{config(10)};
  test_actions out;
  m.on_subscribe(0, out);
  answer(m, out, entries(1, 4), 5);
  out.clear();
  m.on_ack(S{1, 3}, 0, out); // 2 and 4 outstanding
  m.on_consumer_lost(out);
  EXPECT_EQ(m.state(), endpoint_state::closed);
  EXPECT_EQ(m.next_read(), 2U);
  m.on_flush(out);
  EXPECT_EQ(out.checkpoint, 1U);

  out.clear();
  m.on_subscribe(0, out);
  ASSERT_TRUE(out.read);
  EXPECT_EQ(out.read->from, 2U);
  answer(m, out, entries(2, 4), 5);
  EXPECT_EQ(seqs(out.deliver), (S{2, 3, 4})); // 3 again: at least once, in order
  EXPECT_TRUE(out.drained);
}

TEST(EndpointMachine, IgnoresAReadAnsweredForAPositionBeforeARewind) {
  // The actor this machine replaces accepted such a late answer and skipped the rewound
  // entries until the next rewind.
  test_machine m{config(3, 3)};
  test_actions out;
  m.on_subscribe(0, out);
  answer(m, out, entries(1, 3), 4); // a full batch: not known to be the end
  EXPECT_EQ(seqs(out.deliver), (S{1, 2, 3}));
  out.clear();
  m.on_ack(1, 0, out);
  ASSERT_TRUE(out.read);
  const auto stale = *out.read;
  EXPECT_EQ(stale.from, 4U);

  out.clear();
  m.on_subscribe(0, out); // another consumer takes over: back to 2
  ASSERT_TRUE(out.read);
  const auto fresh = *out.read;
  EXPECT_EQ(fresh.from, 2U);
  out.clear();
  auto late = entries(4, 5);
  m.on_read(stale.ticket, late, 6, 0, out);
  EXPECT_TRUE(out.deliver.empty());
  auto es = entries(2, 5);
  m.on_read(fresh.ticket, es, 6, 0, out);
  EXPECT_EQ(seqs(out.deliver), (S{2, 3, 4}));
}

TEST(EndpointMachine, ANackPausesForTheBackOffThenRedeliversFromTheOldestUnacked) {
  test_machine m{config(10)};
  test_actions out;
  m.on_subscribe(1000, out);
  answer(m, out, entries(1, 4), 5, 1000);
  out.clear();
  m.on_nack(2, 1000, out);
  EXPECT_EQ(m.state(), endpoint_state::failing);
  ASSERT_TRUE(out.retry);
  EXPECT_EQ(out.retry->at_ms, 2000); // min back-off 1 s
  const auto first = *out.retry;

  out.clear();
  m.on_ack(S{1, 3}, 1100, out); // acks still count while failing
  EXPECT_TRUE(out.flush);
  auto more = entries(5, 5);
  m.on_durable(more, 1100, out);
  EXPECT_TRUE(out.deliver.empty()); // nothing goes out while failing
  m.on_nack(4, 1200, out);
  EXPECT_FALSE(out.retry); // one back-off at a time

  m.on_retry_timer(first.token + 100, 2000, out); // not ours
  EXPECT_EQ(m.state(), endpoint_state::failing);
  m.on_retry_timer(first.token, 2000, out);
  EXPECT_EQ(m.state(), endpoint_state::reading);
  ASSERT_TRUE(out.read);
  EXPECT_EQ(out.read->from, 2U);
  answer(m, out, entries(2, 5), 6, 2000);
  EXPECT_EQ(seqs(out.deliver), (S{2, 3, 4, 5}));
}

TEST(EndpointMachine, ConsecutiveFailuresBackOffExponentiallyAndSuccessStartsOver) {
  endpoint_config c = config(10);
  c.retry = {1000, 5000, 1000};
  test_machine m{c};
  test_actions out;
  m.on_subscribe(0, out);
  answer(m, out, entries(1, 2), 3);
  std::vector<std::int64_t> waits;
  std::int64_t now = 0;
  for (int i = 0; i < 5; ++i) {
    out.clear();
    m.on_nack(1, now, out);
    ASSERT_TRUE(out.retry);
    waits.push_back(out.retry->at_ms - now);
    now = out.retry->at_ms;
    const auto token = out.retry->token;
    out.clear();
    m.on_retry_timer(token, now, out);
    answer(m, out, entries(1, 2), 3, now);
    ASSERT_EQ(seqs(out.deliver), (S{1, 2}));
  }
  EXPECT_EQ(waits, (std::vector<std::int64_t>{1000, 2000, 4000, 5000, 5000}));
  out.clear();
  m.on_ack(1, now, out); // the failed entry got through
  EXPECT_EQ(m.attempts(), 0U);
  m.on_nack(2, now, out);
  ASSERT_TRUE(out.retry);
  EXPECT_EQ(out.retry->at_ms - now, 1000);
}

TEST(EndpointMachine, AFailedReadIsRetriedAfterTheBackOff) {
  test_machine m{config(4)};
  test_actions out;
  m.on_subscribe(0, out);
  ASSERT_TRUE(out.read);
  const auto ticket = out.read->ticket;
  out.clear();
  m.on_read_failed(ticket, 50, out);
  EXPECT_EQ(m.state(), endpoint_state::failing);
  ASSERT_TRUE(out.retry);
  EXPECT_EQ(out.retry->at_ms, 1050);
  const auto token = out.retry->token;
  out.clear();
  m.on_retry_timer(token, 1050, out);
  ASSERT_TRUE(out.read);
  answer(m, out, entries(1, 2), 3, 1050);
  EXPECT_EQ(seqs(out.deliver), (S{1, 2}));
  EXPECT_EQ(m.attempts(), 0U);
}

TEST(EndpointMachine, ReportsExpiredEntriesInsteadOfDeliveringThemAndCheckpointsPastThem) {
  test_machine m{config(10)};
  test_actions out;
  m.on_subscribe(100, out);
  std::vector<test_entry> es{{1, 0, "a"}, {2, 50, "old"}, {3, 200, "b"}, {4, 100, "now"}};
  answer(m, out, es, 5, 100);
  EXPECT_EQ(seqs(out.deliver), (S{1, 3}));
  EXPECT_EQ(out.expired, (S{2, 4}));
  out.clear();
  m.on_ack(S{1, 3}, 100, out);
  m.on_flush(out);
  EXPECT_EQ(out.checkpoint, 4U); // expired entries count as done
}

TEST(EndpointMachine, ATickDropsEntriesThatExpireWhileWaitingInMemory) {
  test_machine m{config(1)};
  test_actions out;
  m.on_subscribe(0, out);
  answer(m, out, {{1, 0, "a"}, {2, 500, "b"}, {3, 0, "c"}}, 4);
  EXPECT_EQ(seqs(out.deliver), (S{1}));
  out.clear();
  m.on_tick(400, out);
  EXPECT_TRUE(out.expired.empty());
  m.on_tick(500, out);
  EXPECT_EQ(out.expired, (S{2}));
  EXPECT_EQ(m.buffered(), 1U);
  out.clear();
  m.on_ack(1, 500, out);
  EXPECT_EQ(seqs(out.deliver), (S{3}));
}

TEST(EndpointMachine, SaysDrainedOnceTheBacklogAtSubscriptionIsOutEvenWhileMoreArrives) {
  test_machine m{config(2, 2)};
  test_actions out;
  m.on_subscribe(0, out);
  answer(m, out, entries(1, 2), 4); // 1..3 stored at subscription
  EXPECT_FALSE(out.drained);
  std::int64_t now = 0;
  endpoint_seq next = 4;
  bool drained = false;
  for (endpoint_seq s = 1; s <= 3; ++s) {
    auto es = entries(next, next); // a steady stream behind the backlog
    ++next;
    out.clear();
    m.on_durable(es, now, out);
    m.on_ack(s, now, out);
    if (out.read) {
      answer(m, out, entries(s + 2, next - 1), next, now);
    }
    drained = drained || out.drained;
  }
  EXPECT_TRUE(drained); // 3 went out although 4.. keep coming with the window full
}

TEST(EndpointMachine, RestartsFromTheStoredCheckpointForgettingWhatWasInMemory) {
  test_machine m{config(4)};
  test_actions out;
  m.on_subscribe(0, out);
  answer(m, out, entries(1, 4), 5);
  out.clear();
  m.on_ack(S{1, 2}, 0, out);
  EXPECT_TRUE(out.flush);
  m.on_restart(1); // the checkpoint written before the crash
  EXPECT_EQ(m.state(), endpoint_state::closed);
  EXPECT_EQ(m.next_read(), 2U);
  out.clear();
  m.on_flush(out); // the checkpoint pending before the crash is gone
  EXPECT_EQ(out.checkpoint, 0U);
  m.on_subscribe(0, out);
  ASSERT_TRUE(out.read);
  EXPECT_EQ(out.read->from, 2U);
}

TEST(EndpointMachine, TheTransitionTableNamesEveryStateAndEvent) {
  EXPECT_EQ(to_string(endpoint_state::failing), "failing");
  EXPECT_EQ(to_string(endpoint_event::retry_timer), "retry_timer");
  for (std::size_t s = 0; s < endpoint_state_count; ++s) {
    for (std::size_t e = 0; e < endpoint_event_count; ++e) {
      const auto from = static_cast<endpoint_state>(s);
      const auto ev = static_cast<endpoint_event>(e);
      EXPECT_NE(endpoint_next_states(from, ev), 0) << to_string(from) << " " << to_string(ev);
      EXPECT_TRUE(
          endpoint_transition_allowed(from, endpoint_event::restart, endpoint_state::closed));
    }
  }
  EXPECT_FALSE(endpoint_transition_allowed(endpoint_state::closed, endpoint_event::durable,
                                           endpoint_state::sending));
  EXPECT_FALSE(endpoint_transition_allowed(endpoint_state::failing, endpoint_event::ack,
                                           endpoint_state::idle));
  EXPECT_TRUE(endpoint_transition_allowed(endpoint_state::failing, endpoint_event::retry_timer,
                                          endpoint_state::reading));
}

TEST(RetryPolicy, BacksOffExponentiallyUpToTheCap) {
  retry_policy p; // IoT Edge's store-and-forward defaults
  std::vector<std::int64_t> got;
  for (std::uint32_t a = 1; a <= 9; ++a) {
    got.push_back(p.delay_ms(a));
  }
  EXPECT_EQ(got,
            (std::vector<std::int64_t>{1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000}));
  EXPECT_EQ(p.delay_ms(0), 1000);
  EXPECT_EQ(p.delay_ms(4000000000U), 60000);           // no overflow
  EXPECT_EQ((retry_policy{10, 5, 1}.delay_ms(3)), 10); // a cap below the minimum
  EXPECT_EQ((retry_policy{0, 100, 0}.delay_ms(7)), 0);
}

} // namespace
} // namespace outpost::routing
