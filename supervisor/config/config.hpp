#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace outpost::app {

enum class durability : std::uint8_t {
  fsync,  ///< group commit: acknowledged entries survive power loss
  os,     ///< WAL without sync: survives a process crash, not power loss
  memory, ///< nothing survives the process (tests, benchmarks)
};

/// `outpostd`'s configuration file (TOML), in the shape of IoT Edge's config.toml where it
/// applies. Every key is listed in deploy/config.toml with its default.
struct daemon_config {
  std::string hostname = "localhost";
  std::string device_id = "outpost";
  /// The upstream IoT hub's host name (SAS audience, connection strings); "" = standalone.
  std::string iothub_hostname;

  struct storage_section {
    std::string dir = "/var/lib/outpost";
    durability mode = durability::fsync;
    /// 0 = automatic: half the filesystem after the store's reserve and headroom
    /// (storage/rocksdb/space_plan.hpp); durability "memory": unlimited.
    std::uint64_t max_size_bytes = 0;
    std::uint32_t cleanup_interval_ms = 200;
    std::uint32_t cleanup_budget = 10000; ///< entries scanned per cleanup step
    /// Group commit: while appends arrive faster than syncs finish, a small pass waits this long
    /// for more before its sync (durability "fsync" only); 0 = sync at once.
    std::uint32_t group_commit_us = 120;
    /// A route mailbox writes its checkpoint (deletes what its consumer acknowledged) at most
    /// this often; 0 = after every burst of acknowledgements.
    std::uint32_t checkpoint_interval_ms = 20;
  } storage;

  struct listen_section {
    std::string metrics = "127.0.0.1:9600"; ///< "" = no metrics listener
    /// The local admin API (unix socket) the CLI uses; "" = `<storage.dir>/run/admin/admin.sock`.
    std::string admin_socket;
    /// A group whose members may use the admin socket besides root and outpostd's user ("" =
    /// none): it gets the socket's folder (02750) and the socket (0660).
    std::string admin_group;
    std::string mqtt_tls = "0.0.0.0:8883"; ///< MQTT over TLS; "" = off
    std::string mqtt;                      ///< plain MQTT, for local tests only; "" = off
    std::string amqp_tls = "0.0.0.0:5671"; ///< AMQP 1.0 over TLS (IoT Hub's dialect); "" = off
    /// IoT Hub's HTTPS surface (ModuleClient.invokeMethod, the local service API); "" = off.
    /// 443 because the SDKs cannot be told another port.
    std::string https = "0.0.0.0:443";
    /// The workload API modules call (IOTEDGE_WORKLOADURI); "" =
    /// `<storage.dir>/run/workload/workload.sock` (its folder is bind-mounted into containers).
    std::string workload_socket;
  } listen;

  /// Server certificate; all empty = a generated edge CA and server certificate under
  /// `<storage.dir>/certs` (IoT Edge's quickstart CA). `ca` also verifies client certificates.
  struct tls_section {
    std::string cert;
    std::string key;
    std::string ca;
  } tls;

  struct agent_section {
    std::string manifest; ///< deployment manifest file ($edgeAgent and $edgeHub); "" = none
    std::uint32_t stop_grace_secs = 10;        ///< SIGTERM, then SIGKILL after this
    std::uint32_t max_restarts = 20;           ///< MaxRestartCount: then `failed`
    std::uint32_t cool_off_secs = 10;          ///< back-off unit: min(unit * 2^n, 300 s)
    std::uint32_t intensive_care_minutes = 10; ///< up this long: restart counters cleared
    std::uint64_t log_max_bytes = 1u << 20;    ///< per module log file before rotation
    std::uint32_t log_files = 3;               ///< rotated files kept per module
    /// Docker Engine API socket for `docker` modules ("unix:///var/run/docker.sock", or
    /// podman's); "" = docker modules are not started (their status says why).
    std::string container_engine;
    /// When outpostd runs as root each process module gets its own uid/gid from this range
    /// (systemd's DynamicUser range by default), skipping ids /etc/passwd or /etc/group know.
    std::uint32_t module_uid_min = 61184;
    std::uint32_t module_uid_max = 65519;
    /// cgroup v2 folder for the modules' cgroups: "auto" = `<cgroup2 mount>/outpost/<id of
    /// storage.dir>` when writable, "" = none, else that folder.
    std::string cgroup = "auto";
  } agent;

  struct hub_section {
    std::uint32_t delivery_window = 512; ///< QoS 1 messages in flight to a module, per input
    std::uint32_t max_pending_in = 64;   ///< unacknowledged publishes before reading pauses
    /// Open connections per listener; 0 = from the fd limit (RLIMIT_NOFILE minus a reserve for
    /// the store, modules and the HTTP surfaces).
    std::uint32_t max_connections = 0;
    /// Connections from one source address that have not authenticated yet; more are closed
    /// at accept. 0 = no limit.
    std::uint32_t max_unauthenticated_per_source = 256;
    std::uint32_t connect_timeout_secs = 10; ///< accept to CONNACK, TLS handshake included
    std::uint32_t max_keepalive_secs = 600;  ///< keepalive 0 or above is served as this
    std::uint32_t max_subscriptions = 50;    ///< topic filters per session
    /// Bytes queued for a client before its input is no longer read; a client whose queue does
    /// not shrink for `output_stall_secs` is disconnected.
    std::uint64_t max_output_bytes = 4u << 20;
    std::uint32_t output_stall_secs = 30;
  } hub;

  /// The parent this edge forwards `$upstream` to (IoT Edge's nested edge; aziot's
  /// config.toml shape). No `connection_string`: standalone, `$upstream` keeps its messages.
  struct upstream_section {
    /// `HostName=<hub>;DeviceId=<this edge device>;SharedAccessKey=<base64>`, as the parent's
    /// `outpost identity add device <id> --edge-enabled` prints it.
    std::string connection_string;
    /// The parent's AMQP listener, "host:port"; "" = the connection string's HostName on 5671
    /// (443 for amqpws).
    std::string parent_hostname;
    /// CA certificate(s) the parent's server certificate must chain to; "" = the system's.
    std::string trust_bundle;
    /// "amqp" (5671) or "amqpws" (AMQP over a WebSocket to the parent's HTTPS listener, 443)
    std::string protocol = "amqp";
    /// The parent's HTTPS API (its scope and the registry of this edge's modules), "host:port";
    /// "" = the parent's host on 443. Ours: IoT Edge always uses 443.
    std::string parent_https;
    std::uint32_t scope_refresh_secs = 10; ///< how often the scope is read from the parent
    /// Parsed from `connection_string` by the parser.
    std::string hub_hostname;
    std::string device_id;
    std::string key;
    bool enabled() const noexcept { return !connection_string.empty(); }
  } upstream;

  /// `[endpoints.<name>]`: an AMQP 1.0 broker that routes name with `INTO Endpoint("<name>")`
  /// (an Outpost extension; IoT Edge has no such sink).
  struct endpoint_section {
    std::string name; ///< 1-64 of `A-Z a-z 0-9 . _ -`
    std::string type; ///< "amqp"
    /// `amqp://[user[:password]@]host[:port]` (5672) or `amqps://...` (5671, TLS); user and
    /// password percent-encoded. Without a user: SASL ANONYMOUS.
    std::string url;
    std::string address;      ///< the target node, e.g. RabbitMQ's "/queue/telemetry"
    std::string trust_bundle; ///< amqps: CA(s) for the broker's certificate; "" = the system's
    /// Parsed from `url` by the parser.
    bool tls = false;
    std::string host;
    std::uint16_t port = 0;
    std::string user;
    std::string password;
  };
  std::vector<endpoint_section> endpoints; ///< in name order

  struct log_section {
    std::string level = "info"; ///< trace, debug, info, warn, error, critical, off
  } log;

  struct runtime_section {
    std::uint32_t threads = 0; ///< actor scheduler threads; 0 = number of cores
    /// I/O threads (sockets, TLS, HTTP); 0 = one fewer than the cores, at least one (the
    /// storage writer needs a core). HTTP handlers never run on them.
    std::uint32_t io_threads = 0;
    /// Where actors run: "io" (on the I/O threads: no hand-off between a socket and its
    /// session, see actors/app/io_scheduler.hpp; `threads` is then unused), or CAF's own
    /// workers, "sharing" (one queue, idle workers block: no polling) or "stealing"
    /// (per-worker queues, idle workers poll before they sleep).
    std::string scheduler = "io";
  } runtime;
};

/// A configuration error that names the offending key; `outpostd` exits with code 2.
class config_error : public std::runtime_error {
public:
  config_error(std::string key, const std::string& what)
      : std::runtime_error(key.empty() ? what : key + ": " + what),
        key_(std::move(key)) {}
  const std::string& key() const noexcept { return key_; }

private:
  std::string key_;
};

/// Parses TOML text. Unknown keys and bad values throw `config_error` naming the key.
daemon_config parse_config(const std::string& text, const std::string& source = "config");

/// Reads and parses a file; an unreadable file is a `config_error` too.
daemon_config load_config(const std::string& path);

const char* to_string(durability d) noexcept;

/// `listen.admin_socket`, or its default under the storage folder.
std::string admin_socket_path(const daemon_config& cfg);

} // namespace outpost::app
