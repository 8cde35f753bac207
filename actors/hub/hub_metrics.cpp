#include "actors/hub/hub_metrics.hpp"

namespace outpost::actors {

prometheus::Summary::Quantiles hub_metrics::quantiles() {
  return {{0.1, 0.01}, {0.5, 0.01}, {0.9, 0.01}, {0.99, 0.01}};
}

hub_metrics::hub_metrics(prometheus::Registry& r)
    : received(prometheus::BuildCounter()
                   .Name("edgehub_messages_received_total")
                   .Help("Messages received from clients")
                   .Register(r)),
      sent(prometheus::BuildCounter()
               .Name("edgehub_messages_sent_total")
               .Help("Messages sent to clients or upstream")
               .Register(r)),
      message_size(prometheus::BuildSummary()
                       .Name("edgehub_message_size_bytes")
                       .Help("Size of messages received from clients")
                       .Register(r)),
      dropped(prometheus::BuildCounter()
                  .Name("edgehub_messages_dropped_total")
                  .Help("Messages dropped (no_route, ttl_expiry)")
                  .Register(r)),
      unack(prometheus::BuildCounter()
                .Name("edgehub_messages_unack_total")
                .Help("Messages not acknowledged to the client (storage_failure)")
                .Register(r)),
      process_duration(prometheus::BuildSummary()
                           .Name("edgehub_message_process_duration_seconds")
                           .Help("Time from receiving a message to its delivery")
                           .Register(r)),
      connected_clients(prometheus::BuildGauge()
                            .Name("edgehub_connected_clients")
                            .Help("Clients connected to the hub")
                            .Register(r)
                            .Add({})),
      connections(prometheus::BuildGauge()
                      .Name("outpost_connections")
                      .Help("Open client connections by protocol and transport")
                      .Register(r)),
      connect_success(prometheus::BuildCounter()
                          .Name("edgehub_client_connect_success_total")
                          .Help("Successful client connections")
                          .Register(r)),
      connect_failed(prometheus::BuildCounter()
                         .Name("edgehub_client_connect_failed_total")
                         .Help("Refused client connections")
                         .Register(r)),
      disconnect(prometheus::BuildCounter()
                     .Name("edgehub_client_disconnect_total")
                     .Help("Client disconnections")
                     .Register(r)),
      get_twin(prometheus::BuildCounter()
                   .Name("edgehub_gettwin_total")
                   .Help("Total number of GetTwin calls")
                   .Register(r)),
      get_twin_duration(prometheus::BuildSummary()
                            .Name("edgehub_gettwin_duration_seconds")
                            .Help("Time taken for get twin operations")
                            .Register(r)),
      reported_properties(prometheus::BuildCounter()
                              .Name("edgehub_reported_properties_total")
                              .Help("Total reported property updates calls")
                              .Register(r)),
      reported_properties_duration(prometheus::BuildSummary()
                                       .Name("edgehub_reported_properties_update_duration_seconds")
                                       .Help("Time taken to update reported properties")
                                       .Register(r)),
      direct_methods(prometheus::BuildCounter()
                         .Name("edgehub_direct_methods_total")
                         .Help("Total number of direct method calls")
                         .Register(r)),
      direct_method_duration(prometheus::BuildSummary()
                                 .Name("edgehub_direct_method_duration_seconds")
                                 .Help("Time taken to call direct methods")
                                 .Register(r)) {}

void count_twin_request(hub_metrics& m, bool get, const std::string& id,
                        std::chrono::steady_clock::duration took) {
  const prometheus::Labels labels{{get ? "source" : "target", "edge_hub"}, {"id", id}};
  (get ? m.get_twin : m.reported_properties).Add(labels).Increment();
  (get ? m.get_twin_duration : m.reported_properties_duration)
      .Add(labels, hub_metrics::quantiles(), hub_metrics::window, hub_metrics::window_buckets)
      .Observe(std::chrono::duration<double>(took).count());
}

} // namespace outpost::actors
