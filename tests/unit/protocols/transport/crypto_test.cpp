#include "protocols/transport/crypto.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>

namespace outpost::transport {
namespace {

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0xF];
  }
  return out;
}

// RFC 4231 test cases 1, 2 and 6 (a key longer than SHA-256's block), and the empty key.
struct vector {
  std::string key;
  std::string data;
  const char* mac;
};

const vector vectors[] = {
    {std::string(20, '\x0b'), "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"Jefe", "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {"", "", "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
};

TEST(HmacSha256, MatchesRfc4231WhenTheKeyChangesFromCallToCall) {
  // The context is kept per thread and re-keyed: every order of keys must give each its own MAC.
  for (int round = 0; round < 3; ++round) {
    for (const auto& v : vectors) {
      EXPECT_EQ(hex(hmac_sha256(v.key, v.data)), v.mac) << "key of " << v.key.size() << " bytes";
    }
    EXPECT_EQ(hex(hmac_sha256(vectors[1].key, vectors[1].data)), vectors[1].mac);
  }
}

TEST(HmacSha256, EachThreadGetsTheSameAnswers) {
  std::string from_threads[4];
  std::thread threads[4];
  for (int t = 0; t < 4; ++t) {
    threads[t] = std::thread([&, t] {
      for (int i = 0; i < 100; ++i) {
        from_threads[t] = hex(hmac_sha256(vectors[t].key, vectors[t].data));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(from_threads[t], vectors[t].mac);
  }
}

} // namespace
} // namespace outpost::transport
