#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/summary.h>

#include <chrono>
#include <string>

namespace outpost::actors {

/// The edge hub's series with IoT Edge's names and labels (iotedge-facts §8.2), declared
/// once. Families are thread-safe; each session caches the series of its own client id.
struct hub_metrics {
  explicit hub_metrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& received; ///< {id, route_output}
  prometheus::Family<prometheus::Counter>&
      sent; ///< {from, to, from_route_output, to_route_input, priority}
  prometheus::Family<prometheus::Summary>& message_size;     ///< {id}
  prometheus::Family<prometheus::Counter>& dropped;          ///< {reason, from, from_route_output}
  prometheus::Family<prometheus::Counter>& unack;            ///< {reason, from, from_route_output}
  prometheus::Family<prometheus::Summary>& process_duration; ///< {from, to, priority}
  prometheus::Gauge& connected_clients;
  /// Open client connections by protocol (mqtt, amqp) and transport (tcp, tls, websocket):
  /// `outpost_connections`, ours (IoT Edge counts clients, not connections).
  prometheus::Family<prometheus::Gauge>& connections;
  prometheus::Family<prometheus::Counter>& connect_success; ///< {id}
  prometheus::Family<prometheus::Counter>& connect_failed;  ///< {id, reason}
  prometheus::Family<prometheus::Counter>& disconnect;      ///< {id}
  /// Twin GETs and reported-property updates, `source`/`target` = "edge_hub" (served by this
  /// hub's own twins; "upstream" once the upstream link serves them).
  prometheus::Family<prometheus::Counter>& get_twin;                     ///< {source, id}
  prometheus::Family<prometheus::Summary>& get_twin_duration;            ///< {source, id}
  prometheus::Family<prometheus::Counter>& reported_properties;          ///< {target, id}
  prometheus::Family<prometheus::Summary>& reported_properties_duration; ///< {target, id}
  /// Direct method calls: `from` the caller (a module, or "admin" for the admin API), `to` the
  /// target identity; counted and timed when the caller is answered (any outcome).
  prometheus::Family<prometheus::Counter>& direct_methods;         ///< {from, to}
  prometheus::Family<prometheus::Summary>& direct_method_duration; ///< {from, to}

  /// IoT Edge's summary quantiles (facts §8.1).
  static prometheus::Summary::Quantiles quantiles();
  /// The window of the per-message summaries: 60 s in one bucket (the quantiles cover what
  /// was observed since the window last turned over). prometheus-cpp inserts every observation
  /// into each bucket's quantile stream and each bucket holds ~5 KiB (a 500-sample buffer and
  /// its sample list): its default of 5 buckets cost 3.4% of the hub's CPU, and with one size
  /// summary per device that talks, 10,000 TLS devices held ~100 MiB more with 2 buckets.
  static constexpr std::chrono::seconds window{60};

  static constexpr int window_buckets = 1;
};

/// edgehub_gettwin_* (`get`) or edgehub_reported_properties_* (IoT Edge's names) for one twin
/// request of the authenticated identity `id`, whatever protocol carried it.
void count_twin_request(hub_metrics& m, bool get, const std::string& id,
                        std::chrono::steady_clock::duration took);

} // namespace outpost::actors
