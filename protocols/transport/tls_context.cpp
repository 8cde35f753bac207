#include "protocols/transport/tls_context.hpp"

#include "protocols/transport/crypto.hpp"
#include "protocols/transport/detail/openssl_reason.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>

#include <sys/socket.h>
#include <sys/stat.h>

namespace outpost::transport {
namespace {

// Mozilla's "intermediate" TLS 1.2 list: forward secrecy and AEAD only. Our generated server key
// is EC, so the ECDSA suites are the ones negotiated; the RSA ones serve operators' RSA keys.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

constexpr unsigned char session_id_context[] = "outpost";

using detail::openssl_reason;

/// The SSL ex-data slot where the verify callback marks a chain that failed verification.
int verify_failed_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

/// Records a failed chain and lets the handshake go on: a self-signed client certificate is a
/// legitimate IoT Hub credential (matched by thumbprint later), and a client with a bad one must
/// get a protocol-level refusal (CONNACK 5), not a TLS alert it cannot explain.
int record_verification(int preverify_ok, X509_STORE_CTX* store) {
  if (preverify_ok != 1) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (ssl) {
      SSL_set_ex_data(ssl, verify_failed_index(), reinterpret_cast<void*>(std::uintptr_t{1}));
    }
  }
  return 1;
}

// ---- a socket BIO that cannot raise SIGPIPE --------------------------------------------------
// OpenSSL's own socket BIO writes with write(2): on a connection the peer has reset that raises
// SIGPIPE, which kills the daemon unless every embedding program ignores it. This BIO sends
// with MSG_NOSIGNAL instead. The fd is stored in the BIO's data pointer; the BIO never closes it.

int fd_of(BIO* bio) {
  return static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(bio)));
}

int bio_write(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  for (;;) {
    const auto n = ::send(fd_of(bio), data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
    if (n >= 0) {
      return static_cast<int>(n);
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_write(bio);
    }
    return -1;
  }
}

int bio_read(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  for (;;) {
    const auto n = ::recv(fd_of(bio), data, static_cast<std::size_t>(size), 0);
    if (n >= 0) {
      return static_cast<int>(n); // 0: the peer closed
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_read(bio);
    }
    return -1;
  }
}

int bio_puts(BIO* bio, const char* text) {
  return bio_write(bio, text, static_cast<int>(std::strlen(text)));
}

long bio_ctrl(BIO*, int command, long, void*) {
  // Writes go straight to the socket, so there is nothing to flush; every other control
  // (kTLS, datagram, pending counts) is "not supported", which OpenSSL handles.
  return command == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int bio_destroy(BIO*) {
  return 1; // the fd belongs to the socket object of the connection
}

const BIO_METHOD* nosignal_socket_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
                                 "outpost socket");
    if (m) {
      BIO_meth_set_write(m, bio_write);
      BIO_meth_set_read(m, bio_read);
      BIO_meth_set_puts(m, bio_puts);
      BIO_meth_set_ctrl(m, bio_ctrl);
      BIO_meth_set_create(m, bio_create);
      BIO_meth_set_destroy(m, bio_destroy);
    }
    return m; // lives as long as the process: BIOs may be freed during static destruction
  }();
  return method;
}

std::error_code file_error(const std::string& path, std::string& why) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int error = errno;
    why = path + ": " + std::strerror(error);
    return {error, std::system_category()};
  }
  return {};
}

struct context_deleter {
  void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};

/// A certificate file without its chain makes OpenSSL build the chain from the trust store in
/// every handshake (X509_verify_cert, its signatures checked: 14% of the hub's CPU in a TLS
/// connect storm). Built once here, the same certificates go out: the issuers the store has,
/// as far as it reaches, or the leaf alone.
std::error_code build_chain_once(SSL_CTX* ctx, const std::string& cert, std::string& why) {
  STACK_OF(X509)* chain = nullptr;
  SSL_CTX_get0_chain_certs(ctx, &chain);
  STACK_OF(X509)* extra = nullptr;
  SSL_CTX_get_extra_chain_certs_only(ctx, &extra);
  if (sk_X509_num(chain) > 0 || sk_X509_num(extra) > 0) {
    return {};
  }
  if (SSL_CTX_build_cert_chain(ctx,
                               SSL_BUILD_CHAIN_FLAG_IGNORE_ERROR | SSL_BUILD_CHAIN_FLAG_CLEAR_ERROR)
      <= 0) {
    why = "building the chain of " + cert + ": " + openssl_reason();
    return make_error_code(certificate_errc::invalid_certificate);
  }
  return {};
}

} // namespace

result<std::shared_ptr<tls_server_context>> tls_server_context::create(const tls_files& files,
                                                                       bool request_client_cert,
                                                                       std::string& why) {
  ERR_clear_error();
  for (const auto* path : {&files.cert, &files.key}) {
    if (path->empty()) {
      why = "TLS needs a certificate and a key file";
      return std::make_error_code(std::errc::invalid_argument);
    }
  }
  for (const auto* path : {&files.cert, &files.key, &files.ca}) {
    if (!path->empty()) {
      if (auto ec = file_error(*path, why)) {
        return ec;
      }
    }
  }
  std::unique_ptr<SSL_CTX, context_deleter> ctx{SSL_CTX_new(TLS_server_method())};
  if (!ctx || nosignal_socket_method() == nullptr) {
    why = "creating the TLS context: " + openssl_reason();
    return std::make_error_code(std::errc::not_enough_memory);
  }
  auto fail = [&](certificate_errc e, const std::string& what) -> std::error_code {
    why = what + ": " + openssl_reason();
    return make_error_code(e);
  };
  // TLS 1.0/1.1 are deprecated (RFC 8996); IoT Hub itself refuses them.
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1
      || SSL_CTX_set_cipher_list(ctx.get(), tls12_ciphers) != 1) {
    return fail(certificate_errc::crypto_failure, "configuring the TLS versions and ciphers");
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                                     | SSL_OP_CIPHER_SERVER_PREFERENCE
                                     // Devices often drop TCP without close_notify; MQTT and
                                     // AMQP frame their own data, so truncation is harmless.
                                     | SSL_OP_IGNORE_UNEXPECTED_EOF);
  // RELEASE_BUFFERS frees OpenSSL's 16 KiB read and write buffers while a connection is idle,
  // the largest part of an idle TLS connection's memory. PARTIAL_WRITE and MOVING_WRITE_BUFFER
  // let the writer retry a blocked SSL_write from a freshly gathered buffer.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE
                                  | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Resumption by stateless tickets only: a server-side cache would keep a session (with the
  // client's certificate) per client for hours. One ticket, not OpenSSL's two: a device holds one
  // connection, and each ticket costs the handshake a session encoded, encrypted and sent
  // (10k TLS connects: 387 -> 350 µs of hub CPU each).
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx.get(), 1);
  // Required for resumption whenever client certificates are requested.
  SSL_CTX_set_session_id_context(ctx.get(), session_id_context, sizeof session_id_context - 1);

  if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert.c_str()) != 1) {
    return fail(certificate_errc::invalid_certificate, files.cert);
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    // OpenSSL checks the key against the certificate here already.
    const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
    return mismatch
               ? fail(certificate_errc::key_mismatch, files.key + " does not match " + files.cert)
               : fail(certificate_errc::invalid_key, files.key);
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return fail(certificate_errc::key_mismatch, files.key + " does not match " + files.cert);
  }
  if (!files.ca.empty()
      && SSL_CTX_load_verify_locations(ctx.get(), files.ca.c_str(), nullptr) != 1) {
    return fail(certificate_errc::invalid_certificate, files.ca);
  }
  if (auto ec = build_chain_once(ctx.get(), files.cert, why)) {
    return ec;
  }
  if (request_client_cert) {
    // SSL_VERIFY_PEER without FAIL_IF_NO_PEER_CERT: asked, optional. No CA names are sent in
    // the CertificateRequest (no SSL_CTX_set_client_CA_list): some client stacks would then
    // withhold a self-signed certificate that is not issued by one of them.
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, record_verification);
  }
  verify_failed_index(); // allocate the slot now, not racing on the first handshake
  return std::shared_ptr<tls_server_context>{new tls_server_context{ctx.release()}};
}

tls_server_context::~tls_server_context() {
  SSL_CTX_free(context_);
}

ssl_st* tls_server_context::new_connection(int fd) const {
  SSL* ssl = SSL_new(context_);
  if (!ssl) {
    ERR_clear_error();
    return nullptr;
  }
  BIO* bio = BIO_new(nosignal_socket_method());
  if (!bio) {
    ERR_clear_error();
    SSL_free(ssl);
    return nullptr;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  SSL_set_bio(ssl, bio, bio); // one BIO both ways: the SSL takes its single reference
  SSL_set_accept_state(ssl);
  return ssl;
}

std::optional<peer_certificate> tls_server_context::peer_certificate_of(ssl_st* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (!cert) {
    return std::nullopt;
  }
  peer_certificate peer;
  unsigned char* der = nullptr;
  const int size = i2d_X509(cert, &der);
  if (size > 0) {
    peer.der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(size));
    OPENSSL_free(der);
  }
  peer.thumbprint = hex_upper(sha256(peer.der));
  const X509_NAME* subject = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index >= 0) {
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int length = ASN1_STRING_to_UTF8(&utf8, value);
    if (length >= 0) {
      peer.subject_cn.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
      OPENSSL_free(utf8);
    }
  }
  // On a resumed session no callback ran; the verify result stored with the session says it.
  peer.chain_verified = SSL_get_ex_data(ssl, verify_failed_index()) == nullptr
                        && SSL_get_verify_result(ssl) == X509_V_OK;
  ERR_clear_error();
  return peer;
}

result<std::shared_ptr<tls_client_context>> tls_client_context::create(
    const std::string& trust_bundle, std::string& why) {
  ERR_clear_error();
  if (!trust_bundle.empty()) {
    if (auto ec = file_error(trust_bundle, why)) {
      return ec;
    }
  }
  std::unique_ptr<SSL_CTX, context_deleter> ctx{SSL_CTX_new(TLS_client_method())};
  if (!ctx || nosignal_socket_method() == nullptr) {
    why = "creating the TLS context: " + openssl_reason();
    return std::make_error_code(std::errc::not_enough_memory);
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  const int loaded = trust_bundle.empty()
                         ? SSL_CTX_set_default_verify_paths(ctx.get())
                         : SSL_CTX_load_verify_locations(ctx.get(), trust_bundle.c_str(), nullptr);
  if (loaded != 1) {
    why = (trust_bundle.empty() ? std::string{"the system's CAs"} : trust_bundle) + ": "
          + openssl_reason();
    return make_error_code(certificate_errc::invalid_certificate);
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  return std::shared_ptr<tls_client_context>{new tls_client_context{ctx.release()}};
}

tls_client_context::~tls_client_context() {
  SSL_CTX_free(context_);
}

ssl_st* tls_client_context::new_connection(int fd, const std::string& server_name) const {
  SSL* ssl = SSL_new(context_);
  BIO* bio = ssl ? BIO_new(nosignal_socket_method()) : nullptr;
  if (!bio) {
    ERR_clear_error();
    SSL_free(ssl);
    return nullptr;
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
  SSL_set_bio(ssl, bio, bio);
  auto* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str()) != 1) {
    ERR_clear_error(); // not an IP literal: a DNS name, also sent as SNI
    SSL_set_tlsext_host_name(ssl, server_name.c_str());
    X509_VERIFY_PARAM_set1_host(param, server_name.c_str(), server_name.size());
  }
  SSL_set_connect_state(ssl);
  return ssl;
}

} // namespace outpost::transport
