#include "storage/kv_store.hpp"

namespace outpost::storage {

std::string_view column_name(column c) noexcept {
  switch (c) {
    case column::messages:
      return "messages";
    case column::refs:
      return "refs";
    case column::queues:
      return "queues";
    case column::entries:
      return "entries";
    case column::checkpoints:
      return "checkpoints";
    case column::identities:
      return "identities";
    case column::twins:
      return "twins";
    case column::sessions:
      return "sessions";
    case column::agent:
      return "agent";
  }
  return "unknown";
}

} // namespace outpost::storage
