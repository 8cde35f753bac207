#include "protocols/transport/certificates.hpp"

#include "protocols/common/error_category.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/detail/openssl_reason.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace outpost::transport {
namespace {

constexpr long seconds_per_day = 24L * 60 * 60;
constexpr long ca_lifetime = 5 * 365 * seconds_per_day;
constexpr long leaf_lifetime = 365 * seconds_per_day;
// Re-issue the server certificate this long before it expires, so a daemon restarted at any
// time in the last month of its life gets a fresh one before clients start failing.
constexpr long renew_before = 30 * seconds_per_day;
// Certificates are valid from an hour ago: a client whose clock is slightly behind must not
// reject a certificate issued a moment ago as "not yet valid".
constexpr long backdate = 60 * 60;

const char* describe(certificate_errc e) noexcept {
  switch (e) {
    case certificate_errc::invalid_certificate:
      return "invalid certificate";
    case certificate_errc::invalid_key:
      return "invalid private key";
    case certificate_errc::key_mismatch:
      return "private key does not match the certificate";
    case certificate_errc::crypto_failure:
      return "cryptographic operation failed";
  }
  return nullptr;
}

struct openssl_free {
  void operator()(X509* p) const noexcept { X509_free(p); }
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
  void operator()(BIO* p) const noexcept { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const noexcept { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
  void operator()(ASN1_TIME* p) const noexcept { ASN1_TIME_free(p); }
};
using x509_ptr = std::unique_ptr<X509, openssl_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, openssl_free>;
using bio_ptr = std::unique_ptr<BIO, openssl_free>;
using extension_ptr = std::unique_ptr<X509_EXTENSION, openssl_free>;
using bignum_ptr = std::unique_ptr<BIGNUM, openssl_free>;
using asn1_time_ptr = std::unique_ptr<ASN1_TIME, openssl_free>;

using detail::openssl_reason;

std::error_code fail(certificate_errc e, std::string what, std::string& why) {
  why = std::move(what) + ": " + openssl_reason();
  return make_error_code(e);
}

std::error_code fail_errno(int error, const std::string& what, std::string& why) {
  why = what + ": " + std::strerror(error);
  return {error, std::system_category()};
}

// ---- files ----------------------------------------------------------------------------------

/// The whole file, or nullopt when it does not exist; other failures are errors.
result<std::optional<std::string>> read_optional_file(const std::string& path, std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return std::optional<std::string>{};
    }
    return fail_errno(errno, path, why);
  }
  std::string data;
  char buffer[8192];
  for (;;) {
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return fail_errno(error, path, why);
    }
    if (n == 0) {
      break;
    }
    data.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return std::optional<std::string>{std::move(data)};
}

result<std::string> read_file(const std::string& path, std::string& why) {
  auto data = read_optional_file(path, why);
  if (!data) {
    return data.error();
  }
  if (!*data) {
    return fail_errno(ENOENT, path, why);
  }
  return std::move(**data);
}

/// Replaces `path` atomically: readers see the old file or the new one, never a torn one, and a
/// crash leaves at worst a stray temporary file. `mode` is applied exactly (not masked by the
/// umask), before any byte of a key is written.
result<void> write_file_atomic(const std::string& path, const std::string& data, unsigned mode,
                               std::string& why) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return fail_errno(errno, temporary, why);
  }
  auto abandon = [&](int error) {
    ::close(fd);
    ::unlink(temporary.c_str());
    return fail_errno(error, temporary, why);
  };
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    return abandon(errno);
  }
  std::size_t written = 0;
  while (written < data.size()) {
    const auto n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return abandon(errno);
    }
    written += static_cast<std::size_t>(n);
  }
  // Durable before the rename, or a power cut could leave an empty certificate in its place.
  if (::fsync(fd) != 0) {
    return abandon(errno);
  }
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return fail_errno(error, temporary, why);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return fail_errno(error, path, why);
  }
  return ok();
}

/// Creates `dir` with mode 0700 if it is missing (parents with the default mode).
result<void> ensure_private_dir(const std::string& dir, std::string& why) {
  if (dir.empty()) {
    why = "empty directory path";
    return std::make_error_code(std::errc::invalid_argument);
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return fail_errno(ENOTDIR, dir, why);
    }
    return ok();
  }
  if (errno != ENOENT) {
    return fail_errno(errno, dir, why);
  }
  const auto parent = std::filesystem::path{dir}.parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      why = parent.string() + ": " + ec.message();
      return ec;
    }
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail_errno(errno, dir, why);
  }
  // mkdir's mode is masked by the umask; a stricter umask must not leave it unreadable to us,
  // a looser one is already excluded by 0700.
  if (::chmod(dir.c_str(), 0700) != 0) {
    return fail_errno(errno, dir, why);
  }
  return ok();
}

std::string join(const std::string& dir, std::string_view name) {
  std::string path = dir;
  if (path.back() != '/') {
    path += '/';
  }
  path += name;
  return path;
}

// ---- PEM ------------------------------------------------------------------------------------

x509_ptr parse_certificate_pem(const std::string& pem) {
  bio_ptr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
  if (!bio) {
    return nullptr;
  }
  return x509_ptr{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)};
}

pkey_ptr parse_key_pem(const std::string& pem) {
  bio_ptr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
  if (!bio) {
    return nullptr;
  }
  return pkey_ptr{PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr)};
}

std::optional<std::string> bio_contents(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  if (size < 0) {
    return std::nullopt;
  }
  return std::string{data, static_cast<std::size_t>(size)};
}

std::optional<std::string> to_pem(X509* cert) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return std::nullopt;
  }
  return bio_contents(bio.get());
}

std::optional<std::string> to_pem(EVP_PKEY* key) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  if (!bio
      || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return std::nullopt;
  }
  return bio_contents(bio.get());
}

// ---- issuing --------------------------------------------------------------------------------

struct issue_request {
  std::string common_name;
  /// `name:value` extension lines in OpenSSL's config syntax, added in order.
  std::vector<std::pair<int, std::string>> extensions;
  long lifetime = leaf_lifetime; ///< seconds from now
  X509* issuer = nullptr;        ///< null: self-signed
  EVP_PKEY* issuer_key = nullptr;
};

/// The seconds from now until `t` (negative when in the past), or nullopt if unreadable.
std::optional<long> seconds_until(const ASN1_TIME* t) {
  int days = 0;
  int seconds = 0;
  if (ASN1_TIME_diff(&days, &seconds, nullptr, t) != 1) {
    return std::nullopt;
  }
  return static_cast<long>(days) * seconds_per_day + seconds;
}

bool add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  extension_ptr ext{X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str())};
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

/// Issues a certificate for `subject_key` as `request` says; null on failure (OpenSSL's error
/// queue says why).
x509_ptr issue(const issue_request& request, EVP_PKEY* subject_key) {
  x509_ptr cert{X509_new()};
  if (!cert || X509_set_version(cert.get(), 2) != 1) { // 2 = X.509 v3
    return nullptr;
  }
  // RFC 5280 §4.1.2.2: positive, unique per CA, at most 20 octets; 127 random bits.
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) {
    return nullptr;
  }
  serial_bytes[0] &= 0x7F;
  bignum_ptr serial{BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr)};
  if (!serial || !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
    return nullptr;
  }
  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(
          subject, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(request.common_name.c_str()), -1, -1, 0)
      != 1) {
    return nullptr;
  }
  X509* const issuer = request.issuer ? request.issuer : cert.get();
  EVP_PKEY* const signing_key = request.issuer ? request.issuer_key : subject_key;
  long lifetime = request.lifetime;
  if (request.issuer) {
    // A certificate outliving its issuer would fail verification after the issuer expires anyway.
    if (auto left = seconds_until(X509_get0_notAfter(request.issuer))) {
      lifetime = std::min(lifetime, *left);
    }
  }
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1
      || !X509_gmtime_adj(X509_getm_notBefore(cert.get()), -backdate)
      || !X509_gmtime_adj(X509_getm_notAfter(cert.get()), lifetime)
      || X509_set_pubkey(cert.get(), subject_key) != 1) {
    return nullptr;
  }
  for (const auto& [nid, value] : request.extensions) {
    if (!add_extension(cert.get(), issuer, nid, value)) {
      return nullptr;
    }
  }
  if (request.issuer
      && !add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always")) {
    return nullptr;
  }
  if (X509_sign(cert.get(), signing_key, EVP_sha256()) <= 0) {
    return nullptr;
  }
  return cert;
}

pkey_ptr generate_key() {
  // P-256: what IoT Edge's quickstart uses for its certificates, and ~10x cheaper than RSA-2048
  // per TLS handshake, which matters when thousands of devices reconnect at once.
  return pkey_ptr{EVP_EC_gen("P-256")};
}

struct key_and_cert {
  pkey_ptr key;
  x509_ptr cert;
};

/// Writes the key and then the certificate, both 0600 (the certificate is public, but it lives
/// beside keys in a private folder, and whoever needs it gets it from outpostd). The key goes
/// first: a crash between the two leaves a certificate that does not match its key, which the next
/// run detects and re-issues, never a certificate whose key is lost.
result<void> write_pair(const key_and_cert& pair, const std::string& cert_path,
                        const std::string& key_path, std::string& why) {
  const auto key_pem = to_pem(pair.key.get());
  const auto cert_pem = to_pem(pair.cert.get());
  if (!key_pem || !cert_pem) {
    return fail(certificate_errc::crypto_failure, "PEM encoding", why);
  }
  if (auto written = write_file_atomic(key_path, *key_pem, 0600, why); !written) {
    return written;
  }
  return write_file_atomic(cert_path, *cert_pem, 0600, why);
}

// ---- hostnames ------------------------------------------------------------------------------

bool is_ip_literal(const std::string& host) {
  unsigned char buffer[16];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1
         || ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

/// DNS names as IoT Edge accepts them for `hostname`. Also keeps the name from smuggling
/// separators into the SAN written in OpenSSL's config syntax (`DNS:a,IP:...`).
bool is_dns_name(const std::string& host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  for (const char c : host) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                         || c == '-' || c == '.' || c == '_';
    if (!allowed) {
      return false;
    }
  }
  return true;
}

bool certificate_names(X509* cert, const std::string& host) {
  if (is_ip_literal(host)) {
    return X509_check_ip_asc(cert, host.c_str(), 0) == 1;
  }
  // The SAN only: the CN fallback is deprecated and clients (Node, .NET) ignore it too.
  return X509_check_host(cert, host.c_str(), host.size(), X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
                         nullptr)
         == 1;
}

std::string server_san(const std::string& host) {
  std::string san = is_ip_literal(host) ? "IP:" + host : "DNS:" + host;
  if (host != "localhost") {
    san += ",DNS:localhost";
  }
  if (host != "127.0.0.1") {
    san += ",IP:127.0.0.1";
  }
  return san;
}

/// CN is limited to 64 characters (RFC 5280 ub-common-name); the SAN carries the real names.
std::string fit_common_name(std::string name) {
  if (name.size() > 64) {
    name.resize(64);
  }
  return name;
}

// ---- loading existing files -----------------------------------------------------------------

/// Reads a certificate and its key. nullopt pair members when the files do not exist; errors
/// for files that exist but are unreadable or malformed.
struct loaded_pair {
  bool cert_exists = false;
  bool key_exists = false;
  x509_ptr cert; // null when missing or malformed
  pkey_ptr key;  // null when missing or malformed
};

result<loaded_pair> load_pair(const std::string& cert_path, const std::string& key_path,
                              std::string& why) {
  loaded_pair pair;
  auto cert_pem = read_optional_file(cert_path, why);
  if (!cert_pem) {
    return cert_pem.error();
  }
  auto key_pem = read_optional_file(key_path, why);
  if (!key_pem) {
    return key_pem.error();
  }
  if (*cert_pem) {
    pair.cert_exists = true;
    pair.cert = parse_certificate_pem(**cert_pem);
  }
  if (*key_pem) {
    pair.key_exists = true;
    pair.key = parse_key_pem(**key_pem);
  }
  ERR_clear_error(); // parse failures are reported by the callers, with their own context
  return pair;
}

/// The existing edge CA, a new one when there is none (or it has expired), or an error when the
/// files exist but cannot be used (never overwritten: clients may trust that CA).
result<key_and_cert> load_or_create_ca(const std::string& dir, const std::string& hostname,
                                       std::string& why) {
  const auto cert_path = join(dir, edge_ca_cert_file);
  const auto key_path = join(dir, edge_ca_key_file);
  auto existing = load_pair(cert_path, key_path, why);
  if (!existing) {
    return existing.error();
  }
  if (existing->cert_exists) {
    if (!existing->cert) {
      why = cert_path + ": not a PEM certificate";
      return make_error_code(certificate_errc::invalid_certificate);
    }
    if (!existing->key_exists) {
      return fail_errno(ENOENT, key_path + " (key of the existing " + cert_path + ")", why);
    }
    if (!existing->key) {
      why = key_path + ": not a PEM private key";
      return make_error_code(certificate_errc::invalid_key);
    }
    if (X509_check_private_key(existing->cert.get(), existing->key.get()) != 1) {
      return fail(certificate_errc::key_mismatch, key_path + " does not match " + cert_path, why);
    }
    if (X509_check_ca(existing->cert.get()) < 1) {
      why = cert_path + ": not a CA certificate";
      return make_error_code(certificate_errc::invalid_certificate);
    }
    const auto left = seconds_until(X509_get0_notAfter(existing->cert.get()));
    if (left && *left > 0) {
      return key_and_cert{std::move(existing->key), std::move(existing->cert)};
    }
    // Expired: nothing it signs can verify any more, so a new CA is the only way forward.
  }
  // No CA yet (or only a key left by a crash before its certificate was written): a new one.
  key_and_cert ca;
  ca.key = generate_key();
  if (!ca.key) {
    return fail(certificate_errc::crypto_failure, "generating the edge CA key", why);
  }
  issue_request request;
  request.common_name = fit_common_name("Outpost Edge CA " + hostname);
  request.lifetime = ca_lifetime;
  request.extensions = {{NID_basic_constraints, "critical,CA:TRUE"},
                        {NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"},
                        {NID_subject_key_identifier, "hash"}};
  ca.cert = issue(request, ca.key.get());
  if (!ca.cert) {
    return fail(certificate_errc::crypto_failure, "issuing the edge CA certificate", why);
  }
  if (auto written = write_pair(ca, cert_path, key_path, why); !written) {
    return written.error();
  }
  return ca;
}

/// Whether the server certificate at hand can be served for `hostname` for at least
/// `renew_before` more, signed by `ca`.
bool server_certificate_usable(const loaded_pair& server, const key_and_cert& ca,
                               const std::string& hostname) {
  if (!server.cert || !server.key) {
    return false;
  }
  const bool usable = X509_check_private_key(server.cert.get(), server.key.get()) == 1
                      && X509_check_issued(ca.cert.get(), server.cert.get()) == X509_V_OK
                      && X509_verify(server.cert.get(), ca.key.get()) == 1 &&
                      [&] {
                        const auto left = seconds_until(X509_get0_notAfter(server.cert.get()));
                        return left && *left > renew_before;
                      }()
                      && certificate_names(server.cert.get(), hostname);
  ERR_clear_error(); // a failed check is an answer here, not an error
  return usable;
}

std::string file_name_for(const std::string& common_name) {
  std::string name = common_name;
  for (char& c : name) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                         || c == '-' || c == '.' || c == '_';
    if (!allowed) {
      c = '_';
    }
  }
  // "." and ".." would name directories.
  if (name.find_first_not_of('.') == std::string::npos) {
    name = "_" + name;
  }
  return name;
}

} // namespace

const std::error_category& certificate_category() noexcept {
  static const enum_category<certificate_errc> instance{"outpost.transport.certificate", describe,
                                                        "unknown certificate error"};
  return instance;
}

std::error_code make_error_code(certificate_errc e) noexcept {
  return {static_cast<int>(e), certificate_category()};
}

result<tls_files> ensure_edge_ca(const std::string& dir, const std::string& hostname,
                                 std::string& why) {
  ERR_clear_error();
  if (!is_ip_literal(hostname) && !is_dns_name(hostname)) {
    why = "hostname \"" + hostname + "\" is neither a DNS name nor an IP address";
    return std::make_error_code(std::errc::invalid_argument);
  }
  if (auto made = ensure_private_dir(dir, why); !made) {
    return made.error();
  }
  auto ca = load_or_create_ca(dir, hostname, why);
  if (!ca) {
    return ca.error();
  }
  tls_files files{join(dir, server_cert_file), join(dir, server_key_file),
                  join(dir, edge_ca_cert_file)};
  auto server = load_pair(files.cert, files.key, why);
  if (!server) {
    return server.error();
  }
  if (server_certificate_usable(*server, *ca, hostname)) {
    return files;
  }
  key_and_cert issued;
  issued.key = generate_key();
  if (!issued.key) {
    return fail(certificate_errc::crypto_failure, "generating the server key", why);
  }
  issue_request request;
  request.common_name = hostname.size() <= 64 ? hostname : std::string{"outpost server"};
  request.issuer = ca->cert.get();
  request.issuer_key = ca->key.get();
  request.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                        {NID_key_usage, "critical,digitalSignature,keyAgreement"},
                        {NID_ext_key_usage, "serverAuth"},
                        {NID_subject_key_identifier, "hash"},
                        {NID_subject_alt_name, server_san(hostname)}};
  issued.cert = issue(request, issued.key.get());
  if (!issued.cert) {
    return fail(certificate_errc::crypto_failure, "issuing the server certificate", why);
  }
  if (auto written = write_pair(issued, files.cert, files.key, why); !written) {
    return written.error();
  }
  return files;
}

result<std::string> certificate_thumbprint(std::string_view pem_or_der) {
  x509_ptr cert;
  if (pem_or_der.find("-----BEGIN") != std::string_view::npos) {
    cert = parse_certificate_pem(std::string{pem_or_der});
  } else {
    const auto* p = reinterpret_cast<const unsigned char*>(pem_or_der.data());
    cert.reset(d2i_X509(nullptr, &p, static_cast<long>(pem_or_der.size())));
  }
  if (!cert) {
    ERR_clear_error();
    return make_error_code(certificate_errc::invalid_certificate);
  }
  // Hash the DER encoding (as received, OpenSSL keeps it), whatever form the input had.
  unsigned char* der = nullptr;
  const int size = i2d_X509(cert.get(), &der);
  if (size <= 0) {
    ERR_clear_error();
    return make_error_code(certificate_errc::invalid_certificate);
  }
  std::string thumbprint = hex_upper(
      sha256(std::string_view{reinterpret_cast<const char*>(der), static_cast<std::size_t>(size)}));
  OPENSSL_free(der);
  return thumbprint;
}

result<issued_certificate> issue_server_certificate(const tls_files& ca,
                                                    const std::string& common_name,
                                                    const std::string& extra_dns, long lifetime,
                                                    std::string& why) {
  ERR_clear_error();
  if (common_name.empty() || common_name.size() > 64) {
    why = "common name must have 1 to 64 characters";
    return std::make_error_code(std::errc::invalid_argument);
  }
  auto cert_pem = read_file(ca.cert, why);
  if (!cert_pem) {
    return cert_pem.error();
  }
  auto key_pem = read_file(ca.key, why);
  if (!key_pem) {
    return key_pem.error();
  }
  key_and_cert issuer;
  issuer.cert = parse_certificate_pem(*cert_pem);
  issuer.key = parse_key_pem(*key_pem);
  if (!issuer.cert || !issuer.key) {
    return fail(certificate_errc::invalid_certificate, "the edge CA " + ca.cert, why);
  }
  key_and_cert leaf;
  leaf.key = generate_key();
  if (!leaf.key) {
    return fail(certificate_errc::crypto_failure, "generating the server key", why);
  }
  issue_request request;
  request.common_name = common_name;
  request.issuer = issuer.cert.get();
  request.issuer_key = issuer.key.get();
  request.lifetime = std::clamp(lifetime, 60L, leaf_lifetime);
  std::string san = is_ip_literal(common_name) ? "IP:" + common_name : "DNS:" + common_name;
  if (!extra_dns.empty() && extra_dns != common_name) {
    san += ",DNS:" + extra_dns;
  }
  request.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                        {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
                        {NID_ext_key_usage, "serverAuth"},
                        {NID_subject_key_identifier, "hash"},
                        {NID_subject_alt_name, san}};
  leaf.cert = issue(request, leaf.key.get());
  if (!leaf.cert) {
    return fail(certificate_errc::crypto_failure, "issuing the server certificate", why);
  }
  auto leaf_pem = to_pem(leaf.cert.get());
  auto leaf_key = to_pem(leaf.key.get());
  auto ca_pem = to_pem(issuer.cert.get());
  if (!leaf_pem || !leaf_key || !ca_pem) {
    return fail(certificate_errc::crypto_failure, "writing PEM", why);
  }
  auto left = seconds_until(X509_get0_notAfter(leaf.cert.get()));
  return issued_certificate{*leaf_pem + *ca_pem, *leaf_key, left.value_or(0)};
}

result<tls_files> make_client_certificate(const std::string& dir, const std::string& common_name,
                                          const tls_files* signer, std::string& why) {
  ERR_clear_error();
  if (common_name.empty() || common_name.size() > 64) {
    why = "common name must have 1 to 64 characters";
    return std::make_error_code(std::errc::invalid_argument);
  }
  if (auto made = ensure_private_dir(dir, why); !made) {
    return made.error();
  }
  key_and_cert issuer;
  if (signer) {
    auto cert_pem = read_file(signer->cert, why);
    if (!cert_pem) {
      return cert_pem.error();
    }
    auto key_pem = read_file(signer->key, why);
    if (!key_pem) {
      return key_pem.error();
    }
    issuer.cert = parse_certificate_pem(*cert_pem);
    if (!issuer.cert) {
      return fail(certificate_errc::invalid_certificate, signer->cert, why);
    }
    issuer.key = parse_key_pem(*key_pem);
    if (!issuer.key) {
      return fail(certificate_errc::invalid_key, signer->key, why);
    }
    if (X509_check_private_key(issuer.cert.get(), issuer.key.get()) != 1) {
      return fail(certificate_errc::key_mismatch, signer->key + " does not match " + signer->cert,
                  why);
    }
  }
  key_and_cert client;
  client.key = generate_key();
  if (!client.key) {
    return fail(certificate_errc::crypto_failure, "generating the client key", why);
  }
  issue_request request;
  request.common_name = common_name;
  request.issuer = issuer.cert.get();
  request.issuer_key = issuer.key.get();
  request.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                        {NID_key_usage, "critical,digitalSignature"},
                        {NID_ext_key_usage, "clientAuth"},
                        {NID_subject_key_identifier, "hash"}};
  client.cert = issue(request, client.key.get());
  if (!client.cert) {
    return fail(certificate_errc::crypto_failure, "issuing the client certificate", why);
  }
  const auto name = file_name_for(common_name);
  tls_files files{join(dir, name + ".pem"), join(dir, name + ".key.pem"), {}};
  files.ca = signer ? signer->cert : files.cert;
  if (auto written = write_pair(client, files.cert, files.key, why); !written) {
    return written.error();
  }
  return files;
}

} // namespace outpost::transport
