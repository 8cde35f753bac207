#pragma once

#include "actors/workload/identity_registry.hpp"
#include "protocols/iothub/identity.hpp"
#include "protocols/mqtt/packets.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace outpost::transport {
struct peer_certificate;
}

namespace outpost::actors {

/// The outcome of authenticating one CONNECT.
struct auth_result {
  std::uint8_t connack_code = 5; ///< 0 accepted; 2 bad client id; 4 bad credentials; 5 refused
  std::string reason;            ///< for logs and edgehub_client_connect_failed_total{reason}
  iothub::client_identity who;
  /// SAS: the token's expiry (seconds since the epoch), when the session must end (IoT Hub
  /// closes it then; the SDKs reconnect with a new token before). 0: no expiry (X.509).
  std::int64_t expires_s = 0;
};

struct auth_settings {
  std::string_view hub_hostname;  ///< iothub_hostname, or hostname when standalone
  std::string_view edge_hostname; ///< hostname
  std::int64_t now_seconds = 0;
};

/// IoT Edge's CONNECT checks (facts §3.1-3.2): client id `<d>` or `<d>/<m>`; a username
/// `host/<client id>/?api-version=...` naming the same identity; the identity registered and
/// enabled; then a SAS token in the password (primary or secondary key; a device-level token
/// also for its modules, signed with the device's keys) or, without a password, a TLS client
/// certificate matching the identity's thumbprint or chained to the CA for X.509 CA identities.
/// Pure apart from the HMAC; any thread may call it. A live session calls it again with its
/// CONNECT whenever the identities change: the same rules decide whether it may go on.
auth_result authenticate(const mqtt::connect& c, const identity_table& identities,
                         const auth_settings& settings,
                         const std::optional<transport::peer_certificate>& cert);

/// The identity checks of `authenticate` once the protocol has named the identity (AMQP: a CBS
/// put-token's audience, a SASL PLAIN user name): registered and enabled, then the SAS `token`
/// or, when it is empty, the TLS client certificate. `connack_code` 0 means accepted.
///
/// With an `auth_chain` (a child edge's upstream link, IoT Hub's on-behalf-of gateway
/// authentication; facts §7.1): `"<device>[;<edge>...];<signer>"`, the identity's device first
/// and the child edge that signed `token` with its own keys last. Accepted only when the
/// signer is a registered, enabled, edge-enabled SAS device and each device of the chain is in
/// the scope of the next (its `parent`), so an edge vouches only for its own modules and the
/// devices (and nested edges) below it. At most `max_auth_chain` entries.
auth_result authenticate_identity(const iothub::client_identity& who, const std::string& token,
                                  const identity_table& identities, const auth_settings& settings,
                                  const std::optional<transport::peer_certificate>& cert,
                                  std::string_view auth_chain = {});

/// IoT Edge nests at most 5 levels below the cloud: a chain has at most that many edges and the
/// leaf.
inline constexpr std::size_t max_auth_chain = 6;

} // namespace outpost::actors
