#include "protocols/transport/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <memory>

namespace outpost::transport {

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    std::abort();
  }
  return out;
}

namespace {

struct mac_ctx_deleter {
  void operator()(EVP_MAC_CTX* ctx) const noexcept { EVP_MAC_CTX_free(ctx); }
};

/// OpenSSL 3's one-shot HMAC() looks the MAC and the digest up by name in every call (locks, a
/// hash table walk: ~4% of the hub's CPU in a TLS connect storm, one SAS check per CONNECT).
/// Each thread keeps one context with SHA-256 set and only re-keys it.
EVP_MAC_CTX* thread_hmac_sha256() {
  thread_local std::unique_ptr<EVP_MAC_CTX, mac_ctx_deleter> ctx = [] {
    std::unique_ptr<EVP_MAC_CTX, mac_ctx_deleter> made;
    if (EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr)) {
      made.reset(EVP_MAC_CTX_new(mac));
      EVP_MAC_free(mac); // the context holds its own reference
      char digest[] = "SHA256";
      const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                                   OSSL_PARAM_construct_end()};
      if (made && EVP_MAC_CTX_set_params(made.get(), params) != 1) {
        made.reset();
      }
    }
    return made;
  }();
  return ctx.get();
}

} // namespace

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  EVP_MAC_CTX* ctx = thread_hmac_sha256();
  // An empty key is valid HMAC input, but EVP_MAC_init takes a null key as "keep the old one".
  static const unsigned char no_key = 0;
  const auto* k = key.empty() ? &no_key : reinterpret_cast<const unsigned char*>(key.data());
  if (ctx == nullptr || EVP_MAC_init(ctx, k, key.size(), nullptr) != 1
      || EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1
      || EVP_MAC_final(ctx, md, &len, sizeof md) != 1) {
    std::abort(); // as random_bytes: without a working HMAC no token can be checked or made
  }
  return {reinterpret_cast<const char*>(md), len};
}

std::string sha256(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return {reinterpret_cast<const char*>(md), sizeof md};
}

std::string hex_upper(std::string_view bytes) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xF]);
  }
  return out;
}

} // namespace outpost::transport
