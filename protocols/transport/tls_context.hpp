#pragma once

#include "protocols/common/result.hpp"
#include "protocols/transport/certificates.hpp"

#include <memory>
#include <optional>
#include <string>

// OpenSSL's types, declared so this header needs no OpenSSL include (SSL_CTX and SSL).
struct ssl_ctx_st;
struct ssl_st;

namespace outpost::transport {

/// The certificate a TLS client presented, as the identity layer needs it (IoT Hub's X.509
/// authentication: a self-signed certificate is matched by thumbprint, a CA-signed one by its
/// chain and CN = device id).
struct peer_certificate {
  std::string thumbprint; ///< SHA-256 of `der`, upper-case hex (see `certificate_thumbprint`)
  std::string subject_cn; ///< the subject's common name (UTF-8), empty if it has none
  /// Whether the certificate chains to the listener's CA bundle (`tls_files::ca`) and passed
  /// OpenSSL's checks (validity period, extended key usage clientAuth if present). False for
  /// self-signed certificates and whenever no CA bundle is configured.
  bool chain_verified = false;
  std::string der; ///< the client's leaf certificate, DER
};

/// The server side of TLS for this library's listeners (`stream_server`; later WebSocket and
/// HTTPS): one OpenSSL context built from PEM files, shared by every connection of a listener.
///
/// Policy: TLS 1.2 minimum; TLS 1.2 cipher suites limited to ECDHE with AES-GCM or
/// ChaCha20-Poly1305 (TLS 1.3 suites are OpenSSL's defaults, all AEAD); no compression, no
/// renegotiation; stateless session tickets and no server-side session cache (memory stays flat
/// however many clients resume). With `request_client_cert`, clients are asked for a certificate
/// but may send none; the chain is checked against `files.ca` and the result recorded
/// (`peer_certificate::chain_verified`), never enforced: self-signed client certificates are a
/// valid IoT Hub authentication, decided above this layer by thumbprint.
///
/// Immutable once created; thread-safe. Owned by shared_ptr: every connection's SSL object holds
/// a reference to the OpenSSL context, so it outlives whoever created it as long as needed.
class tls_server_context {
public:
  /// Loads `files.cert` (leaf first, optionally followed by its chain), `files.key` and, unless
  /// empty, the CA bundle `files.ca`. Errors: `certificate_errc` (malformed file, key mismatch),
  /// system errors for unreadable files; `why` says which file and OpenSSL's reason.
  static result<std::shared_ptr<tls_server_context>> create(const tls_files& files,
                                                            bool request_client_cert,
                                                            std::string& why);

  ~tls_server_context();
  tls_server_context(const tls_server_context&) = delete;
  tls_server_context& operator=(const tls_server_context&) = delete;

  /// The OpenSSL context (SSL_CTX*); for this library's .cpp files.
  ssl_ctx_st* native_handle() const noexcept { return context_; }

  /// For this library's listeners: a new server-side SSL (owned by the caller, `SSL_free`) doing
  /// its I/O directly on the non-blocking connected socket `fd`, which it does not own and never
  /// closes. Writes use `MSG_NOSIGNAL`, so a peer that vanished cannot raise SIGPIPE. Null when
  /// OpenSSL is out of memory.
  ssl_st* new_connection(int fd) const;

  /// After a completed handshake on an SSL from `new_connection`: the client's certificate, or
  /// nullopt when it sent none.
  static std::optional<peer_certificate> peer_certificate_of(ssl_st* ssl);

private:
  explicit tls_server_context(ssl_ctx_st* context) : context_(context) {}

  ssl_ctx_st* context_; // owned; SSL objects hold their own references
};

/// The client side of TLS for this library's outbound connections (`stream_client`: the
/// upstream link to a parent). TLS 1.2 minimum, the peer's chain verified against a trust
/// bundle and its name against the name asked for (DNS name, or an IP address literal); a
/// failure ends the handshake with OpenSSL's reason. Immutable once created; thread-safe.
class tls_client_context {
public:
  /// Loads the CA certificates of `trust_bundle` (PEM). An empty path trusts the system's
  /// default CAs. Errors: `certificate_errc::invalid_certificate`, system errors for an
  /// unreadable file; `why` says which.
  static result<std::shared_ptr<tls_client_context>> create(const std::string& trust_bundle,
                                                            std::string& why);
  ~tls_client_context();
  tls_client_context(const tls_client_context&) = delete;
  tls_client_context& operator=(const tls_client_context&) = delete;

  /// A new client-side SSL (owned by the caller, `SSL_free`) on the connected non-blocking
  /// socket `fd` (not owned), sending SNI `server_name` (unless it is an IP literal) and
  /// requiring the peer's certificate to carry it. Null when OpenSSL is out of memory.
  ssl_st* new_connection(int fd, const std::string& server_name) const;

private:
  explicit tls_client_context(ssl_ctx_st* context) : context_(context) {}
  ssl_ctx_st* context_;
};

} // namespace outpost::transport
