// Appends through the storage writer actor: closed-loop callers, each waiting for its
// append to be acknowledged (durable) before sending the next, 256-byte bodies.
//
//   build/bin/store_append_bench --benchmark_filter=fsync
//
// Args: callers, messages per request, durability (0 fsync, 1 os, 2 memory).

#include "actors/common/messages.hpp"
#include "actors/common/storage_writer.hpp"
#include "storage/memory_kv_store.hpp"
#include "storage/rocksdb/rocksdb_kv_store.hpp"

#include <benchmark/benchmark.h>
#include <caf/all.hpp>

#include <filesystem>
#include <random>

namespace {

using namespace outpost;
using done_atom = caf::atom_constant<caf::atom("done")>;

/// One closed-loop step: append, and on the durable answer take the next step.
void step(caf::event_based_actor* self, actors::writer_actor writer, storage::queue_handle q,
          std::size_t left, std::size_t batch, caf::actor report_to) {
  if (left == 0) {
    self->send(report_to, done_atom::value);
    self->quit();
    return;
  }
  actors::append_requests reqs(batch, {std::string(256, 'x'), {{q, -1}}});
  self->request(writer, caf::infinite, actors::append_atom::value, std::move(reqs))
      .then([=](actors::append_outcomes& outs) {
        if (outs.at(0).error) {
          std::abort();
        }
        step(self, writer, q, left - 1, batch, report_to);
      });
}

caf::behavior caller(caf::event_based_actor* self, actors::writer_actor writer,
                     storage::queue_handle q, std::size_t requests, std::size_t batch,
                     caf::actor report_to) {
  step(self, writer, q, requests, batch, report_to);
  return {[](int) {
  }};
}

void writer_append(benchmark::State& state) {
  const auto callers = static_cast<std::size_t>(state.range(0));
  const auto batch = static_cast<std::size_t>(state.range(1));
  const auto mode = state.range(2);
  const auto dir = std::filesystem::temp_directory_path()
                   / ("outpost-bench-" + std::to_string(std::random_device{}()));
  std::shared_ptr<storage::kv_store> kv;
  if (mode == 2) {
    kv = std::make_shared<storage::memory_kv_store>();
  } else {
    std::string why;
    auto r = storage::rocksdb_kv_store::open({dir.string(), mode == 0}, why);
    if (!r) {
      state.SkipWithError(why.c_str());
      return;
    }
    kv = std::move(*r);
  }
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", std::size_t{2});
  caf::actor_system sys{cfg};
  actors::storage_writer_config wcfg;
  wcfg.kv = kv;
  kv.reset();
  wcfg.now_ms = [] {
    return std::int64_t{1};
  };
  auto writer = *actors::spawn_storage_writer(sys, wcfg);
  caf::scoped_actor self{sys};
  storage::queue_handle q = 0;
  self->request(writer, caf::infinite, actors::open_atom::value, storage::queue_name{"bench", 0})
      .receive([&](actors::open_reply& r) { q = r.queue; }, [](caf::error&) {});
  // Enough requests per iteration that one iteration takes tens of milliseconds or more.
  const std::size_t per_caller = std::max<std::size_t>(20000 / callers / batch, 20);
  for (auto _ : state) {
    for (std::size_t i = 0; i < callers; ++i) {
      sys.spawn(caller, writer, q, per_caller, batch, caf::actor{self});
    }
    for (std::size_t i = 0; i < callers; ++i) {
      self->receive([](done_atom) {});
    }
  }
  state.SetItemsProcessed(
      static_cast<std::int64_t>(state.iterations() * callers * per_caller * batch));
  state.SetLabel(mode == 0 ? "fsync" : mode == 1 ? "os" : "memory");
  caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
  self->wait_for(writer);
  std::filesystem::remove_all(dir);
}

} // namespace

BENCHMARK(writer_append)
    ->ArgNames({"callers", "batch", "durability"})
    ->Args({1, 1, 0})
    ->Args({100, 1, 0})
    ->Args({1000, 1, 0})
    ->Args({100, 64, 0})
    ->Args({100, 1, 1})
    ->Args({100, 1, 2})
    ->UseRealTime()
    ->MinTime(2.0)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
