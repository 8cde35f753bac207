#include "actors/hub/hub_metrics.hpp"

namespace outpost::actors {

hub_metrics::hub_metrics(prometheus::Registry& r, summary_registry& summaries,
                         counter_registry& counters)
    : received(
        counters.add_family("edgehub_messages_received_total", "Messages received from clients")),
      sent(counters.add_family("edgehub_messages_sent_total",
                               "Messages sent to clients or upstream")),
      message_size(summaries.add_family("edgehub_message_size_bytes",
                                        "Size of messages received from clients")),
      dropped(prometheus::BuildCounter()
                  .Name("edgehub_messages_dropped_total")
                  .Help("Messages dropped (no_route, ttl_expiry)")
                  .Register(r)),
      unack(prometheus::BuildCounter()
                .Name("edgehub_messages_unack_total")
                .Help("Messages not acknowledged to the client (storage_failure)")
                .Register(r)),
      process_duration(summaries.add_family("edgehub_message_process_duration_seconds",
                                            "Time from receiving a message to its delivery")),
      connected_clients(prometheus::BuildGauge()
                            .Name("edgehub_connected_clients")
                            .Help("Clients connected to the hub")
                            .Register(r)
                            .Add({})),
      connections(prometheus::BuildGauge()
                      .Name("outpost_connections")
                      .Help("Open client connections by protocol and transport")
                      .Register(r)),
      connect_success(counters.add_family("edgehub_client_connect_success_total",
                                          "Successful client connections")),
      connect_failed(
          counters.add_family("edgehub_client_connect_failed_total", "Refused client connections")),
      disconnect(counters.add_family("edgehub_client_disconnect_total", "Client disconnections")),
      get_twin(counters.add_family("edgehub_gettwin_total", "Total number of GetTwin calls")),
      get_twin_duration(summaries.add_family("edgehub_gettwin_duration_seconds",
                                             "Time taken for get twin operations")),
      reported_properties(counters.add_family("edgehub_reported_properties_total",
                                              "Total reported property updates calls")),
      reported_properties_duration(
          summaries.add_family("edgehub_reported_properties_update_duration_seconds",
                               "Time taken to update reported properties")),
      direct_methods(counters.add_family("edgehub_direct_methods_total",
                                         "Total number of direct method calls")),
      direct_method_duration(summaries.add_family("edgehub_direct_method_duration_seconds",
                                                  "Time taken to call direct methods")),
      offline_count(prometheus::BuildCounter()
                        .Name("edgehub_offline_count_total")
                        .Help("Times the upstream link went offline")
                        .Register(r)),
      offline_duration(summaries.add_family("edgehub_offline_duration_seconds",
                                            "How long the upstream link stayed offline")),
      upstream_connected(prometheus::BuildGauge()
                             .Name("outpost_upstream_connected")
                             .Help("1 while the upstream link to the parent is connected")
                             .Register(r)
                             .Add({})),
      endpoint_connected(prometheus::BuildGauge()
                             .Name("outpost_endpoint_connected")
                             .Help("1 while a route endpoint's broker connection is up")
                             .Register(r)) {}

void count_twin_request(hub_metrics& m, bool get, const std::string& id,
                        std::chrono::steady_clock::duration took) {
  const prometheus::Labels labels{{get ? "source" : "target", "edge_hub"}, {"id", id}};
  (get ? m.get_twin : m.reported_properties).Add(labels).Increment();
  (get ? m.get_twin_duration : m.reported_properties_duration)
      .add(labels)
      .observe(std::chrono::duration<double>(took).count());
}

} // namespace outpost::actors
