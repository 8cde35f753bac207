#include "storage/rocksdb/rocksdb_kv_store.hpp"

#include "storage/errc.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include <algorithm>

namespace outpost::storage {

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

rocksdb::ColumnFamilyOptions column_options(const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = 8u << 20;
  cf.max_write_buffer_number = 2;
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

result<std::unique_ptr<rocksdb_kv_store>> rocksdb_kv_store::open(const rocksdb_options& o,
                                                                 std::string& why) {
  auto cache = rocksdb::NewLRUCache(o.block_cache_bytes);
  rocksdb::DBOptions db;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  db.max_open_files = 256;
  db.max_background_jobs = 2;
  db.keep_log_file_num = 2;
  db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db.max_total_wal_size = 64u << 20;
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
    descriptors.emplace_back(n, column_options(cache));
  }

  std::unique_ptr<rocksdb_kv_store> store{new rocksdb_kv_store(o.sync)};
  rocksdb::DB* raw = nullptr;
  auto s = rocksdb::DB::Open(db, o.path, descriptors, &store->all_handles_, &raw);
  if (!s.ok()) {
    why = s.ToString();
    return errc::open_failed;
  }
  store->db_ = raw;
  for (std::size_t i = 0; i < names.size(); ++i) {
    for (std::size_t c = 0; c < column_count; ++c) {
      if (names[i] == column_name(static_cast<column>(c))) {
        store->cfs_[c] = store->all_handles_[i];
      }
    }
  }
  return store;
}

rocksdb_kv_store::~rocksdb_kv_store() {
  if (db_) {
    for (auto* h : all_handles_) {
      db_->DestroyColumnFamilyHandle(h);
    }
    db_->Close();
    delete db_;
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
  rocksdb::WriteOptions wo;
  wo.sync = sync_ && mode == write_mode::durable;
  auto s = db_->Write(wo, &wb);
  if (!s.ok()) {
    return to_error(s);
  }
  return ok();
}

result<std::optional<std::string>> rocksdb_kv_store::get(column c, std::string_view key) {
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
  std::uint64_t total = 0;
  for (std::size_t c = 0; c < column_count; ++c) {
    std::uint64_t v = 0;
    if (db_->GetIntProperty(cfs_[c], "rocksdb.total-sst-files-size", &v)) {
      total += v;
    }
  }
  return total;
}

} // namespace outpost::storage
