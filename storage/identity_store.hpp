#pragma once

#include "protocols/common/result.hpp"
#include "storage/kv_store.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::storage {

/// How an identity authenticates (IoT Hub's authentication types).
enum class auth_type : std::uint8_t {
  sas,             ///< symmetric keys: `primary`/`secondary` are base64 keys
  x509_thumbprint, ///< self-signed certificate: `primary`/`secondary` are SHA-256 thumbprints
  x509_ca,         ///< certificate signed by a CA the hub trusts
};

/// A device or module identity in the edge device's scope.
struct identity {
  std::string device_id;
  std::string module_id; ///< empty for a device
  auth_type auth = auth_type::sas;
  std::string primary;
  std::string secondary;
  bool enabled = true;
  std::int64_t created_ms = 0;
  /// An edge device (IoT Hub's `capabilities.iotEdge`): a child edge connects upstream to this
  /// one with it, and devices can be put in its scope.
  bool edge_enabled = false;
  /// A device in an edge device's scope: that edge device's id (IoT Hub's parent).
  std::string parent;

  /// "<device>" or "<device>/<module>", IoT Edge's client id.
  std::string id() const { return module_id.empty() ? device_id : device_id + "/" + module_id; }
  friend bool operator==(const identity& a, const identity& b) {
    return a.device_id == b.device_id && a.module_id == b.module_id && a.auth == b.auth
           && a.primary == b.primary && a.secondary == b.secondary && a.enabled == b.enabled
           && a.created_ms == b.created_ms && a.edge_enabled == b.edge_enabled
           && a.parent == b.parent;
  }
};

/// True for an IoT Hub device or module id: 1-128 of `A-Za-z0-9-.%_*?!(),:=@$'` (IoT Hub's
/// identity rules); module ids may not start with `$` unless they are the edge's own.
bool valid_identity_id(std::string_view id) noexcept;

/// What an administrator asks for; `make_identity` turns it into a record.
struct identity_request {
  std::string id;      ///< "<device>", "<device>/<module>", or "<module>" for an edge module
  bool module = false; ///< `outpost identity add module ...`
  auth_type auth = auth_type::sas;
  /// The thumbprint (x509_thumbprint) or the base64 key (sas; "" = generate one, as IoT Hub
  /// does; the caller checks a given key's length).
  std::string primary;
  std::string secondary;
  bool edge_enabled = false; ///< devices only: `--edge-enabled`
  std::string parent;        ///< devices only: `--parent EDGE`, an edge-enabled device
};

/// Validates `req` against the registry and builds the record: a bare module id belongs to
/// `edge_device_id`; a module's device must exist (or be the edge device); SAS identities
/// get `keys` (two fresh base64 keys from a CSPRNG, supplied by the caller).
result<identity> make_identity(const identity_request& req, const class identity_store& store,
                               std::string_view edge_device_id,
                               std::pair<std::string, std::string> keys, std::int64_t now_ms);

/// The identity registry's persistence (column `identities`): a snapshot in memory, every
/// change written durably before it is visible. Thread-compatible; owned by the registry actor.
class identity_store {
public:
  /// Writes one batch durably. In outpostd: through the storage writer, the engine's only
  /// writer; by default (tools, tests) straight to the engine.
  using batch_writer = std::function<result<void>(const write_batch&)>;

  /// Loads column `identities` from `kv`; changes go through `write` (default: `kv`).
  static result<identity_store> open(kv_store& kv, batch_writer write = {});

  /// Adds or replaces `i` (durable write).
  result<void> put(const identity& i);
  /// Removes an identity; removing a device removes its modules too, each with its twin record
  /// (one atomic batch). Returns how many went.
  result<std::size_t> remove(std::string_view id);
  const identity* find(std::string_view id) const;
  /// All identities in id order.
  std::vector<identity> list() const;

  using table = std::map<std::string, identity, std::less<>>;
  /// The identities as an immutable table that readers on any thread may keep: O(1), and the
  /// same memory as the store's own (the next change copies the table first if it is still
  /// shared). With 10k identities a second copy for readers cost ~4 MB, and building it on
  /// every change was a copy of every identity.
  std::shared_ptr<const table> shared() const { return by_id_; }

private:
  explicit identity_store(batch_writer write) : write_(std::move(write)) {}
  /// The table to change: copied first while a reader holds it.
  table& writable();

  batch_writer write_;
  std::shared_ptr<table> by_id_ = std::make_shared<table>();
};

/// Serialization of one identity record (format version 1), exposed for golden tests.
std::string encode_identity(const identity& i);
result<identity> decode_identity(std::string_view bytes);

} // namespace outpost::storage
