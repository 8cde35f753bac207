#include "protocols/common/ring_queue.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <random>
#include <string>

namespace outpost {
namespace {

TEST(RingQueue, BehavesAsADequeUsedAsAFifoUnderRandomPushesAndPops) {
  ring_queue<std::string> ring;
  std::deque<std::string> model;
  std::mt19937 rng{7};
  for (int step = 0; step < 200000; ++step) {
    // Phases of growth and of draining, so the buffer wraps, doubles, empties and is given back.
    const bool grow = (step / 5000) % 2 == 0;
    if (model.empty() || rng() % 100 < (grow ? 70u : 30u)) {
      const auto v = std::to_string(step);
      ring.push_back(v);
      model.push_back(v);
    } else {
      ASSERT_EQ(ring.front(), model.front());
      ring.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(ring.size(), model.size());
    ASSERT_EQ(ring.empty(), model.empty());
    if (!model.empty()) {
      ASSERT_EQ(ring.back(), model.back());
      const auto i = rng() % model.size();
      ASSERT_EQ(ring[i], model[i]);
    }
  }
  std::size_t i = 0;
  for (const auto& v : ring) {
    ASSERT_EQ(v, model[i++]);
  }
  EXPECT_EQ(i, model.size());
}

TEST(RingQueue, EntriesAreReleasedWhenPoppedAndAnEmptyQueueOwnsNothing) {
  auto tracked = std::make_shared<int>(1);
  ring_queue<std::shared_ptr<int>> ring;
  ring.push_back(tracked);
  ring.push_back(tracked);
  EXPECT_EQ(tracked.use_count(), 3);
  ring.pop_front();
  EXPECT_EQ(tracked.use_count(), 2); // not held on in the freed slot
  ring.front() = nullptr;
  ring.pop_front();
  EXPECT_TRUE(ring.empty());

  for (int k = 0; k < 1000; ++k) {
    ring.push_back(tracked);
  }
  for (auto& p : ring) {
    EXPECT_EQ(p, tracked);
  }
  while (!ring.empty()) {
    ring.pop_front();
  }
  EXPECT_EQ(tracked.use_count(), 1);
}

TEST(RingQueue, AnEmptyQueueIsCheapToHold) {
  // What ten thousand idle sessions pay for each of their queues.
  EXPECT_LE(sizeof(ring_queue<std::pair<std::uint16_t, bool>>), 48u);
}

} // namespace
} // namespace outpost
