#pragma once

#include "actors/hub/mqtt_session.hpp"
#include "protocols/transport/stream_server.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <string>

namespace outpost::actors {

/// Starts an MQTT listener (plain TCP when `tls` is null, else TLS) whose every connection
/// gets an `mqtt_session` actor. On the I/O thread, bytes are cut into whole frames and sent
/// to the actor in one message per read; the actor does the rest. Before a connection's CONNECT
/// is accepted its frames may be at most `hub->pre_auth_frame_bytes`. `opts` carries the
/// address, TLS files and connection limits.
/// The accept function of such a listener: what runs an MQTT session over any byte stream
/// (the TLS listener's, or a WebSocket's with sub-protocol `mqtt`).
transport::stream_server::accept_fn mqtt_acceptor(caf::actor_system& sys,
                                                  std::shared_ptr<const hub_services> hub);

result<std::unique_ptr<transport::stream_server>> start_mqtt_listener(
    transport::io_runner& io, caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
    transport::stream_options opts, std::string& why);

} // namespace outpost::actors
