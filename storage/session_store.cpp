#include "storage/session_store.hpp"

#include "protocols/common/big_endian.hpp"

namespace outpost::storage {

namespace session_records {

std::string marker_value() {
  return std::string(1, keyed_version);
}

std::string filter_key(std::string_view client_id, std::string_view filter) {
  std::string k{client_id};
  k += '\0';
  k.append(filter);
  return k;
}

std::pair<std::string, std::string> filter_range(std::string_view client_id) {
  std::string first{client_id};
  first += '\0';
  std::string end{client_id};
  end += '\1';
  return {std::move(first), std::move(end)};
}

std::string_view filter_of(std::string_view key, std::string_view client_id) {
  return key.substr(client_id.size() + 1);
}

std::optional<std::vector<std::string>> decode_list(std::string_view v) {
  if (v.empty() || v[0] != list_version) {
    return std::nullopt;
  }
  std::vector<std::string> out;
  std::size_t pos = 1;
  while (pos < v.size()) {
    if (v.size() - pos < 4) {
      return std::nullopt;
    }
    const auto n = get_be32(v, pos);
    pos += 4;
    if (v.size() - pos < n) {
      return std::nullopt;
    }
    out.emplace_back(v.substr(pos, n));
    pos += n;
  }
  return out;
}

std::string encode_list(const std::vector<std::string>& filters) {
  std::string v(1, list_version);
  for (const auto& f : filters) {
    put_be32(v, static_cast<std::uint32_t>(f.size()));
    v.append(f);
  }
  return v;
}

} // namespace session_records

namespace sr = session_records;

void session_store::erase(std::string_view client_id, write_batch& out, bool marker) {
  if (marker) {
    out.erase(column::sessions, sr::marker_key(client_id));
  }
  auto [first, end] = sr::filter_range(client_id);
  (void)kv_->scan(column::sessions, first, end, [&](std::string_view key, std::string_view) {
    out.erase(column::sessions, std::string{key});
    return true;
  });
}

stored_session session_store::restore(std::string_view client_id, bool clean, write_batch& out,
                                      bool& durable) {
  stored_session info;
  durable = false;
  if (clean) {
    erase(client_id, out, true);
    return info;
  }
  auto stored = kv_->get(column::sessions, sr::marker_key(client_id));
  if (!stored || !*stored) {
    out.put(column::sessions, sr::marker_key(client_id), sr::marker_value());
    return info;
  }
  const auto& marker = **stored;
  if (!marker.empty() && marker[0] == sr::keyed_version) {
    info.present = true;
    auto [first, end] = sr::filter_range(client_id);
    (void)kv_->scan(column::sessions, first, end, [&](std::string_view key, std::string_view) {
      info.subscriptions.emplace_back(sr::filter_of(key, client_id));
      return true;
    });
    return info;
  }
  // Version 1, or unreadable: rewritten as version 2 (an unreadable one starts clean).
  erase(client_id, out, false);
  out.put(column::sessions, sr::marker_key(client_id), sr::marker_value());
  if (auto filters = sr::decode_list(marker)) {
    info.present = true;
    info.subscriptions = std::move(*filters);
    for (const auto& f : info.subscriptions) {
      out.put(column::sessions, sr::filter_key(client_id, f), {});
    }
  } else {
    info.discarded = true;
  }
  durable = true;
  return info;
}

void session_store::change(std::string_view client_id, const std::vector<std::string>& added,
                           const std::vector<std::string>& removed, write_batch& out) {
  for (const auto& f : added) {
    out.put(column::sessions, sr::filter_key(client_id, f), {});
  }
  for (const auto& f : removed) {
    out.erase(column::sessions, sr::filter_key(client_id, f));
  }
}

} // namespace outpost::storage
