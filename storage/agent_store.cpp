#include "storage/agent_store.hpp"

#include "protocols/common/big_endian.hpp"

#include <charconv>
#include <limits>

namespace outpost::storage {

namespace agent_records {

namespace {

constexpr std::string_view state_prefix = "state/";
constexpr std::string_view uid_prefix = "uid/";

/// The unsigned decimal integer that is the whole of `text`.
template <typename T>
std::optional<T> decimal(std::string_view text) {
  T v{};
  if (text.empty() || text[0] < '0' || text[0] > '9') {
    return std::nullopt;
  }
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

/// The value of `"name": <unsigned integer>` in a legacy JSON object, or nullopt. The legacy
/// records were written by nlohmann-json's dump() (no spaces): enough for what was written.
template <typename T>
std::optional<T> legacy_member(std::string_view json, std::string_view name) {
  const std::string needle = "\"" + std::string{name} + "\":";
  const auto at = json.find(needle);
  if (at == std::string_view::npos) {
    return T{0};
  }
  auto rest = json.substr(at + needle.size());
  const auto end = rest.find_first_of(",}");
  if (end == std::string_view::npos) {
    return std::nullopt;
  }
  return decimal<T>(rest.substr(0, end));
}

} // namespace

std::string state_key(std::string_view module) {
  return std::string{state_prefix} + std::string{module};
}

std::string uid_key(std::string_view module) {
  return std::string{uid_prefix} + std::string{module};
}

std::string encode_text(std::string_view text) {
  std::string v;
  v.reserve(5 + text.size());
  v.push_back(format_version);
  put_be32(v, static_cast<std::uint32_t>(text.size()));
  v.append(text);
  return v;
}

std::optional<std::string> decode_text(std::string_view v) {
  if (v.empty()) {
    return std::nullopt;
  }
  if (v[0] != format_version) { // before version 1: the bare text (JSON)
    return v[0] == '{' ? std::optional<std::string>{std::string{v}} : std::nullopt;
  }
  if (v.size() < 5 || v.size() - 5 != get_be32(v, 1)) {
    return std::nullopt;
  }
  return std::string{v.substr(5)};
}

std::string encode_restart(const restart_record& r) {
  std::string v;
  v.reserve(13);
  v.push_back(format_version);
  put_be32(v, r.restart_count);
  put_be64(v, static_cast<std::uint64_t>(r.last_restart_ms));
  return v;
}

std::optional<restart_record> decode_restart(std::string_view v) {
  if (!v.empty() && v[0] == '{') { // before version 1: {"lastRestartMs":M,"restartCount":N}
    if (v.back() != '}') {
      return std::nullopt;
    }
    auto count = legacy_member<std::uint32_t>(v, "restartCount");
    auto last = legacy_member<std::int64_t>(v, "lastRestartMs");
    if (!count || !last) {
      return std::nullopt;
    }
    return restart_record{*count, *last};
  }
  if (v.size() != 13 || v[0] != format_version) {
    return std::nullopt;
  }
  return restart_record{get_be32(v, 1), static_cast<std::int64_t>(get_be64(v, 5))};
}

std::string encode_uid(std::uint32_t uid) {
  std::string v(1, format_version);
  put_be32(v, uid);
  return v;
}

std::optional<std::uint32_t> decode_uid(std::string_view v) {
  if (!v.empty() && v[0] >= '0' && v[0] <= '9') { // before version 1: decimal text
    return decimal<std::uint32_t>(v);
  }
  if (v.size() != 5 || v[0] != format_version) {
    return std::nullopt;
  }
  return get_be32(v, 1);
}

std::optional<std::string> decode_master_key(std::string_view v) {
  if (v.size() != master_key_size) {
    return std::nullopt;
  }
  return std::string{v};
}

} // namespace agent_records

namespace ar = agent_records;

result<agent_record_set> load_agent_records(kv_store& kv) {
  agent_record_set out;
  auto r = kv.scan(column::agent, {}, {}, [&](std::string_view key, std::string_view value) {
    if (key == ar::deployment_key) {
      out.deployment = ar::decode_text(value);
    } else if (key == ar::master_key_key) {
      out.master_key = ar::decode_master_key(value);
    } else if (key == ar::service_key_key) {
      out.service_key = ar::decode_master_key(value); // the same shape: 32 bytes
    } else if (key.rfind("state/", 0) == 0) {
      if (auto rs = ar::decode_restart(value)) {
        out.restarts.emplace(std::string{key.substr(6)}, *rs);
      }
    } else if (key.rfind("uid/", 0) == 0) {
      if (auto uid = ar::decode_uid(value)) {
        out.uids.emplace(std::string{key.substr(4)}, *uid);
      }
    }
    return true;
  });
  if (!r) {
    return r.error();
  }
  return out;
}

namespace agent_batches {

namespace {

write_batch put(std::string key, std::string value) {
  write_batch b;
  b.put(column::agent, std::move(key), std::move(value));
  return b;
}

} // namespace

write_batch deployment(std::string_view manifest) {
  return put(std::string{ar::deployment_key}, ar::encode_text(manifest));
}

write_batch reported(std::string_view json) {
  return put(std::string{ar::reported_key}, ar::encode_text(json));
}

write_batch restart(std::string_view module, const restart_record& r) {
  return put(ar::state_key(module), ar::encode_restart(r));
}

write_batch forget_restart(std::string_view module) {
  write_batch b;
  b.erase(column::agent, ar::state_key(module));
  return b;
}

write_batch uid(std::string_view module, std::uint32_t uid) {
  return put(ar::uid_key(module), ar::encode_uid(uid));
}

write_batch service_key(std::string_view key) {
  return put(std::string{ar::service_key_key}, std::string{key});
}

write_batch master_key(std::string_view key) {
  return put(std::string{ar::master_key_key}, std::string{key});
}

} // namespace agent_batches

} // namespace outpost::storage
