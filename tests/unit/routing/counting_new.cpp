#include "tests/unit/routing/counting_new.hpp"

#include <cstdlib>
#include <new>

namespace outpost::alloc_count {

thread_local bool counting = false;
thread_local std::size_t allocations = 0;

} // namespace outpost::alloc_count

using outpost::alloc_count::allocations;
using outpost::alloc_count::counting;

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
