#pragma once

#include "routing/endpoint/endpoint_machine.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace outpost::routing::testing {

/// What the machine needs of a store entry (storage::stored_entry has the same members).
struct test_entry {
  endpoint_seq seq = 0;
  std::int64_t expires_ms = 0; ///< 0 = never
  std::string body;
};

using test_machine = endpoint_machine<test_entry>;
using test_actions = endpoint_actions<test_entry>;

inline std::vector<test_entry> entries(endpoint_seq from, endpoint_seq to,
                                       std::int64_t expires_ms = 0) {
  std::vector<test_entry> out;
  for (auto s = from; s <= to; ++s) {
    out.push_back({s, expires_ms, "body " + std::to_string(s)});
  }
  return out;
}

inline std::vector<endpoint_seq> seqs(const std::vector<test_entry>& es) {
  std::vector<endpoint_seq> out;
  for (const auto& e : es) {
    out.push_back(e.seq);
  }
  return out;
}

} // namespace outpost::routing::testing
