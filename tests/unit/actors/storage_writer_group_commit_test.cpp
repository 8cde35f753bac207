// The storage writer's group commit window (storage_writer_config::group_commit): on its own
// thread, as in the daemon, with real time (so not in actors_unit_tests, which runs under TSan:
// Debian's CAF is not instrumented, tools/ci/tsan.supp). While appends come faster than its syncs,
// a small pass waits for more and they share one durable write; an idle writer commits at once.

#include "actors/common/messages.hpp"
#include "actors/common/storage_writer.hpp"
#include "tests/unit/actors/counting_kv.hpp"

#include <caf/all.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace outpost::actors {
namespace {

using namespace std::chrono_literals;
using testing::counting_kv;

class WriterGroupCommit : public ::testing::Test {
protected:
  void start(std::chrono::microseconds window) {
    storage_writer_config cfg;
    cfg.kv = kv_;
    cfg.now_ms = [] {
      return std::int64_t{1'000'000};
    };
    cfg.cleanup_interval = std::chrono::milliseconds{0};
    cfg.detached = true;
    cfg.group_commit = window;
    auto w = spawn_storage_writer(sys_, cfg);
    ASSERT_TRUE(w);
    writer_ = *w;
    self_->request(writer_, caf::infinite, open_atom::value, storage::queue_name{"m/in", 0})
        .receive([&](open_reply& r) { queue_ = r.queue; }, [](caf::error&) { FAIL(); });
  }

  void append(const std::string& body) {
    self_->send(writer_, append_atom::value, append_requests{{body, {{queue_, -1}}}});
  }

  void await_answers(int n) {
    for (int i = 0; i < n; ++i) {
      self_->receive([](append_outcomes& o) { EXPECT_FALSE(o.at(0).error); },
                     caf::after(10s) >> [] { FAIL() << "no answer"; });
    }
  }

  /// One append answered, then two more `gap` apart (each answered before the durable count
  /// is read: the answer orders the writer's write before the read).
  int durable_writes_for_a_burst(std::chrono::milliseconds gap) {
    append("first");
    await_answers(1);
    const int before = kv_->durable_writes;
    append("second");
    std::this_thread::sleep_for(gap);
    append("third");
    await_answers(2);
    return kv_->durable_writes - before;
  }

  std::shared_ptr<counting_kv> kv_ = std::make_shared<counting_kv>();
  caf::actor_system_config cfg_;
  caf::actor_system sys_{cfg_};
  caf::scoped_actor self_{sys_};
  writer_actor writer_;
  storage::queue_handle queue_ = 0;
};

TEST_F(WriterGroupCommit, AppendsThatComeFasterThanSyncsShareOne) {
  start(200ms); // far above the 5 ms gap: a loaded machine keeps the order
  EXPECT_EQ(durable_writes_for_a_burst(5ms), 1) << "the second pass waited for the third append";
}

TEST_F(WriterGroupCommit, WithoutAWindowEveryPassSyncs) {
  start(0ms);
  EXPECT_EQ(durable_writes_for_a_burst(200ms), 2);
}

TEST_F(WriterGroupCommit, AnIdleWriterCommitsAtOnce) {
  start(2s);
  const auto t0 = std::chrono::steady_clock::now();
  append("alone");
  await_answers(1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "no wait without a recent commit";
}

} // namespace
} // namespace outpost::actors
