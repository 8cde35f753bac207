// endpoint_machine must not allocate per entry in steady state (issue 9: no allocation on the
// per-message path): counts heap allocations made by the calling thread while entries go
// durable -> delivered -> acknowledged -> checkpointed. Its own executable, as it replaces
// operator new.

#include "routing/endpoint/endpoint_machine.hpp"
#include "tests/unit/routing/counting_new.hpp"
#include "tests/unit/routing/endpoint/test_entry.hpp"

#include <gtest/gtest.h>

using outpost::alloc_count::allocations;
using outpost::alloc_count::counting;

namespace outpost::routing {
namespace {

using testing::test_actions;
using testing::test_entry;
using testing::test_machine;

TEST(EndpointMachineAllocations, NoneInSteadyStateFromDurableToCheckpoint) {
  endpoint_config cfg;
  cfg.window = 64;
  test_machine m{cfg};
  test_actions out;
  m.on_subscribe(0, out);
  std::vector<test_entry> none;
  m.on_read(out.read->ticket, none, 1, 0, out);
  out.clear();

  // Batches of 8 bodies too long for the small-string buffer, made before counting: the
  // machine only moves them.
  constexpr int rounds = 2000;
  std::vector<std::vector<test_entry>> batches(rounds);
  endpoint_seq next = 1;
  for (auto& b : batches) {
    for (int k = 0; k < 8; ++k) {
      b.push_back({next++, 0, std::string(100, 'x')});
    }
  }
  std::vector<endpoint_seq> acks;
  acks.reserve(cfg.window);
  out.deliver.reserve(cfg.window);
  out.expired.reserve(cfg.window);
  std::size_t delivered = 0;
  std::size_t counted = 0;
  for (int i = 0; i < rounds; ++i) {
    if (i == rounds / 2) {
      allocations = 0; // the first half warms the buffers up to their high-water marks
      counting = true;
    }
    m.on_durable(batches[static_cast<std::size_t>(i)], 0, out);
    acks.clear();
    for (const auto& e : out.deliver) {
      acks.push_back(e.seq);
    }
    delivered += out.deliver.size();
    out.clear(); // keeps the capacity, as the glue's reused action buffer does
    m.on_ack(acks, 0, out);
    if (out.flush) {
      out.clear();
      m.on_flush(out);
    }
    out.clear();
  }
  counting = false;
  counted = allocations;
  EXPECT_EQ(delivered, static_cast<std::size_t>(rounds) * 8);
  EXPECT_EQ(counted, 0U);
}

TEST(EndpointMachineAllocations, TheCounterSeesAllocations) {
  allocations = 0;
  counting = true;
  auto* p = new std::string(100, 'y');
  counting = false;
  delete p;
  EXPECT_GE(allocations, 1U);
}

} // namespace
} // namespace outpost::routing
