#include "actors/common/counter_registry.hpp"

#include "actors/common/label_key.hpp"

#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <thread>

namespace outpost::actors {
namespace {

std::vector<prometheus::ClientMetric::Label> round_trip(const prometheus::Labels& labels) {
  std::vector<prometheus::ClientMetric::Label> out;
  decode_labels(encode_labels(labels), out);
  return out;
}

TEST(LabelKey, RoundTripsAnyBytesInNameOrder) {
  const std::string nul_inside{"a\0b", 3};
  const std::string long_value(300, 'x'); // a two-byte length
  const prometheus::Labels labels{
      {"to", "sink"}, {"from", nul_inside}, {"empty", ""}, {"long", long_value}};
  const auto out = round_trip(labels);
  ASSERT_EQ(out.size(), 4u);
  auto it = labels.begin();
  for (const auto& l : out) {
    EXPECT_EQ(l.name, it->first);
    EXPECT_EQ(l.value, it->second);
    ++it;
  }
  EXPECT_TRUE(round_trip({}).empty());
}

TEST(LabelKey, DistinctLabelSetsGiveDistinctKeys) {
  // A separator-joined key would make these two one series.
  EXPECT_NE(encode_labels({{"a", "b"}, {"c", ""}}), encode_labels({{"a",
                                                                    "b\x01"
                                                                    "c"}}));
  EXPECT_NE(encode_labels({{"id", "x"}}), encode_labels({{"id", "x"}, {"route_output", ""}}));
}

TEST(LabelKey, AMalformedKeyStopsAtThePairThatDoesNotFit) {
  auto key = encode_labels({{"id", "dev1"}, {"to", "sink"}});
  key.pop_back();
  std::vector<prometheus::ClientMetric::Label> out;
  decode_labels(key, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].value, "dev1");
  out.clear();
  decode_labels(std::string(12, '\xff'), out); // a length that never ends
  EXPECT_TRUE(out.empty());
}

TEST(CounterRegistry, SameLabelsSameSeriesAndStableAddresses) {
  counter_registry reg;
  auto& fam = reg.add_family("edgehub_messages_received_total", "Messages received");
  EXPECT_EQ(&fam, &reg.add_family("edgehub_messages_received_total", "ignored"));
  auto& a = fam.Add({{"id", "dev1"}, {"route_output", ""}});
  for (int i = 0; i < 1000; ++i) {
    fam.Add({{"id", "d" + std::to_string(i)}, {"route_output", ""}}).Increment();
  }
  a.Increment();
  EXPECT_EQ(&a, &fam.Add({{"route_output", ""}, {"id", "dev1"}}));
  EXPECT_EQ(a.Value(), 1.0);
}

/// The exposition is byte-for-byte what prometheus-cpp's own family gives for the same
/// series: the families can move between the two without a scraper seeing a difference.
TEST(CounterRegistry, ExposesWhatPrometheusCppExposes) {
  counter_registry ours;
  prometheus::Registry theirs;
  auto& a = ours.add_family("edgehub_messages_sent_total", "Messages sent");
  auto& b = prometheus::BuildCounter()
                .Name("edgehub_messages_sent_total")
                .Help("Messages sent")
                .Register(theirs);
  ours.add_family("edgehub_client_disconnect_total", "Disconnections"); // no series yet
  prometheus::BuildCounter()
      .Name("edgehub_client_disconnect_total")
      .Help("Disconnections")
      .Register(theirs);
  const std::vector<prometheus::Labels> series{
      {{"from", "dev1"}, {"to", "sink"}, {"priority", "0"}},
      {{"from", "dev2"}, {"to", "sink"}, {"priority", "0"}},
      {{"from", "quote\"and\\slash\nline"}, {"to", "sink"}, {"priority", "2"}}};
  for (std::size_t i = 0; i < series.size(); ++i) {
    for (std::size_t n = 0; n <= i * 3; ++n) {
      a.Add(series[i]).Increment();
      b.Add(series[i]).Increment();
    }
  }
  const auto text = [](std::vector<prometheus::MetricFamily> fams) {
    std::sort(fams.begin(), fams.end(),
              [](const auto& x, const auto& y) { return x.name < y.name; });
    for (auto& f : fams) {
      std::sort(f.metric.begin(), f.metric.end(),
                [](const auto& x, const auto& y) { return x.label < y.label; });
    }
    return prometheus::TextSerializer{}.Serialize(fams);
  };
  const auto got = text(ours.Collect());
  EXPECT_EQ(got, text(theirs.Collect()));
  EXPECT_NE(got.find("edgehub_messages_sent_total{from=\"dev2\",priority=\"0\",to=\"sink\"} 4"),
            std::string::npos)
      << got;
}

TEST(CounterRegistry, ConcurrentIncrementsAndScrapesLoseNothing) {
  counter_registry reg;
  auto& fam = reg.add_family("c_total", "c");
  constexpr int per_thread = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&fam, t] {
      auto& own = fam.Add({{"id", "t" + std::to_string(t)}});
      auto& shared = fam.Add({{"id", "shared"}});
      for (int i = 0; i < per_thread; ++i) {
        own.Increment();
        shared.Increment();
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    (void)reg.Collect();
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(fam.Add({{"id", "shared"}}).Value(), 4.0 * per_thread);
  EXPECT_EQ(fam.Add({{"id", "t3"}}).Value(), 1.0 * per_thread);
}

} // namespace
} // namespace outpost::actors
