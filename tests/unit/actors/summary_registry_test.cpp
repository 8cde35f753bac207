#include "actors/common/summary_registry.hpp"

#include "actors/common/quantile_sketch.hpp"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <cmath>
#include <random>
#include <thread>

namespace outpost::actors {
namespace {

TEST(QuantileSketch, EmptyIsNaN) {
  quantile_sketch s;
  EXPECT_TRUE(std::isnan(s.quantile(0.5)));
  EXPECT_EQ(s.count(), 0u);
}

TEST(QuantileSketch, QuantilesWithinTheRelativeAccuracy) {
  quantile_sketch s{0.01};
  std::vector<double> values;
  std::mt19937 rng{7};
  std::lognormal_distribution<double> dist{5.0, 1.0};
  for (int i = 0; i < 100'000; ++i) {
    values.push_back(dist(rng));
    s.add(values.back());
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.1, 0.5, 0.9, 0.99}) {
    const double exact = values[static_cast<std::size_t>(q * (values.size() - 1))];
    EXPECT_NEAR(s.quantile(q), exact, exact * 0.0101) << q;
  }
  EXPECT_EQ(s.count(), 100'000u);
}

TEST(QuantileSketch, RepeatedValueAndZeros) {
  quantile_sketch s;
  for (int i = 0; i < 10; ++i) {
    s.add(0);
  }
  for (int i = 0; i < 90; ++i) {
    s.add(256);
  }
  s.add(-1);           // counts as 0
  s.add(std::nan("")); // counts as 0
  EXPECT_EQ(s.quantile(0.05), 0);
  EXPECT_NEAR(s.quantile(0.5), 256, 2.6);
  EXPECT_NEAR(s.quantile(0.99), 256, 2.6);
  s.clear();
  EXPECT_TRUE(std::isnan(s.quantile(0.5)));
}

TEST(QuantileSketch, BoundedBucketsKeepTheHighQuantiles) {
  quantile_sketch s{0.01, 16};
  for (int i = 1; i <= 10'000; ++i) {
    s.add(static_cast<double>(i));
  }
  EXPECT_NEAR(s.quantile(0.99), 9900, 9900 * 0.0101);
  EXPECT_EQ(s.count(), 10'000u);
  // The collapsed low tail moves up into the lowest kept bucket, never past the high ones.
  EXPECT_GT(s.quantile(0.1), 1000);
  EXPECT_LT(s.quantile(0.1), 9900);
}

std::int64_t fake_now = 0;
std::int64_t fake_clock() {
  return fake_now;
}

TEST(SummaryRegistry, ExposesAPrometheusSummaryWithAWindow) {
  fake_now = 1'000;
  summary_registry reg{{0.5, 0.99}, std::chrono::seconds(60), &fake_clock};
  auto& fam = reg.add_family("edgehub_message_size_bytes", "Size of messages");
  EXPECT_EQ(&fam, &reg.add_family("edgehub_message_size_bytes", "ignored"));
  auto& s = fam.add({{"id", "dev1"}});
  EXPECT_EQ(&s, &fam.add({{"id", "dev1"}}));
  for (int i = 0; i < 4; ++i) {
    s.observe(100);
  }
  auto text = prometheus::TextSerializer{}.Serialize(reg.Collect());
  EXPECT_NE(text.find("# TYPE edgehub_message_size_bytes summary"), std::string::npos) << text;
  EXPECT_NE(text.find("edgehub_message_size_bytes_count{id=\"dev1\"} 4"), std::string::npos)
      << text;
  EXPECT_NE(text.find("edgehub_message_size_bytes_sum{id=\"dev1\"} 400"), std::string::npos)
      << text;
  EXPECT_NE(text.find("edgehub_message_size_bytes{id=\"dev1\",quantile=\"0.5\"} 100"),
            std::string::npos)
      << text;
  // A minute later the quantiles start over; count and sum stay cumulative.
  fake_now += 60'000;
  text = prometheus::TextSerializer{}.Serialize(reg.Collect());
  EXPECT_NE(text.find("edgehub_message_size_bytes{id=\"dev1\",quantile=\"0.5\"} Nan"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("edgehub_message_size_bytes_count{id=\"dev1\"} 4"), std::string::npos);
}

TEST(SummaryRegistry, ObservesFromManyThreadsWhileCollecting) {
  summary_registry reg;
  auto& fam = reg.add_family("d", "h");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&fam, t] {
      auto& s = fam.add({{"t", std::to_string(t % 2)}});
      for (int i = 0; i < 20'000; ++i) {
        s.observe(i);
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    (void)reg.Collect();
  }
  for (auto& t : threads) {
    t.join();
  }
  const auto families = reg.Collect();
  ASSERT_EQ(families.size(), 1u);
  std::uint64_t total = 0;
  for (const auto& m : families[0].metric) {
    total += m.summary.sample_count;
  }
  EXPECT_EQ(total, 80'000u);
}

} // namespace
} // namespace outpost::actors
