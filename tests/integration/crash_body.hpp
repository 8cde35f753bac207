#pragma once

#include <cstdint>
#include <string>

namespace outpost::test {

/// The body the crash writer appends as message `n` of `trial`: self-describing, so a torn
/// or mixed-up record is detected as corruption.
inline std::string crash_body(int trial, std::uint64_t n) {
  std::string b = "t" + std::to_string(trial) + " n" + std::to_string(n) + " ";
  std::uint64_t x = n * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(trial);
  while (b.size() < 256) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b.push_back(static_cast<char>('a' + x % 26));
  }
  return b;
}

} // namespace outpost::test
