// route_table::match must not allocate in steady state (issue 4): counts heap allocations made
// by the calling thread while matching. Its own executable, as it replaces operator new.

#include "routing/router/route_table.hpp"
#include "tests/unit/routing/test_messages.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>

namespace {

thread_local bool counting = false;
thread_local std::size_t allocations = 0;

} // namespace

void* operator new(std::size_t n) {
  if (counting) {
    ++allocations;
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) {
    return p;
  }
  throw std::bad_alloc();
}

void* operator new[](std::size_t n) {
  return operator new(n);
}

// The nothrow forms too (simdjson's parser uses them): every allocation must come from, and go
// back to, the same malloc, or sanitizers see new[] memory released by free().
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (counting) {
    ++allocations;
  }
  return std::malloc(n == 0 ? 1 : n);
}

void* operator new[](std::size_t n, const std::nothrow_t& tag) noexcept {
  return operator new(n, tag);
}

void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

void operator delete(void* p) noexcept {
  std::free(p);
}

void operator delete[](void* p) noexcept {
  std::free(p);
}

void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

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
