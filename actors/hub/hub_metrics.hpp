#pragma once

#include "actors/common/counter_registry.hpp"
#include "actors/common/summary_registry.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <chrono>
#include <string>

namespace outpost::actors {

/// The edge hub's series with IoT Edge's names and labels (iotedge-facts §8.2), declared
/// once. Families are thread-safe; each session caches the series of its own client id.
/// The counters with a series per identity are ours (`counter_registry`: one string and an
/// integer per series); `dropped` and `unack` stay prometheus-cpp's, whose registry shares
/// `edgehub_messages_dropped_total` with the store's TTL drops.
/// The summaries are ours (`summary_registry`): IoT Edge's quantiles over a 60 s window at a
/// constant cost per observation, where prometheus-cpp's CKMS streams cost ~7% of the hub's CPU
/// and ~5 KiB per series.
struct hub_metrics {
  hub_metrics(prometheus::Registry& registry, summary_registry& summaries,
              counter_registry& counters);

  counter_registry::family& received; ///< {id, route_output}
  counter_registry::family& sent;     ///< {from, to, from_route_output, to_route_input, priority}
  summary_registry::family& message_size;           ///< {id}
  prometheus::Family<prometheus::Counter>& dropped; ///< {reason, from, from_route_output}
  prometheus::Family<prometheus::Counter>& unack;   ///< {reason, from, from_route_output}
  summary_registry::family& process_duration;       ///< {from, to, priority}
  prometheus::Gauge& connected_clients;
  /// Open client connections by protocol (mqtt, amqp) and transport (tcp, tls, websocket):
  /// `outpost_connections`, ours (IoT Edge counts clients, not connections).
  prometheus::Family<prometheus::Gauge>& connections;
  counter_registry::family& connect_success; ///< {id}
  counter_registry::family& connect_failed;  ///< {id, reason}
  counter_registry::family& disconnect;      ///< {id}
  /// Twin GETs and reported-property updates, `source`/`target` = "edge_hub" (served by this
  /// hub's own twins; "upstream" once the upstream link serves them).
  counter_registry::family& get_twin;                     ///< {source, id}
  summary_registry::family& get_twin_duration;            ///< {source, id}
  counter_registry::family& reported_properties;          ///< {target, id}
  summary_registry::family& reported_properties_duration; ///< {target, id}
  /// Direct method calls: `from` the caller (a module, or "admin" for the admin API), `to` the
  /// target identity; counted and timed when the caller is answered (any outcome).
  counter_registry::family& direct_methods;         ///< {from, to}
  summary_registry::family& direct_method_duration; ///< {from, to}
  /// The upstream link (facts §7.2): times it went offline, and for how long, by `id` (the
  /// edge hub's own, `<device>/$edgeHub`).
  prometheus::Family<prometheus::Counter>& offline_count; ///< {id}
  summary_registry::family& offline_duration;             ///< {id}
  /// `outpost_upstream_connected`: 1 while the link to the parent is up (ours).
  prometheus::Gauge& upstream_connected;
  /// `outpost_endpoint_connected{endpoint}`: 1 while a route endpoint's broker connection is
  /// up (ours; the label is a configured name, never a peer's).
  prometheus::Family<prometheus::Gauge>& endpoint_connected;
};

/// edgehub_gettwin_* (`get`) or edgehub_reported_properties_* (IoT Edge's names) for one twin
/// request of the authenticated identity `id`, whatever protocol carried it.
void count_twin_request(hub_metrics& m, bool get, const std::string& id,
                        std::chrono::steady_clock::duration took);

} // namespace outpost::actors
