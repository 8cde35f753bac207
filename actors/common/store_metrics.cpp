#include "actors/common/store_metrics.hpp"

namespace outpost::actors {

namespace {

template <class Builder>
auto& family(Builder b, prometheus::Registry& r, const char* name, const char* help) {
  return b.Name(name).Help(help).Register(r);
}

} // namespace

store_metrics::store_metrics(prometheus::Registry& r)
    : queue_length_family(family(prometheus::BuildGauge(), r, "edgehub_queue_length",
                                 "Entries waiting in a persistent mailbox")),
      queue_bytes_family(family(prometheus::BuildGauge(), r, "outpost_store_queue_bytes",
                                "Body bytes referenced by a persistent mailbox")),
      dropped_family(family(prometheus::BuildCounter(), r, "edgehub_messages_dropped_total",
                            "Messages dropped (reason ttl_expiry: expired in a mailbox)")),
      used_bytes(family(prometheus::BuildGauge(), r, "outpost_store_used_bytes",
                        "Bytes the message store accounts against its quota")
                     .Add({})),
      quota_bytes(family(prometheus::BuildGauge(), r, "outpost_store_quota_bytes",
                         "The store's quota in bytes (storage.max_size_bytes or its automatic "
                         "value; 0 = unlimited)")
                      .Add({})),
      full(family(prometheus::BuildGauge(), r, "outpost_store_full",
                  "1 while appends are refused (quota or disk full): publishers get no PUBACK")
               .Add({})),
      disk_full(family(prometheus::BuildGauge(), r, "outpost_store_disk_full",
                       "1 while the filesystem under the store is below its headroom or out of "
                       "space")
                    .Add({})),
      disk_free_bytes(family(prometheus::BuildGauge(), r, "outpost_store_disk_free_bytes",
                             "Free bytes on the store's filesystem, besides the reserve")
                          .Add({})),
      reserve_bytes(family(prometheus::BuildGauge(), r, "outpost_store_reserve_bytes",
                           "Bytes held in the store's reserve file (0 once released)")
                        .Add({})),
      appends(family(prometheus::BuildCounter(), r, "outpost_store_appends_total",
                     "Messages appended durably to the store")
                  .Add({})),
      append_failures(family(prometheus::BuildCounter(), r, "outpost_store_append_failures_total",
                             "Appends refused (quota) or failed (I/O)")
                          .Add({})),
      commits(family(prometheus::BuildCounter(), r, "outpost_store_commits_total",
                     "Group-commit passes (one write batch, one sync each)")
                  .Add({})),
      acks(family(prometheus::BuildCounter(), r, "outpost_store_ack_batches_total",
                  "Acknowledgement batches written")
               .Add({})) {}

prometheus::Gauge& store_metrics::queue_length(const std::string& endpoint, std::uint32_t prio) {
  auto& g = lengths_[{endpoint, prio}];
  if (!g) {
    g = &queue_length_family.Add({{"endpoint", endpoint}, {"priority", std::to_string(prio)}});
  }
  return *g;
}

prometheus::Gauge& store_metrics::queue_bytes(const std::string& endpoint, std::uint32_t prio) {
  auto& g = bytes_[{endpoint, prio}];
  if (!g) {
    g = &queue_bytes_family.Add({{"endpoint", endpoint}, {"priority", std::to_string(prio)}});
  }
  return *g;
}

prometheus::Counter& store_metrics::ttl_dropped(const std::string& endpoint) {
  auto& c = dropped_[endpoint];
  if (!c) {
    c = &dropped_family.Add({{"reason", "ttl_expiry"}, {"endpoint", endpoint}});
  }
  return *c;
}

} // namespace outpost::actors
