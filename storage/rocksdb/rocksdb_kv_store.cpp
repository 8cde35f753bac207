#include "storage/rocksdb/rocksdb_kv_store.hpp"

#include "storage/errc.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace outpost::storage {

/// What a reopen needs: the options and column families the database was opened with.
struct rocksdb_kv_store::engine {
  rocksdb::DBOptions options;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
};

namespace {

std::error_code to_error(const rocksdb::Status& s) {
  if (s.IsCorruption()) {
    return errc::corrupt_record;
  }
  return errc::io_error;
}

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}

/// RocksDB's info log as lines for our log: no file that could fail beside the data.
class forward_logger final : public rocksdb::Logger {
public:
  explicit forward_logger(std::function<void(std::string_view)> sink)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL),
        sink_(std::move(sink)) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    const int n = std::vsnprintf(line, sizeof line, format, ap);
    if (n < 0) {
      return;
    }
    std::string_view text{line,
                          std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 1)};
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
      text.remove_suffix(1);
    }
    if (!text.empty()) {
      sink_(text);
    }
  }

private:
  std::function<void(std::string_view)> sink_;
};

std::uint64_t filesystem_size(const std::string& path) {
  struct statvfs fs {};
  if (::statvfs(path.c_str(), &fs) != 0) {
    return 0;
  }
  return static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

rocksdb::ColumnFamilyOptions column_options(const std::shared_ptr<rocksdb::Cache>& cache,
                                            const space_plan& plan) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = plan.write_buffer_bytes;
  cf.max_write_buffer_number = 2;
  // Files, levels and compactions in proportion to the filesystem, so a compaction's output
  // (written before its inputs go) fits beside the data on a small disk.
  cf.target_file_size_base = plan.target_file_bytes;
  cf.max_bytes_for_level_base = plan.level_base_bytes;
  cf.max_compaction_bytes = plan.max_compaction_bytes;
  // Keys are <queue handle (4 bytes)><sequence> or <id>: appends land just after the previous
  // key of the same 4-byte prefix, so the skip list starts its search there (profiled: most of
  // the writer thread's time was memtable inserts searching from the head).
  cf.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(4));
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

} // namespace

rocksdb_kv_store::rocksdb_kv_store(const rocksdb_options& o)
    : sync_(o.sync),
      path_(o.path),
      reserve_path_(o.path + "/outpost.reserve"),
      use_reserve_(o.reserve),
      log_(o.log) {}

void rocksdb_kv_store::say(const std::string& line) const {
  if (log_) {
    log_(line);
  } else {
    std::fprintf(stderr, "rocksdb: %s\n", line.c_str());
  }
}

result<std::unique_ptr<rocksdb_kv_store>> rocksdb_kv_store::open(const rocksdb_options& o,
                                                                 std::string& why) {
  std::unique_ptr<rocksdb_kv_store> store{new rocksdb_kv_store(o)};
  // Created here (RocksDB would) so the filesystem can be measured before the options are set.
  if (::mkdir(o.path.c_str(), 0700) != 0 && errno != EEXIST) {
    why = o.path + ": " + std::strerror(errno);
    return errc::open_failed;
  }
  store->plan_ = plan_for(o.filesystem_bytes ? o.filesystem_bytes : filesystem_size(o.path));
  // The reserve is released for the open: replaying the WAL writes a new MANIFEST and WAL,
  // which must not fail on a disk that filled while outpostd was down. check_space() below
  // takes the reserve again when there is room.
  if (store->use_reserve_) {
    // Locked first: a second daemon on the same folder must not take the first one's reserve
    // (RocksDB's own LOCK refuses it below).
    store->reserve_fd_ =
        ::open(store->reserve_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (store->reserve_fd_ < 0 || ::flock(store->reserve_fd_, LOCK_EX | LOCK_NB) != 0) {
      store->use_reserve_ = false;
    } else {
      store->release_reserve();
    }
  }

  auto cache = rocksdb::NewLRUCache(o.block_cache_bytes);
  rocksdb::DBOptions db;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  db.max_open_files = 256;
  db.max_background_jobs = 2;
  db.keep_log_file_num = 2;
  db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db.info_log = std::make_shared<forward_logger>(
      [raw = store.get()](std::string_view line) { raw->say(std::string{line}); });
  db.max_total_wal_size = store->plan_.max_wal_bytes;
  db.max_manifest_file_size =
      std::max<std::uint64_t>(store->plan_.write_buffer_bytes * 8, 1u << 20);
  // Reused WAL files are overwritten inside their existing size, so a synced commit flushes
  // data only, not the file's growing size through the file system's journal.
  db.recycle_log_file_num = 4;
  db.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(o.memtable_budget_bytes, cache);

  // Open every family the database already has, plus ours: RocksDB refuses to open a
  // database without naming all of its families.
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(db, o.path, &names).ok()) {
    names.clear();
  }
  names.push_back(rocksdb::kDefaultColumnFamilyName);
  for (std::size_t i = 0; i < column_count; ++i) {
    names.emplace_back(column_name(static_cast<column>(i)));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) {
    descriptors.emplace_back(n, column_options(cache, store->plan_));
  }

  store->engine_ = std::make_unique<engine>();
  store->engine_->options = std::move(db);
  store->engine_->descriptors = std::move(descriptors);
  if (auto s = store->open_db(); !s.ok()) {
    why = s.ToString();
    return s.IsNoSpace() ? errc::disk_full : errc::open_failed;
  }
  store->check_space();
  return store;
}

rocksdb::Status rocksdb_kv_store::open_db() {
  rocksdb::DB* raw = nullptr;
  all_handles_.clear();
  auto s = rocksdb::DB::Open(engine_->options, path_, engine_->descriptors, &all_handles_, &raw);
  if (!s.ok()) {
    return s;
  }
  db_ = raw;
  for (std::size_t i = 0; i < engine_->descriptors.size(); ++i) {
    for (std::size_t c = 0; c < column_count; ++c) {
      if (engine_->descriptors[i].name == column_name(static_cast<column>(c))) {
        cfs_[c] = all_handles_[i];
      }
    }
  }
  return s;
}

void rocksdb_kv_store::close_db() {
  if (db_) {
    for (auto* h : all_handles_) {
      db_->DestroyColumnFamilyHandle(h);
    }
    all_handles_.clear();
    cfs_ = {};
    db_->Close(); // after ENOSPC it reports the WAL's error; nothing to do about it here
    delete db_;
    db_ = nullptr;
  }
}

rocksdb_kv_store::~rocksdb_kv_store() {
  close_db();
  if (reserve_fd_ >= 0) {
    ::close(reserve_fd_); // the reserve stays allocated for the next start
  }
}

result<void> rocksdb_kv_store::write(const write_batch& batch, write_mode mode) {
  rocksdb::WriteBatch wb;
  for (const auto& op : batch.ops()) {
    switch (op.what) {
      case write_batch::kind::put:
        wb.Put(cf(op.col), op.key, op.value);
        break;
      case write_batch::kind::erase:
        wb.Delete(cf(op.col), op.key);
        break;
      case write_batch::kind::erase_range:
        wb.DeleteRange(cf(op.col), op.key, op.value);
        break;
    }
  }
  if (mode == write_mode::durable) {
    maybe_check(wb.GetDataSize());
    // Refused before RocksDB sees it: the headroom stays for acknowledgements, flushes and
    // compactions, which free space. Lazy writes (acks, cleanup) still go in.
    if (full_.load(std::memory_order_relaxed)) {
      return errc::disk_full;
    }
  } else {
    written_since_check_.fetch_add(wb.GetDataSize(), std::memory_order_relaxed);
  }
  rocksdb::Status s;
  {
    std::shared_lock<std::shared_mutex> lock{db_mu_};
    // One write at a time, so the write after an ENOSPC already sees it: after ENOSPC not
    // even lazy writes go in, since RocksDB 7.8 may keep the WAL writer that failed (when the
    // WAL was still empty) and the next append to it aborts. Only a reopen (check_space) gives
    // a fresh one. (The writer actor commits groups itself; other writers are rare.)
    std::lock_guard<std::mutex> one{write_mu_};
    if (!db_ || no_space_flag_.load(std::memory_order_relaxed)) {
      return errc::disk_full;
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync_ && mode == write_mode::durable;
    s = db_->Write(wo, &wb);
    if (s.IsNoSpace()) {
      no_space_flag_.store(true, std::memory_order_relaxed);
    }
  }
  if (!s.ok()) {
    if (s.IsNoSpace()) {
      on_no_space();
      return errc::disk_full;
    }
    return to_error(s);
  }
  return ok();
}

void rocksdb_kv_store::maybe_check(std::uint64_t bytes) {
  const auto written = written_since_check_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  const auto now = steady_ns();
  // Often enough that the headroom cannot be written away between two looks: an eighth of it,
  // or 50 ms for what other processes write.
  if (written < plan_.headroom_bytes / 8
      && now - last_check_ns_.load(std::memory_order_relaxed) < 50'000'000) {
    return;
  }
  check_space();
}

space_report rocksdb_kv_store::check_space() {
  std::lock_guard<std::mutex> lock{space_mu_};
  return check_locked();
}

space_report rocksdb_kv_store::check_locked() {
  written_since_check_.store(0, std::memory_order_relaxed);
  last_check_ns_.store(steady_ns(), std::memory_order_relaxed);
  auto free_now = [this] {
    struct statvfs fs {};
    return ::statvfs(path_.c_str(), &fs) == 0
               ? static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize
               : std::uint64_t{0};
  };
  auto free = free_now();
  const auto headroom = plan_.headroom_bytes;
  if (use_reserve_ && reserve_held_ && free < headroom / 2) {
    // Something filled the disk past the headroom (another process, or RocksDB's own
    // amplification): give RocksDB the reserve so it never meets ENOSPC itself.
    release_reserve();
    say("disk nearly full (" + std::to_string(free) + " bytes free): released the "
        + std::to_string(plan_.reserve_bytes) + "-byte reserve, refusing appends");
    free = free_now();
  }
  if (no_space_ && free >= headroom
      && std::chrono::steady_clock::now() - last_resume_ >= std::chrono::seconds(1)) {
    // Reopened rather than DB::Resume(): Resume keeps a WAL writer that failed when the
    // WAL was still empty, and librocksdb 7.8 aborts on the next append to it. The reopen
    // replays the WAL (a torn last record is dropped: it was never acknowledged).
    last_resume_ = std::chrono::steady_clock::now();
    std::unique_lock<std::shared_mutex> lock{db_mu_};
    close_db();
    auto s = open_db();
    if (s.ok()) {
      no_space_ = false;
      no_space_flag_.store(false, std::memory_order_relaxed);
      say("space is back (" + std::to_string(free) + " bytes free): store reopened, writes resume");
    } else {
      say("reopening after a full disk failed, retrying: " + s.ToString());
    }
    lock.unlock();
    free = free_now();
  }
  if (use_reserve_ && !reserve_held_ && !no_space_
      && free >= plan_.reserve_bytes + headroom * 3 / 2) {
    if (hold_reserve()) {
      free = free_now();
    }
  }
  const bool full = no_space_ || (use_reserve_ && !reserve_held_) || free < headroom;
  if (full != full_.load(std::memory_order_relaxed)) {
    say(full ? "disk full: " + std::to_string(free) + " bytes free at " + path_
                   + ", appends are refused until space returns"
             : "disk space ok: " + std::to_string(free) + " bytes free, appends accepted");
  }
  full_.store(full, std::memory_order_relaxed);
  free_bytes_ = free;
  space_report r;
  r.disk_full = full;
  r.free_bytes = free;
  r.reserve_bytes = reserve_held_ ? plan_.reserve_bytes : 0;
  r.disk_bytes = disk_bytes();
  return r;
}

void rocksdb_kv_store::on_no_space() {
  std::lock_guard<std::mutex> lock{space_mu_};
  no_space_flag_.store(true, std::memory_order_relaxed);
  if (!no_space_) {
    no_space_ = true;
    last_resume_ = std::chrono::steady_clock::now();
    say("RocksDB ran out of space: refusing writes until space returns");
  }
  if (reserve_held_) {
    release_reserve(); // room for RocksDB's recovery (flush, new WAL)
  }
  full_.store(true, std::memory_order_relaxed);
}

bool rocksdb_kv_store::hold_reserve() {
  const auto size = static_cast<off_t>(plan_.reserve_bytes);
  // posix_fallocate really allocates (tmpfs, ext4, xfs), or writes where the filesystem cannot.
  const int rc = ::posix_fallocate(reserve_fd_, 0, size);
  if (rc != 0) {
    if (::ftruncate(reserve_fd_, 0) != 0) {
      reserve_held_ = false; // nothing more to do: the file just stays
    }
  }
  reserve_held_ = rc == 0;
  return reserve_held_;
}

void rocksdb_kv_store::release_reserve() {
  if (::ftruncate(reserve_fd_, 0) != 0) {
    say("cannot release " + reserve_path_ + ": " + std::strerror(errno));
  }
  reserve_held_ = false;
}

result<std::optional<std::string>> rocksdb_kv_store::get(column c, std::string_view key) {
  std::shared_lock<std::shared_mutex> lock{db_mu_};
  if (!db_) {
    return errc::disk_full; // closed for a reopen that has not succeeded yet
  }
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions{}, cf(c), slice(key), &value);
  if (s.IsNotFound()) {
    return std::optional<std::string>{};
  }
  if (!s.ok()) {
    return to_error(s);
  }
  return std::optional<std::string>{std::move(value)};
}

result<void> rocksdb_kv_store::scan(column c, std::string_view begin, std::string_view end,
                                    const visitor& visit) {
  std::shared_lock<std::shared_mutex> lock{db_mu_};
  if (!db_) {
    return errc::disk_full;
  }
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper = slice(end);
  if (!end.empty()) {
    ro.iterate_upper_bound = &upper;
  }
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(c))};
  for (it->Seek(slice(begin)); it->Valid(); it->Next()) {
    const auto k = it->key();
    const auto v = it->value();
    if (!visit({k.data(), k.size()}, {v.data(), v.size()})) {
      break;
    }
  }
  if (!it->status().ok()) {
    return to_error(it->status());
  }
  return ok();
}

result<std::optional<std::string>> rocksdb_kv_store::last_key(column c, std::string_view begin,
                                                              std::string_view end) {
  std::shared_lock<std::shared_mutex> lock{db_mu_};
  if (!db_) {
    return errc::disk_full;
  }
  rocksdb::ReadOptions ro;
  rocksdb::Slice lower = slice(begin);
  rocksdb::Slice upper = slice(end);
  ro.iterate_lower_bound = &lower;
  if (!end.empty()) {
    ro.iterate_upper_bound = &upper;
  }
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(c))};
  it->SeekToLast();
  if (!it->status().ok()) {
    return to_error(it->status());
  }
  if (!it->Valid()) {
    return std::optional<std::string>{};
  }
  return std::optional<std::string>{it->key().ToString()};
}

std::uint64_t rocksdb_kv_store::disk_bytes() const {
  std::shared_lock<std::shared_mutex> lock{db_mu_};
  std::uint64_t total = 0;
  if (!db_) {
    return total;
  }
  for (std::size_t c = 0; c < column_count; ++c) {
    std::uint64_t v = 0;
    if (db_->GetIntProperty(cfs_[c], "rocksdb.total-sst-files-size", &v)) {
      total += v;
    }
  }
  return total;
}

} // namespace outpost::storage
