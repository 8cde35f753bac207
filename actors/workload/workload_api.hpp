#pragma once

#include "actors/workload/agent_view.hpp"
#include "actors/workload/identity_registry.hpp"
#include "protocols/transport/http_server.hpp"

#include <memory>
#include <string>

namespace outpost::actors {

struct workload_config {
  std::string device_id;
  std::shared_ptr<identity_snapshot> identities; ///< module keys for `sign`
  std::shared_ptr<agent_view> view;              ///< module pids and generation ids
  std::string ca_cert_file;                      ///< the edge CA: trust bundle and issuer
  std::string ca_key_file;
  std::string master_key; ///< 32 random bytes: encrypt/decrypt keys are derived per module
  /// The hub's host name (`hostname`): only edgeHub gets a server certificate for it.
  std::string gateway_hostname;
};

/// IoT Edge's workload API (facts §9, HTTP over the unix socket whose URI modules get in
/// IOTEDGE_WORKLOADURI), every call with `?api-version=` (2018-06-28 or later):
/// - `GET /trust-bundle` -> `{"certificate": "<edge CA PEM>"}`
/// - `POST /modules/{m}/genid/{g}/sign` `{"keyId": "primary"|"secondary", "algo": "HMACSHA256",
///   "data": "<b64>"}` -> `{"digest": "<b64 HMAC-SHA256 with the module's key>"}`
/// - `POST /modules/{m}/genid/{g}/encrypt` `{"plaintext", "initializationVector"}` ->
///   `{"ciphertext"}` and `/decrypt` the reverse (AES-256-GCM, key per module and generation)
/// - `POST /modules/{m}/genid/{g}/certificate/server` `{"commonName", "expiration"}` -> 201
///   `{"privateKey": {"type": "key", "bytes": PEM}, "certificate": PEM chain, "expiration"}`,
///   issued by the edge CA, for the module's own name only (`<m>` or `<m>.<domain>`; the
///   gateway's host name only for edgeHub): 403 with the reason otherwise.
/// A module route answers only that module (SO_PEERCRED at connect): a process module by its
/// uid (when the uid is not the module's alone, e.g. outpostd is not root, the caller must
/// also be in the module's session, which no other process can join, or descend from it);
/// a container by its cgroup (the caller's /proc/<pid>/cgroup is the container's). Never by
/// process group. 403 otherwise; 404 for an unknown module or generation id.
/// Errors are `{"message": "..."}`.
transport::http_handler workload_routes(workload_config cfg);

} // namespace outpost::actors
