// store_crash_writer DIR TRIAL: appends to a RocksDB message store through the storage
// writer actor with fsync durability, from 8 concurrent callers, and prints
// "<queue> <seq> <n>" for every entry once its append is acknowledged. The crash test
// SIGKILLs it at random points and checks that every printed entry is in the store.

#include "actors/common/messages.hpp"
#include "actors/common/storage_writer.hpp"
#include "storage/rocksdb/rocksdb_kv_store.hpp"
#include "tests/integration/crash_body.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <cstdio>
#include <string>

#include <unistd.h>

namespace {

using namespace outpost;

std::atomic<std::uint64_t> counter{0};

void print_ack(char queue, storage::sequence seq, std::uint64_t n) {
  char line[64];
  const int len =
      std::snprintf(line, sizeof line, "%c %llu %llu\n", queue,
                    static_cast<unsigned long long>(seq), static_cast<unsigned long long>(n));
  // One write(2) per line: a line is either out before the kill or not at all.
  if (::write(1, line, static_cast<std::size_t>(len)) != len) {
    std::_Exit(3);
  }
}

caf::behavior appender(caf::event_based_actor* self, actors::writer_actor writer, int trial,
                       storage::queue_handle a, storage::queue_handle b) {
  auto next = [=](auto& again) -> void {
    const auto n = counter++;
    storage::append_request req{test::crash_body(trial, n), {{a, -1}}};
    if (n % 3 == 0) {
      req.targets.push_back({b, -1}); // a shared body: reference counts must survive too
    }
    self->request(writer, caf::infinite, actors::append_atom::value, actors::append_requests{req})
        .then([=](actors::append_outcomes& outs) {
          if (outs.at(0).error) {
            std::_Exit(4);
          }
          print_ack('a', outs[0].value.seqs[0], n);
          if (outs[0].value.seqs.size() > 1) {
            print_ack('b', outs[0].value.seqs[1], n);
          }
          again(again);
        });
  };
  next(next);
  return {[](int) {
  }};
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: store_crash_writer DIR TRIAL\n");
    return 2;
  }
  const int trial = std::stoi(argv[2]);
  std::string why;
  auto kv = storage::rocksdb_kv_store::open({argv[1], true}, why);
  if (!kv) {
    std::fprintf(stderr, "open failed: %s\n", why.c_str());
    return 1;
  }
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", std::size_t{2});
  caf::actor_system sys{cfg};
  actors::storage_writer_config wcfg;
  wcfg.kv = std::shared_ptr<storage::kv_store>{std::move(*kv)};
  wcfg.now_ms = [] {
    return std::int64_t{1};
  };
  auto writer = actors::spawn_storage_writer(sys, wcfg);
  if (!writer) {
    std::fprintf(stderr, "load failed: %s\n", writer.error().message().c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  storage::queue_handle qa = 0;
  storage::queue_handle qb = 0;
  for (auto* q : {&qa, &qb}) {
    const std::string name = q == &qa ? "crash/a" : "crash/b";
    self->request(*writer, caf::infinite, actors::open_atom::value, storage::queue_name{name, 0})
        .receive([&](actors::open_reply& r) { *q = r.queue; }, [](caf::error&) { std::_Exit(5); });
  }
  for (int i = 0; i < 8; ++i) {
    sys.spawn(appender, *writer, trial, qa, qb);
  }
  std::fprintf(stderr, "ready\n");
  ::pause(); // until SIGKILL
  return 0;
}
