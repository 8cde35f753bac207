#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace outpost::transport {

/// OpenSSL's primitives behind plain types, for the layers above that must not include
/// OpenSSL (identity keys, SAS verification, certificate thumbprints). Thread-safe.

/// `n` bytes from OpenSSL's CSPRNG. Aborts if the CSPRNG fails: nothing secure can continue.
std::string random_bytes(std::size_t n);

/// Raw 32-byte HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256(std::string_view key, std::string_view data);

/// Raw 32-byte SHA-256 of `data`.
std::string sha256(std::string_view data);

/// Upper-case hexadecimal, as IoT Hub prints certificate thumbprints.
std::string hex_upper(std::string_view bytes);

} // namespace outpost::transport
