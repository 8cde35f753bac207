#pragma once

#include "protocols/common/result.hpp"

#include <cstdint>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::storage {

/// Key spaces of the one database per daemon (RocksDB column families).
enum class column : std::uint8_t {
  messages,    ///< message id -> body (stored once)
  refs,        ///< message id -> reference count, only for bodies shared by 2+ queues
  queues,      ///< queue name -> queue handle
  entries,     ///< (queue handle, sequence) -> entry (message id, times, size)
  checkpoints, ///< queue handle -> highest acknowledged sequence
  identities,
  twins,
  sessions,
  agent,
};

inline constexpr std::size_t column_count = 9;

/// The RocksDB column family name of `c`.
std::string_view column_name(column c) noexcept;

/// An atomic group of writes across columns; applied all-or-nothing by `kv_store::write`.
class write_batch {
public:
  enum class kind : std::uint8_t { put, erase, erase_range };

  struct op {
    kind what;
    column col;
    std::string key;
    std::string value; ///< the value for put, the exclusive end key for erase_range
  };

  void put(column c, std::string key, std::string value) {
    ops_.push_back({kind::put, c, std::move(key), std::move(value)});
  }
  void erase(column c, std::string key) { ops_.push_back({kind::erase, c, std::move(key), {}}); }
  /// Erases every key in [begin, end).
  void erase_range(column c, std::string begin, std::string end) {
    ops_.push_back({kind::erase_range, c, std::move(begin), std::move(end)});
  }

  /// Appends the operations of `other`, in order.
  void append(write_batch&& other) {
    if (ops_.empty()) {
      ops_ = std::move(other.ops_);
    } else {
      std::move(other.ops_.begin(), other.ops_.end(), std::back_inserter(ops_));
    }
    other.ops_.clear();
  }

  const std::vector<op>& ops() const noexcept { return ops_; }
  bool empty() const noexcept { return ops_.empty(); }
  void clear() noexcept { ops_.clear(); }

private:
  std::vector<op> ops_;
};

/// How hard `kv_store::write` must push a batch towards the disk.
enum class write_mode : std::uint8_t {
  durable, ///< as durable as the store is configured (fsync: synced before returning)
  lazy,    ///< never synced by itself; a later durable write covers it (WAL order)
};

/// What an engine knows about the space under it, for backpressure and reports.
struct space_report {
  /// Durable writes are refused with `errc::disk_full` (the filesystem is below its headroom,
  /// or the engine ran out of space) until space returns.
  bool disk_full = false;
  std::uint64_t free_bytes = 0;    ///< free on the filesystem (not counting the reserve)
  std::uint64_t reserve_bytes = 0; ///< space held back now for the engine's emergencies
  std::uint64_t disk_bytes = 0;    ///< the engine's own files
};

/// The ordered key-value engine under the message store (RocksDB or memory).
///
/// Implementations are thread-safe (RocksDB is; the memory engine locks): the storage writer
/// is the only writer, while start-up code reads what the agent and the registry load.
class kv_store {
public:
  using visitor = std::function<bool(std::string_view key, std::string_view value)>;

  virtual ~kv_store() = default;

  virtual result<void> write(const write_batch& batch, write_mode mode) = 0;
  virtual result<std::optional<std::string>> get(column c, std::string_view key) = 0;
  /// Visits keys in [begin, end) in ascending byte order until `visit` returns false.
  /// An empty `end` means "to the end of the column".
  virtual result<void> scan(column c, std::string_view begin, std::string_view end,
                            const visitor& visit) = 0;
  /// The greatest key in [begin, end), if any (used to find queue tails on open).
  virtual result<std::optional<std::string>> last_key(column c, std::string_view begin,
                                                      std::string_view end) = 0;
  /// Looks at the disk again (and lets an engine that ran out of space resume when space is
  /// back); called periodically by the storage writer. Engines without a disk: all zero.
  virtual space_report check_space() { return {}; }
};

} // namespace outpost::storage
