// route_table::match must not allocate in steady state (issue 4): counts heap allocations made
// by the calling thread while matching. Its own executable, as it links counting_new.cpp (operator
// new replaced).

#include "routing/router/route_table.hpp"
#include "tests/unit/routing/counting_new.hpp"
#include "tests/unit/routing/test_messages.hpp"

#include <gtest/gtest.h>

using outpost::alloc_count::allocations;
using outpost::alloc_count::counting;

namespace outpost::routing {
namespace {

std::size_t allocations_while(const route_table& t, const message& m,
                              std::vector<route_target>& out) {
  allocations = 0;
  counting = true;
  for (int i = 0; i < 100; ++i) {
    t.match(m, out);
  }
  counting = false;
  return allocations;
}

TEST(RouteTableMatch, DoesNotAllocateInSteadyState) {
  auto compiled = route_table::compile(
      {{"app",
        {"FROM /messages/* WHERE alert = 'yes' AND as_number(temperature) > 30 INTO "
         "$upstream",
         1, 0}},
       {"sys",
        {"FROM /* WHERE $connectionModuleId = 'sensor' INTO "
         "BrokeredEndpoint(\"/modules/consumer/inputs/telemetry\")"}},
       {"body",
        {"FROM /* WHERE $body.temperature > 30 AND $body.name = 'thermo' AND "
         "$body.tags[1] = 'b' INTO $upstream",
         0, 60}},
       {"none", {"FROM /twinChangeNotifications INTO $upstream"}}},
      7200);
  ASSERT_TRUE(std::holds_alternative<route_table>(compiled));
  const auto& table = std::get<route_table>(compiled);
  const message m = testing::props_message();
  std::vector<route_target> out;
  table.match(m, out); // warm-up: scratch buffers, parser, output strings
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(allocations_while(table, m, out), 0u);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].route, "body"); // priority 0 beats 1 for $upstream
}

} // namespace
} // namespace outpost::routing
