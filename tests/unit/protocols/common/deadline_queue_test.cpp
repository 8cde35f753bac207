#include "protocols/common/deadline_queue.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace outpost {
namespace {

std::vector<std::string> due(deadline_queue<std::string>& q, std::int64_t now) {
  std::vector<std::string> out;
  q.take_due(now, [&](std::string&& s) { out.push_back(std::move(s)); });
  return out;
}

TEST(DeadlineQueue, HandsOverDueOwnersEarliestFirstOnce) {
  deadline_queue<std::string> q;
  q.set(0, 300, "c");
  q.set(0, 100, "a");
  q.set(0, 200, "b");
  EXPECT_EQ(q.next(), 100);
  EXPECT_TRUE(due(q, 99).empty());
  EXPECT_EQ(due(q, 200), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(due(q, 200).empty());
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(due(q, 1000), (std::vector<std::string>{"c"}));
  EXPECT_EQ(q.next(), q.never);
}

TEST(DeadlineQueue, SettingAgainMovesTheOneEntry) {
  deadline_queue<std::string> q;
  const auto h = q.set(0, 100, "a");
  EXPECT_EQ(q.set(h, 500, "ignored"), h); // later
  EXPECT_TRUE(due(q, 400).empty());
  EXPECT_EQ(q.next(), 500);
  EXPECT_EQ(q.set(h, 50, "ignored"), h); // earlier
  EXPECT_EQ(due(q, 60), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(due(q, 1000).empty()); // the moved copies are stale, not due again
  EXPECT_EQ(q.size(), 0u);
}

TEST(DeadlineQueue, AnOldHandleNeverReachesTheSlotsNextOwner) {
  deadline_queue<std::string> q;
  const auto first = q.set(0, 100, "first");
  EXPECT_EQ(due(q, 100).size(), 1u);
  const auto second = q.set(0, 200, "second"); // the same slot, reused
  EXPECT_NE(first, second);
  q.clear(first); // taken already: must not clear "second"
  const auto third = q.set(first, 50, "third");
  EXPECT_NE(third, second);
  EXPECT_EQ(due(q, 1000), (std::vector<std::string>{"third", "second"}));
  const auto fourth = q.set(0, 10, "fourth");
  q.clear(fourth);
  q.clear(fourth);
  q.clear(0);
  EXPECT_TRUE(due(q, 1000).empty());
}

TEST(DeadlineQueue, StaysBoundedAndAgreesWithAModelUnderRandomUse) {
  deadline_queue<int> q;
  std::map<int, std::pair<deadline_queue<int>::handle, std::int64_t>> model; // owner -> entry
  std::mt19937 rng{11};
  std::int64_t now = 0;
  for (int step = 0; step < 200'000; ++step) {
    const int owner = static_cast<int>(rng() % 500);
    switch (rng() % 4) {
      case 0:
      case 1: {
        const auto at = now + static_cast<std::int64_t>(rng() % 1000);
        auto& m = model[owner];
        if (m.first == 0) {
          m.first = q.set(0, at, owner);
        } else {
          EXPECT_EQ(q.set(m.first, at, owner), m.first);
        }
        m.second = at;
        break;
      }
      case 2:
        if (auto i = model.find(owner); i != model.end()) {
          q.clear(i->second.first);
          model.erase(i);
        }
        break;
      default: {
        now += static_cast<std::int64_t>(rng() % 50);
        std::int64_t last = -1;
        q.take_due(now, [&](int&& o) {
          auto i = model.find(o);
          ASSERT_NE(i, model.end()) << o;
          EXPECT_LE(i->second.second, now);
          EXPECT_GE(i->second.second, last); // earliest first
          last = i->second.second;
          model.erase(i);
        });
        for (const auto& [o, m] : model) {
          EXPECT_GT(m.second, now) << o; // nothing due was left behind
        }
      }
    }
    ASSERT_EQ(q.size(), model.size());
    ASSERT_LE(q.heap_size(), 2 * model.size() + 65);
  }
}

} // namespace
} // namespace outpost
