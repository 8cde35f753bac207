#include "actors/common/label_key.hpp"

#include <cstdint>

namespace outpost::actors {

namespace {

void put(std::string& out, std::string_view s) {
  auto n = static_cast<std::uint64_t>(s.size());
  do {
    const auto low = static_cast<unsigned char>(n & 0x7f);
    n >>= 7;
    out.push_back(static_cast<char>(n != 0 ? (low | 0x80) : low));
  } while (n != 0);
  out.append(s);
}

/// The next length-prefixed string of `key` from `pos`; false when the key ends inside it.
bool take(std::string_view key, std::size_t& pos, std::string_view& s) {
  std::uint64_t n = 0;
  for (int shift = 0;; shift += 7) {
    if (pos >= key.size() || shift > 56) {
      return false;
    }
    const auto byte = static_cast<unsigned char>(key[pos++]);
    n |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      break;
    }
  }
  if (n > key.size() - pos) {
    return false;
  }
  s = key.substr(pos, static_cast<std::size_t>(n));
  pos += static_cast<std::size_t>(n);
  return true;
}

} // namespace

std::string encode_labels(const prometheus::Labels& labels) {
  std::size_t size = 0;
  for (const auto& [name, value] : labels) {
    size += name.size() + value.size() + 2;
  }
  std::string out;
  out.reserve(size);
  for (const auto& [name, value] : labels) {
    put(out, name);
    put(out, value);
  }
  return out;
}

void decode_labels(std::string_view key, std::vector<prometheus::ClientMetric::Label>& out) {
  std::size_t pos = 0;
  while (pos < key.size()) {
    std::string_view name;
    std::string_view value;
    if (!take(key, pos, name) || !take(key, pos, value)) {
      return;
    }
    out.push_back({std::string{name}, std::string{value}});
  }
}

} // namespace outpost::actors
