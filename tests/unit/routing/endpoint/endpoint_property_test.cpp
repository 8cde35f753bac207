// Property tests of endpoint_machine: seeded random interleavings of appends, durable
// notifications, store reads (some failing), deliveries, acks in any order, nacks, retry timers,
// ticks, consumer loss, resubscription and restarts from the stored checkpoint, against an
// in-memory model of the store and the writer. Messages between the machine and the writer go
// through FIFO channels, as between the mailbox and the storage writer actors, so answers
// arrive late and interleave with everything else. Each run ends by letting the system settle
// (a consumer attached, every channel and timer served, every delivery acknowledged).

#include "routing/endpoint/endpoint_machine.hpp"
#include "tests/unit/routing/endpoint/test_entry.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <variant>

namespace outpost::routing {
namespace {

using testing::test_actions;
using testing::test_entry;
using testing::test_machine;

bool expired_at(std::int64_t expires_ms, std::int64_t now) {
  return expires_ms != 0 && expires_ms <= now;
}

/// The message store as the machine sees it through the writer.
struct model_store {
  std::map<endpoint_seq, test_entry> live; ///< appended, not acknowledged, not deleted
  endpoint_seq checkpoint = 0;
  endpoint_seq next = 1;

  test_entry append(std::int64_t expires_ms) {
    test_entry e{next++, expires_ms, "m"};
    live.emplace(e.seq, e);
    return e;
  }
  /// Like message_store::read followed by the writer dropping what it passed over expired.
  std::vector<test_entry> read(endpoint_seq from, std::size_t max, std::int64_t now) {
    std::vector<test_entry> out;
    for (auto i = live.lower_bound(std::max(from, checkpoint + 1));
         i != live.end() && out.size() < max;) {
      if (expired_at(i->second.expires_ms, now)) {
        i = live.erase(i);
        continue;
      }
      out.push_back(i->second);
      ++i;
    }
    return out;
  }
  void ack(endpoint_seq up_to) {
    checkpoint = std::max(checkpoint, up_to);
    live.erase(live.begin(), live.upper_bound(checkpoint));
  }
  void drop_expired(const std::vector<endpoint_seq>& seqs, std::int64_t now) {
    for (auto s : seqs) {
      auto i = live.find(s);
      if (i != live.end() && expired_at(i->second.expires_ms, now)) {
        live.erase(i);
      }
    }
  }
};

struct durable_msg {
  std::vector<test_entry> es;
};
struct reply_msg {
  std::uint64_t ticket = 0;
  std::vector<test_entry> es;
  endpoint_seq next = 0;
  bool error = false;
};
/// Machine -> writer: a read, a checkpoint or a report of expired entries.
struct writer_msg {
  enum class kind { read, checkpoint, expired } what = kind::read;
  endpoint_read read;
  endpoint_seq up_to = 0;
  std::vector<endpoint_seq> seqs;
};

/// Totals over all runs, to show the interleavings reach every path.
struct coverage {
  std::uint64_t deliveries = 0, redeliveries = 0, expired = 0, nacks = 0, retries = 0,
                read_errors = 0, restarts = 0, drained = 0, checkpoints = 0, takeovers = 0;
};

class run {
public:
  run(std::uint32_t seed, coverage& cov) : rng_(seed), cov_(cov) {
    cfg_.window = pick(1, 8);
    cfg_.read_batch = pick(1, 8);
    cfg_.buffer_limit = pick(1, 16);
    cfg_.retry = {pick(1, 20), pick(20, 200), pick(1, 10)};
    m_ = test_machine{cfg_, 0};
  }

  void random_steps(int steps) {
    for (int i = 0; i < steps && failure_.empty(); ++i) {
      const int dice = pick(0, 99);
      if (dice < 14) {
        append(pick(1, 3));
      } else if (dice < 30) {
        to_machine(false);
      } else if (dice < 42) {
        to_writer(true);
      } else if (dice < 48) {
        flush();
      } else if (dice < 62) {
        ack_some();
      } else if (dice < 67) {
        nack_one();
      } else if (dice < 72) {
        fire_timer();
      } else if (dice < 82) {
        now_ += pick(0, 30);
      } else if (dice < 86) {
        tick();
      } else if (dice < 88) {
        consumer_lost();
      } else if (dice < 91) {
        subscribe();
      } else if (dice < 92) {
        restart();
      } else {
        // idle step: time stands still, nothing happens
      }
    }
  }

  /// Lets everything in flight arrive with a consumer attached and acknowledging.
  void settle() {
    if (!subscribed_) {
      subscribe();
    }
    for (int i = 0; i < 100000 && failure_.empty(); ++i) {
      bool progress = false;
      while (!machine_box_.empty()) {
        to_machine(true);
        progress = true;
      }
      while (!writer_box_.empty()) {
        to_writer(false);
        progress = true;
      }
      while (flushes_ > 0) {
        flush();
        progress = true;
      }
      if (!outstanding_.empty()) {
        std::vector<endpoint_seq> all(outstanding_.begin(), outstanding_.end());
        ack(all);
        progress = true;
      }
      if (!progress && !timers_.empty()) {
        fire_timer();
        progress = true;
      }
      if (!progress) {
        break;
      }
    }
    check(m_.state() == endpoint_state::idle, "settles idle");
    check(drained_ == 1, "settled subscription heard drained once");
    for (const auto& [seq, e] : store_.live) {
      check(expired_at(e.expires_ms, now_),
            "entry " + std::to_string(seq) + " unexpired, never acknowledged");
    }
    for (const auto& [seq, expires] : appended_) {
      if (!expired_at(expires, now_)) {
        check(ever_delivered_.count(seq) == 1,
              "entry " + std::to_string(seq) + " unexpired, never delivered");
      }
    }
  }

  const std::string& failure() const { return failure_; }
  std::string describe() const {
    std::ostringstream os;
    os << "window " << cfg_.window << " read_batch " << cfg_.read_batch << " buffer_limit "
       << cfg_.buffer_limit << "; trace:\n"
       << trace_.str();
    return os.str();
  }

private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  void check(bool ok, const std::string& what) {
    if (!ok && failure_.empty()) {
      failure_ = what;
    }
  }

  /// Runs one event through the machine, checks the transition and carries out the actions.
  template <class F>
  void event(endpoint_event ev, F&& f) {
    const auto before = m_.state();
    f();
    const auto after = m_.state();
    trace_ << to_string(before) << " --" << to_string(ev) << "--> " << to_string(after) << "\n";
    check(endpoint_transition_allowed(before, ev, after),
          std::string{"transition "} + std::string{to_string(before)} + " --"
              + std::string{to_string(ev)} + "--> " + std::string{to_string(after)});
    if (after != endpoint_state::failing && before == endpoint_state::failing
        && ev == endpoint_event::retry_timer) {
      new_epoch(); // the retry went back to the oldest unacknowledged entry
    }
    carry_out();
    check(m_.inflight() <= cfg_.window, "machine over its window");
    check(m_.unacknowledged() <= cfg_.window, "more unacknowledged than the window");
    check(epoch_outstanding_.size() <= cfg_.window, "consumer holds more than the window");
  }

  void carry_out() {
    for (auto s : out_.expired) {
      check(expired_at(appended_[s], now_), "reported unexpired " + std::to_string(s));
      ++cov_.expired;
    }
    if (!out_.expired.empty()) {
      writer_box_.push_back({writer_msg::kind::expired, {}, 0, out_.expired});
    }
    for (auto& e : out_.deliver) {
      delivered(e);
    }
    if (out_.drained) {
      drained();
    }
    if (out_.checkpoint != 0) {
      writer_box_.push_back({writer_msg::kind::checkpoint, {}, out_.checkpoint, {}});
    }
    if (out_.flush) {
      ++flushes_;
    }
    if (out_.read) {
      writer_box_.push_back({writer_msg::kind::read, *out_.read, 0, {}});
    }
    if (out_.retry) {
      check(out_.retry->at_ms > now_ || cfg_.retry.min_backoff_ms == 0, "retry in the past");
      timers_.push_back(*out_.retry);
    }
    out_.clear();
  }

  void delivered(const test_entry& e) {
    const auto s = e.seq;
    trace_ << "  deliver " << s << "\n";
    ++cov_.deliveries;
    check(subscribed_, "delivered without a consumer");
    check(!expired_at(e.expires_ms, now_), "delivered expired " + std::to_string(s));
    check(s > store_.checkpoint, "delivered " + std::to_string(s) + " under the written checkpoint "
                                     + std::to_string(store_.checkpoint));
    check(s > last_in_epoch_,
          "out of order: " + std::to_string(s) + " after " + std::to_string(last_in_epoch_));
    // Nothing skipped: every older live entry, unexpired and not acknowledged, went out in
    // this epoch (redeliveries start from the oldest unacknowledged entry).
    for (auto i = store_.live.begin(); i != store_.live.end() && i->first < s; ++i) {
      if (!expired_at(i->second.expires_ms, now_) && acked_.count(i->first) == 0) {
        check(epoch_delivered_.count(i->first) == 1,
              "skipped " + std::to_string(i->first) + " before " + std::to_string(s));
      }
    }
    if (ever_delivered_.count(s) != 0) {
      ++cov_.redeliveries;
    }
    last_in_epoch_ = s;
    epoch_delivered_.insert(s);
    epoch_outstanding_.insert(s);
    sub_delivered_.insert(s);
    outstanding_.insert(s);
    ever_delivered_.insert(s);
  }

  void drained() {
    trace_ << "  drained\n";
    ++cov_.drained;
    check(subscribed_, "drained without a consumer");
    check(++drained_ == 1, "drained twice in one subscription");
    for (auto i = store_.live.begin(); i != store_.live.end() && i->first < next_at_subscribe_;
         ++i) {
      if (!expired_at(i->second.expires_ms, now_) && acked_.count(i->first) == 0) {
        check(sub_delivered_.count(i->first) == 1,
              "drained before backlog entry " + std::to_string(i->first) + " went out");
      }
    }
  }

  void new_epoch() {
    epoch_delivered_.clear();
    epoch_outstanding_.clear();
    last_in_epoch_ = 0;
  }

  void append(int n) {
    durable_msg d;
    for (int i = 0; i < n; ++i) {
      const std::int64_t expires = pick(0, 1) == 0 ? 0 : now_ + pick(1, 150);
      auto e = store_.append(expires);
      appended_[e.seq] = expires;
      d.es.push_back(e);
    }
    trace_ << "append up to " << store_.next - 1 << "\n";
    machine_box_.emplace_back(std::move(d)); // the writer's notification, after the commit
  }

  void to_machine(bool) {
    if (machine_box_.empty()) {
      return;
    }
    auto msg = std::move(machine_box_.front());
    machine_box_.pop_front();
    if (auto* d = std::get_if<durable_msg>(&msg)) {
      event(endpoint_event::durable, [&] { m_.on_durable(d->es, now_, out_); });
    } else {
      auto& r = std::get<reply_msg>(msg);
      if (r.error) {
        event(endpoint_event::read_failed, [&] { m_.on_read_failed(r.ticket, now_, out_); });
      } else {
        event(endpoint_event::read_result, [&] { m_.on_read(r.ticket, r.es, r.next, now_, out_); });
      }
    }
  }

  void to_writer(bool may_fail) {
    if (writer_box_.empty()) {
      return;
    }
    auto msg = std::move(writer_box_.front());
    writer_box_.pop_front();
    if (msg.what == writer_msg::kind::read) {
      reply_msg reply;
      reply.ticket = msg.read.ticket;
      if (may_fail && pick(0, 19) == 0) {
        reply.error = true;
        ++cov_.read_errors;
      } else {
        reply.es = store_.read(msg.read.from, msg.read.max, now_);
        reply.next = store_.next;
      }
      machine_box_.emplace_back(std::move(reply));
    } else if (msg.what == writer_msg::kind::checkpoint) {
      trace_ << "  checkpoint written " << msg.up_to << "\n";
      ++cov_.checkpoints;
      store_.ack(msg.up_to);
    } else {
      store_.drop_expired(msg.seqs, now_);
    }
  }

  void flush() {
    if (flushes_ == 0) {
      return;
    }
    --flushes_;
    event(endpoint_event::flush, [&] { m_.on_flush(out_); });
  }

  void ack(const std::vector<endpoint_seq>& seqs) {
    for (auto s : seqs) {
      outstanding_.erase(s);
      if (epoch_outstanding_.erase(s) != 0) {
        acked_.insert(s); // the machine holds it in flight: the ack counts
      }
    }
    if (seqs.size() == 1 && pick(0, 1) == 0) {
      event(endpoint_event::ack, [&] { m_.on_ack(seqs.front(), now_, out_); });
    } else {
      event(endpoint_event::ack, [&] { m_.on_ack(seqs, now_, out_); });
    }
  }

  void ack_some() {
    if (outstanding_.empty()) {
      return;
    }
    std::vector<endpoint_seq> all(outstanding_.begin(), outstanding_.end());
    std::shuffle(all.begin(), all.end(), rng_);
    all.resize(static_cast<std::size_t>(pick(1, static_cast<int>(all.size()))));
    ack(all);
  }

  void nack_one() {
    if (outstanding_.empty()) {
      return;
    }
    auto it = outstanding_.begin();
    std::advance(it, pick(0, static_cast<int>(outstanding_.size()) - 1));
    const auto s = *it;
    outstanding_.erase(it); // the consumer gave up on it: it never acknowledges it now
    epoch_outstanding_.erase(s);
    ++cov_.nacks;
    event(endpoint_event::nack, [&] { m_.on_nack(s, now_, out_); });
  }

  void fire_timer() {
    if (timers_.empty()) {
      return;
    }
    auto first = std::min_element(timers_.begin(), timers_.end(),
                                  [](const auto& a, const auto& b) { return a.at_ms < b.at_ms; });
    const auto t = *first;
    timers_.erase(first);
    now_ = std::max(now_, t.at_ms);
    ++cov_.retries;
    event(endpoint_event::retry_timer, [&] { m_.on_retry_timer(t.token, now_, out_); });
  }

  void tick() {
    event(endpoint_event::tick, [&] { m_.on_tick(now_, out_); });
  }

  void forget_consumer() {
    subscribed_ = false;
    outstanding_.clear();
    sub_delivered_.clear();
    new_epoch();
  }

  void consumer_lost() {
    if (!subscribed_) {
      return;
    }
    forget_consumer();
    event(endpoint_event::consumer_lost, [&] { m_.on_consumer_lost(out_); });
  }

  void subscribe() {
    if (subscribed_) {
      ++cov_.takeovers;
    }
    forget_consumer();
    subscribed_ = true;
    drained_ = 0;
    next_at_subscribe_ = store_.next;
    event(endpoint_event::subscribe, [&] { m_.on_subscribe(now_, out_); });
  }

  void restart() {
    ++cov_.restarts;
    trace_ << "restart at checkpoint " << store_.checkpoint << "\n";
    machine_box_.clear(); // what was in flight between the actors died with the process
    writer_box_.clear();
    timers_.clear();
    flushes_ = 0;
    acked_.clear();
    forget_consumer();
    event(endpoint_event::restart, [&] { m_.on_restart(store_.checkpoint); });
  }

  std::mt19937 rng_;
  coverage& cov_;
  endpoint_config cfg_;
  test_machine m_;
  test_actions out_;
  model_store store_;
  std::int64_t now_ = 1000;

  std::deque<std::variant<durable_msg, reply_msg>> machine_box_; ///< writer -> machine
  std::deque<writer_msg> writer_box_;
  int flushes_ = 0;
  std::vector<endpoint_retry> timers_;

  bool subscribed_ = false;
  std::set<endpoint_seq> outstanding_;       ///< delivered to this consumer, not acknowledged
  std::set<endpoint_seq> epoch_outstanding_; ///< of those, delivered since the last rewind
  std::set<endpoint_seq> epoch_delivered_;
  endpoint_seq last_in_epoch_ = 0;
  std::set<endpoint_seq> sub_delivered_;
  endpoint_seq next_at_subscribe_ = 0;
  int drained_ = 0;
  std::set<endpoint_seq> acked_; ///< acknowledged while in flight, since the last restart
  std::set<endpoint_seq> ever_delivered_;
  std::map<endpoint_seq, std::int64_t> appended_; ///< every entry and its expiry
  std::ostringstream trace_;
  std::string failure_;
};

TEST(EndpointProperties, RandomInterleavingsKeepOrderWindowCheckpointDrainAndTtl) {
  coverage cov;
  for (std::uint32_t seed = 1; seed <= 2000; ++seed) {
    run r{seed, cov};
    r.random_steps(500);
    r.settle();
    ASSERT_TRUE(r.failure().empty()) << "seed " << seed << ": " << r.failure() << "\n"
                                     << r.describe();
  }
  // The interleavings must reach every path, or the properties prove little.
  EXPECT_GT(cov.deliveries, 80000U);
  EXPECT_GT(cov.redeliveries, 5000U);
  EXPECT_GT(cov.expired, 300U);
  EXPECT_GT(cov.nacks, 1000U);
  EXPECT_GT(cov.retries, 1000U);
  EXPECT_GT(cov.read_errors, 500U);
  EXPECT_GT(cov.restarts, 3000U);
  EXPECT_GT(cov.takeovers, 5000U);
  EXPECT_GT(cov.drained, 2200U);
  EXPECT_GT(cov.checkpoints, 20000U);
  std::cout << "deliveries " << cov.deliveries << ", redeliveries " << cov.redeliveries
            << ", expired " << cov.expired << ", nacks " << cov.nacks << ", retries " << cov.retries
            << ", read errors " << cov.read_errors << ", restarts " << cov.restarts
            << ", takeovers " << cov.takeovers << ", drained " << cov.drained << ", checkpoints "
            << cov.checkpoints << "\n";
}

} // namespace
} // namespace outpost::routing
