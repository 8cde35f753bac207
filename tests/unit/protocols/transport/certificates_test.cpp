#include "protocols/transport/certificates.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <sys/stat.h>

namespace outpost::transport {
namespace {

// Generated with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 ...`; the
// thumbprint is `openssl x509 -noout -fingerprint -sha256` without the colons.
constexpr const char* known_pem = R"(-----BEGIN CERTIFICATE-----
MIIBhDCCASugAwIBAgIUBEEM1agrTEaIody/WwBg9r4m+3swCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMa25vd24tZGV2aWNlMCAXDTI2MTEyNjE1NDAwOFoYDzIxMjYx
MTAyMTU0MDA4WjAXMRUwEwYDVQQDDAxrbm93bi1kZXZpY2UwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAATKNxcxaCHtnnHu0dHWaFUaIz6wItZNK8mTO9Q3j3sOw7/M
2bHzXklhnNJqsd8HCs/VklmM11pK/lSxa9A6Y7eao1MwUTAdBgNVHQ4EFgQUQo04
+te+aSC/aZSPp23c4WjC9N8wHwYDVR0jBBgwFoAUQo04+te+aSC/aZSPp23c4WjC
9N8wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiAsyON4jfkq1j6r
Pyfvq2r5vZBMWhln7NeJ+19EYP57UwIgCfe4M6b7U92DRBWbqFS4tLq7EImIFOu/
Mn/JVUHKPkM=
-----END CERTIFICATE-----
)";
constexpr const char* known_thumbprint =
    "F61960076D23B9A1008C1FDD75BC4F6B0971543481A2556430014FB9D3652E44";

struct x509_free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, x509_free>;

std::string read_text(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << text;
}

x509_ptr load_cert(const std::string& path) {
  const auto pem = read_text(path);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  x509_ptr cert{PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)};
  BIO_free(bio);
  return cert;
}

pkey_ptr load_key(const std::string& path) {
  const auto pem = read_text(path);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  pkey_ptr key{PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr)};
  BIO_free(bio);
  return key;
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

/// Days from now until the certificate expires.
int days_left(X509* cert) {
  int days = 0;
  int seconds = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert)), 1);
  return days;
}

/// Verifies `cert` against the single trusted `ca` for `purpose` (X509_PURPOSE_*).
bool chains_to(X509* cert, X509* ca, int purpose) {
  std::unique_ptr<X509_STORE, x509_free> store{X509_STORE_new()};
  X509_STORE_add_cert(store.get(), ca);
  std::unique_ptr<X509_STORE_CTX, x509_free> ctx{X509_STORE_CTX_new()};
  X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr);
  X509_STORE_CTX_set_purpose(ctx.get(), purpose);
  const bool ok = X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();
  return ok;
}

/// A server certificate for `host` signed by `ca_key`/`ca` valid for `days` days, written over
/// the files `ensure_edge_ca` manages: the test's way to make one that is about to expire.
void plant_server_cert(const tls_files& files, const std::string& ca_key_path,
                       const std::string& host, long days) {
  auto ca = load_cert(files.ca);
  auto ca_key = load_key(ca_key_path);
  pkey_ptr key{EVP_EC_gen("P-256")};
  x509_ptr cert{X509_new()};
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 4242);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(host.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, ca.get(), cert.get(), nullptr, nullptr, 0);
  const std::string san = "DNS:" + host;
  X509_EXTENSION* ext = X509V3_EXT_nconf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  ASSERT_GT(X509_sign(cert.get(), ca_key.get(), EVP_sha256()), 0);
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(out, cert.get());
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  write_text(files.cert, std::string{data, static_cast<std::size_t>(size)});
  BIO_free(out);
  out = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(out, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  const long key_size = BIO_get_mem_data(out, &data);
  write_text(files.key, std::string{data, static_cast<std::size_t>(key_size)});
  BIO_free(out);
}

class CertificatesTest : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/outpost-certs-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    dir_ = root_ + "/state/certs"; // two levels that do not exist yet
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  tls_files ensure(const std::string& hostname) {
    std::string why;
    auto files = ensure_edge_ca(dir_, hostname, why);
    EXPECT_TRUE(files) << files.error().message() << ": " << why;
    return files ? *files : tls_files{};
  }

  std::string root_;
  std::string dir_;
};

TEST(CertificateThumbprint, MatchesOpenSslFingerprintOfKnownCertificate) {
  auto thumbprint = certificate_thumbprint(known_pem);
  ASSERT_TRUE(thumbprint);
  EXPECT_EQ(*thumbprint, known_thumbprint);
}

TEST(CertificateThumbprint, DerAndPemWithSurroundingTextGiveTheSameThumbprint) {
  BIO* bio = BIO_new_mem_buf(known_pem, -1);
  x509_ptr cert{PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)};
  BIO_free(bio);
  ASSERT_TRUE(cert);
  unsigned char* der = nullptr;
  const int size = i2d_X509(cert.get(), &der);
  ASSERT_GT(size, 0);
  const std::string der_bytes{reinterpret_cast<const char*>(der), static_cast<std::size_t>(size)};
  OPENSSL_free(der);

  auto from_der = certificate_thumbprint(der_bytes);
  ASSERT_TRUE(from_der);
  EXPECT_EQ(*from_der, known_thumbprint);
  auto from_bundle = certificate_thumbprint(std::string{"subject=CN=known-device\n"} + known_pem);
  ASSERT_TRUE(from_bundle);
  EXPECT_EQ(*from_bundle, known_thumbprint);
}

TEST(CertificateThumbprint, RejectsWhatIsNotACertificate) {
  for (const std::string& input :
       {std::string{}, std::string{"hello"},
        std::string{"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
        std::string{"\x30\x82\x01\x84\x30", 5}}) {
    auto thumbprint = certificate_thumbprint(input);
    ASSERT_FALSE(thumbprint) << input;
    EXPECT_EQ(thumbprint.error(), certificate_errc::invalid_certificate);
  }
  EXPECT_EQ(ERR_peek_error(), 0UL) << "OpenSSL's error queue must be left empty";
}

TEST_F(CertificatesTest, EnsureEdgeCaCreatesCaAndServerCertWithPrivateModes) {
  const auto files = ensure("edge-1.example.com");
  EXPECT_EQ(files.cert, dir_ + "/server.pem");
  EXPECT_EQ(files.key, dir_ + "/server.key.pem");
  EXPECT_EQ(files.ca, dir_ + "/edge-ca.pem");
  EXPECT_EQ(mode_of(dir_), 0700u);
  EXPECT_EQ(mode_of(files.key), 0600u);
  EXPECT_EQ(mode_of(dir_ + "/edge-ca.key.pem"), 0600u);
  EXPECT_EQ(mode_of(files.cert), 0600u);
  EXPECT_EQ(mode_of(files.ca), 0600u);

  auto ca = load_cert(files.ca);
  auto server = load_cert(files.cert);
  ASSERT_TRUE(ca);
  ASSERT_TRUE(server);
  EXPECT_GE(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_get_key_usage(ca.get()) & KU_KEY_CERT_SIGN,
            static_cast<uint32_t>(KU_KEY_CERT_SIGN));
  EXPECT_NEAR(days_left(ca.get()), 5 * 365, 1);
  EXPECT_NEAR(days_left(server.get()), 365, 1);
  EXPECT_EQ(X509_check_ca(server.get()), 0);
  EXPECT_TRUE(chains_to(server.get(), ca.get(), X509_PURPOSE_SSL_SERVER));
  EXPECT_EQ(X509_check_host(server.get(), "edge-1.example.com", 0,
                            X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr),
            1);
  EXPECT_EQ(
      X509_check_host(server.get(), "localhost", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr),
      1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);

  auto key = load_key(files.key);
  ASSERT_TRUE(key);
  EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
  EXPECT_EQ(X509_check_private_key(server.get(), key.get()), 1);
}

TEST_F(CertificatesTest, EnsureEdgeCaIsIdempotent) {
  const auto first = ensure("edge-1");
  const auto cert = read_text(first.cert);
  const auto key = read_text(first.key);
  const auto ca = read_text(first.ca);
  const auto ca_key = read_text(dir_ + "/edge-ca.key.pem");

  const auto second = ensure("edge-1");
  EXPECT_EQ(second.cert, first.cert);
  EXPECT_EQ(read_text(second.cert), cert);
  EXPECT_EQ(read_text(second.key), key);
  EXPECT_EQ(read_text(second.ca), ca);
  EXPECT_EQ(read_text(dir_ + "/edge-ca.key.pem"), ca_key);
}

TEST_F(CertificatesTest, EnsureEdgeCaReissuesServerCertForANewHostnameWithTheSameCa) {
  const auto first = ensure("old-name");
  const auto ca = read_text(first.ca);
  const auto old_cert = read_text(first.cert);

  const auto second = ensure("new-name.local");
  EXPECT_EQ(read_text(second.ca), ca);
  EXPECT_NE(read_text(second.cert), old_cert);
  auto server = load_cert(second.cert);
  ASSERT_TRUE(server);
  EXPECT_EQ(X509_check_host(server.get(), "new-name.local", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT,
                            nullptr),
            1);
  EXPECT_NE(
      X509_check_host(server.get(), "old-name", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr),
      1);
  auto ca_cert = load_cert(second.ca);
  EXPECT_TRUE(chains_to(server.get(), ca_cert.get(), X509_PURPOSE_SSL_SERVER));
  auto key = load_key(second.key);
  EXPECT_EQ(X509_check_private_key(server.get(), key.get()), 1);
}

TEST_F(CertificatesTest, EnsureEdgeCaReissuesServerCertExpiringWithin30Days) {
  const auto files = ensure("edge-1");
  const auto ca = read_text(files.ca);

  plant_server_cert(files, dir_ + "/edge-ca.key.pem", "edge-1", 60);
  const auto healthy = read_text(files.cert);
  ensure("edge-1");
  EXPECT_EQ(read_text(files.cert), healthy) << "60 days left: kept";

  plant_server_cert(files, dir_ + "/edge-ca.key.pem", "edge-1", 10);
  ensure("edge-1");
  auto server = load_cert(files.cert);
  ASSERT_TRUE(server);
  EXPECT_NEAR(days_left(server.get()), 365, 1) << "10 days left: re-issued";
  EXPECT_EQ(read_text(files.ca), ca);
}

TEST_F(CertificatesTest, EnsureEdgeCaReissuesServerCertNotSignedByItsCa) {
  const auto files = ensure("edge-1");
  // A certificate from another directory's CA, planted over ours.
  std::string why;
  auto other = ensure_edge_ca(root_ + "/other", "edge-1", why);
  ASSERT_TRUE(other) << why;
  write_text(files.cert, read_text(other->cert));
  write_text(files.key, read_text(other->key));

  ensure("edge-1");
  auto server = load_cert(files.cert);
  auto ca = load_cert(files.ca);
  EXPECT_TRUE(chains_to(server.get(), ca.get(), X509_PURPOSE_SSL_SERVER));
}

TEST_F(CertificatesTest, EnsureEdgeCaNeverOverwritesAnUnreadableCa) {
  ensure("edge-1");
  write_text(dir_ + "/edge-ca.pem", "not a certificate");
  std::string why;
  auto files = ensure_edge_ca(dir_, "edge-1", why);
  ASSERT_FALSE(files);
  EXPECT_EQ(files.error(), certificate_errc::invalid_certificate);
  EXPECT_NE(why.find("edge-ca.pem"), std::string::npos) << why;
  EXPECT_EQ(read_text(dir_ + "/edge-ca.pem"), "not a certificate");
}

TEST_F(CertificatesTest, EnsureEdgeCaAcceptsAnIpAddressAsHostname) {
  const auto files = ensure("10.1.2.3");
  auto server = load_cert(files.cert);
  ASSERT_TRUE(server);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "10.1.2.3", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.1", 0), 1);
}

TEST_F(CertificatesTest, EnsureEdgeCaRejectsHostnamesThatAreNotNames) {
  for (const std::string bad : {"", "host,IP:1.2.3.4", "with space", "a/b"}) {
    std::string why;
    auto files = ensure_edge_ca(dir_, bad, why);
    ASSERT_FALSE(files) << bad;
    EXPECT_EQ(files.error(), std::errc::invalid_argument);
    EXPECT_FALSE(why.empty());
  }
}

TEST_F(CertificatesTest, MakeClientCertificateSelfSignedAndCaSigned) {
  const auto edge = ensure("edge-1");
  std::string why;
  auto self_signed = make_client_certificate(dir_ + "/clients", "device-1", nullptr, why);
  ASSERT_TRUE(self_signed) << why;
  EXPECT_EQ(self_signed->cert, dir_ + "/clients/device-1.pem");
  EXPECT_EQ(self_signed->ca, self_signed->cert);
  EXPECT_EQ(mode_of(dir_ + "/clients"), 0700u);
  EXPECT_EQ(mode_of(self_signed->key), 0600u);

  const tls_files signer{edge.ca, dir_ + "/edge-ca.key.pem", {}};
  auto signed_by_ca = make_client_certificate(dir_ + "/clients", "dev/mod 2", &signer, why);
  ASSERT_TRUE(signed_by_ca) << why;
  EXPECT_EQ(signed_by_ca->cert, dir_ + "/clients/dev_mod_2.pem");
  EXPECT_EQ(signed_by_ca->ca, edge.ca);

  auto ca = load_cert(edge.ca);
  auto self_cert = load_cert(self_signed->cert);
  auto ca_signed_cert = load_cert(signed_by_ca->cert);
  ASSERT_TRUE(self_cert && ca_signed_cert);
  EXPECT_TRUE(chains_to(ca_signed_cert.get(), ca.get(), X509_PURPOSE_SSL_CLIENT));
  EXPECT_FALSE(chains_to(self_cert.get(), ca.get(), X509_PURPOSE_SSL_CLIENT));
  EXPECT_TRUE(chains_to(self_cert.get(), self_cert.get(), X509_PURPOSE_SSL_CLIENT));

  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(ca_signed_cert.get()), NID_commonName, cn,
                            sizeof cn);
  EXPECT_STREQ(cn, "dev/mod 2");
  auto key = load_key(signed_by_ca->key);
  EXPECT_EQ(X509_check_private_key(ca_signed_cert.get(), key.get()), 1);
}

TEST_F(CertificatesTest, MakeClientCertificateReportsAMissingSigner) {
  const tls_files signer{dir_ + "/missing.pem", dir_ + "/missing.key.pem", {}};
  std::string why;
  auto files = make_client_certificate(dir_, "device-1", &signer, why);
  ASSERT_FALSE(files);
  EXPECT_EQ(files.error(), std::errc::no_such_file_or_directory);
  EXPECT_NE(why.find("missing.pem"), std::string::npos) << why;
}

} // namespace
} // namespace outpost::transport
