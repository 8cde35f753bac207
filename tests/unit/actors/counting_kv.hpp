#pragma once

// A memory engine for the storage actors' tests: counts writes by mode and can be told to fail
// them.

#include "storage/errc.hpp"
#include "storage/memory_kv_store.hpp"

namespace outpost::actors::testing {

class counting_kv final : public storage::kv_store {
public:
  result<void> write(const storage::write_batch& b, storage::write_mode mode) override {
    if (fail) {
      return storage::errc::io_error;
    }
    ++(mode == storage::write_mode::durable ? durable_writes : lazy_writes);
    return inner_.write(b, mode);
  }
  result<std::optional<std::string>> get(storage::column c, std::string_view k) override {
    return inner_.get(c, k);
  }
  result<void> scan(storage::column c, std::string_view b, std::string_view e,
                    const visitor& v) override {
    return inner_.scan(c, b, e, v);
  }
  result<std::optional<std::string>> last_key(storage::column c, std::string_view b,
                                              std::string_view e) override {
    return inner_.last_key(c, b, e);
  }

  int durable_writes = 0;
  int lazy_writes = 0;
  bool fail = false;

private:
  storage::memory_kv_store inner_;
};

} // namespace outpost::actors::testing
