#pragma once

#include "actors/hub/mqtt_session.hpp"
#include "protocols/transport/stream_server.hpp"

#include <caf/fwd.hpp>

#include <memory>
#include <string>

namespace outpost::actors {

/// The accept function of an AMQP listener: every connection (TLS on 5671, or a WebSocket with
/// sub-protocol `AMQPWSB10`) gets one actor, glue between Proton's engine in IoT Hub's dialect
/// (`amqp::hub_connection`) and one hub session core (`hub::hub_session`) per identity
/// authenticated on it. The I/O side sends the actor the bytes as they come (`data_atom`) and
/// `closed_atom`; the actor authenticates CBS tokens and SASL PLAIN against the identities,
/// routes telemetry into the mailboxes and settles each delivery (accepted) once it is durable,
/// giving the link its credit back only then.
transport::stream_server::accept_fn amqp_acceptor(caf::actor_system& sys,
                                                  std::shared_ptr<const hub_services> hub);

/// Starts the AMQP/TLS listener (`[listen] amqp_tls`).
result<std::unique_ptr<transport::stream_server>> start_amqp_listener(
    transport::io_runner& io, caf::actor_system& sys, std::shared_ptr<const hub_services> hub,
    transport::stream_options opts, std::string& why);

} // namespace outpost::actors
