#pragma once

#include "protocols/common/result.hpp"

#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace outpost::transport {

/// Paths of PEM files: a certificate (a leaf, optionally followed by its chain), its private key,
/// and the CA bundle that certificates of the other side are checked against. Plain paths, no
/// file is opened by this struct.
struct tls_files {
  std::string cert;
  std::string key;
  std::string ca;
};

/// Why a certificate operation failed when no system error applies. File errors are reported
/// with the system's error codes (e.g. `std::errc::permission_denied`), a malformed argument
/// (empty hostname or common name) with `std::errc::invalid_argument`.
enum class certificate_errc {
  invalid_certificate = 1, ///< not a parseable PEM or DER X.509 certificate (or not a CA)
  invalid_key,             ///< not a parseable PEM private key
  key_mismatch,            ///< the private key does not belong to the certificate
  crypto_failure,          ///< OpenSSL failed to generate a key or to sign
};

const std::error_category& certificate_category() noexcept;
std::error_code make_error_code(certificate_errc e) noexcept;

/// File names `ensure_edge_ca` uses under its directory.
inline constexpr std::string_view edge_ca_cert_file = "edge-ca.pem";
inline constexpr std::string_view edge_ca_key_file = "edge-ca.key.pem";
inline constexpr std::string_view server_cert_file = "server.pem";
inline constexpr std::string_view server_key_file = "server.key.pem";

/// IoT Edge's quickstart CA experience: makes sure `dir` holds an edge CA and a server
/// certificate for `hostname` signed by it, and returns their paths (`cert` = server certificate,
/// `key` = its key, `ca` = the edge CA certificate, which clients must trust; `outpost ca` prints
/// it). The CA's key is `dir/edge-ca.key.pem` (the workload service signs module certificates
/// with it).
///
/// - `dir` is created with mode 0700 if missing (its parents with the default mode); keys are
///   written 0600, certificates 0644, each atomically (temporary file + rename).
/// - Edge CA: EC P-256, CN "Outpost Edge CA <hostname>", basicConstraints critical CA:TRUE,
///   keyUsage keyCertSign + cRLSign, valid 5 years.
/// - Server certificate: EC P-256, CN = hostname (when it fits in 64 bytes), SAN DNS:hostname (or
///   IP:hostname for an IP literal), DNS:localhost, IP:127.0.0.1; extendedKeyUsage serverAuth;
///   valid 1 year, never beyond the CA's own expiry.
/// - Idempotent: existing files are reused. The server certificate (with a new key) is re-issued
///   by the same CA when it is missing or unreadable, expires within 30 days, lacks `hostname` in
///   its SAN, or was not signed by this CA. An existing CA that cannot be read, or whose key does
///   not match, is an error (never overwritten); a CA that has already expired is replaced (its
///   certificates are useless anyway, and clients must fetch the new CA).
///
/// Errors: see `certificate_errc`, plus system errors for files; `why` then says what failed
/// (file and OpenSSL's reason). Blocking file I/O and key generation (a few ms): call it at
/// start-up or from a blocking-capable thread. Thread-safe, but two concurrent calls for the same
/// `dir` may both issue a certificate (the last rename wins; both results are valid).
result<tls_files> ensure_edge_ca(const std::string& dir, const std::string& hostname,
                                 std::string& why);

/// SHA-256 thumbprint of a certificate, upper-case hex without separators, as IoT Hub shows it
/// (`x509Thumbprint`). `pem_or_der` is PEM text (the first certificate is used) or DER bytes.
/// Error: `certificate_errc::invalid_certificate`. Thread-safe.
result<std::string> certificate_thumbprint(std::string_view pem_or_der);

/// For tests and tools: a client certificate (EC P-256, CN = `common_name`, extendedKeyUsage
/// clientAuth, 1 year) with a new key, self-signed when `signer` is null, otherwise signed by the
/// CA whose PEM certificate and key are `signer->cert` and `signer->key`. Written under `dir`
/// (created 0700 if missing) as `<name>.pem` and `<name>.key.pem` (0600), `<name>` being
/// `common_name` with every character outside [A-Za-z0-9._-] replaced by '_'; existing files are
/// replaced. Returns the paths; `ca` is the signer's certificate, or the certificate itself when
/// self-signed. Errors as for `ensure_edge_ca`.
result<tls_files> make_client_certificate(const std::string& dir, const std::string& common_name,
                                          const tls_files* signer, std::string& why);

/// A certificate and its key in memory, PEM.
struct issued_certificate {
  std::string cert_pem; ///< the leaf followed by the issuer's certificate
  std::string key_pem;
  long lifetime = 0; ///< seconds it is valid from now
};

/// The workload API's `certificate/server`: a server certificate (EC P-256, CN = `common_name`,
/// SAN = the common name as DNS or IP plus `extra_dns`, extendedKeyUsage serverAuth) signed by
/// the CA in `ca.cert`/`ca.key`, valid for `lifetime` seconds (at most one year, never beyond
/// the CA). Errors as for `make_client_certificate`.
result<issued_certificate> issue_server_certificate(const tls_files& ca,
                                                    const std::string& common_name,
                                                    const std::string& extra_dns, long lifetime,
                                                    std::string& why);

} // namespace outpost::transport

template <>
struct std::is_error_code_enum<outpost::transport::certificate_errc> : std::true_type {};
