#include "storage/memory_kv_store.hpp"

namespace outpost::storage {

result<void> memory_kv_store::write(const write_batch& batch, write_mode) {
  std::lock_guard<std::recursive_mutex> lock{mutex_};
  for (const auto& op : batch.ops()) {
    auto& t = at(op.col);
    switch (op.what) {
      case write_batch::kind::put:
        t.insert_or_assign(op.key, op.value);
        break;
      case write_batch::kind::erase:
        t.erase(op.key);
        break;
      case write_batch::kind::erase_range:
        t.erase(t.lower_bound(op.key), t.lower_bound(op.value));
        break;
    }
  }
  return ok();
}

result<std::optional<std::string>> memory_kv_store::get(column c, std::string_view key) {
  std::lock_guard<std::recursive_mutex> lock{mutex_};
  auto& t = at(c);
  auto i = t.find(key);
  if (i == t.end()) {
    return std::optional<std::string>{};
  }
  return std::optional<std::string>{i->second};
}

result<void> memory_kv_store::scan(column c, std::string_view begin, std::string_view end,
                                   const visitor& visit) {
  std::lock_guard<std::recursive_mutex> lock{mutex_};
  auto& t = at(c);
  for (auto i = t.lower_bound(begin); i != t.end(); ++i) {
    if (!end.empty() && std::string_view{i->first} >= end) {
      break;
    }
    if (!visit(i->first, i->second)) {
      break;
    }
  }
  return ok();
}

result<std::optional<std::string>> memory_kv_store::last_key(column c, std::string_view begin,
                                                             std::string_view end) {
  std::lock_guard<std::recursive_mutex> lock{mutex_};
  auto& t = at(c);
  auto i = end.empty() ? t.end() : t.lower_bound(end);
  if (i == t.begin()) {
    return std::optional<std::string>{};
  }
  --i;
  if (std::string_view{i->first} < begin) {
    return std::optional<std::string>{};
  }
  return std::optional<std::string>{i->first};
}

} // namespace outpost::storage
