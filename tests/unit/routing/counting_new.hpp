#pragma once

// A replacement of the global operator new that counts the allocations the calling thread makes
// while `counting` is set: for tests that the per-message path does not allocate. Link
// counting_new.cpp into the test's own executable only (it replaces operator new for all of it).

#include <cstddef>

namespace outpost::alloc_count {

extern thread_local bool counting;
extern thread_local std::size_t allocations;

} // namespace outpost::alloc_count
