#include "protocols/iothub/sas.hpp"

#include "protocols/iothub/encoding.hpp"
#include "tests/unit/protocols/iothub/openssl_hmac.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outpost::iothub {
namespace {

// Test keys: bytes 0..31 and 32..63. The expected tokens were computed independently
// (Python hmac/hashlib/urllib) with the Node SDK's algorithm (azure-sdk-wire.md §1).
constexpr const char* primary_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* secondary_key = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
constexpr const char* device_token_primary =
    "SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig=sXRF%2FSIKazz4KvfdK0bqf%2F3w%"
    "2BoAvarG1KiCq7AnJHhU%3D&se=1795701487";
constexpr const char* module_token_primary =
    "SharedAccessSignature sr=testhub.azure-devices.net%2Fdevices%2Fedge1%2Fmodules%2FmodA&sig="
    "vqd9aSs8XHInqgOchcecKax7RlGao48SBwo1ART0m3U%3D&se=1795701941";
constexpr const char* device_token_secondary =
    "SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig=fv4Km%2F5%2FqhWPXF%2Be0kmyu5idqFHbHLr"
    "ZplbXjPLTw90%3D&se=1795701487";
constexpr const char* module_token_secondary =
    "SharedAccessSignature sr=testhub.azure-devices.net%2Fdevices%2Fedge1%2Fmodules%2FmodA&sig="
    "wCgNL0%2BMNv6%2FHwBksNUfHpwcd63Ki3CBH5dW0GVLoCE%3D&se=1795701941";
// azure-sdk-wire.md appendix A: the captured CONNECT password of device dev1.
constexpr const char* captured_password =
    "SharedAccessSignature sr=localhost%2Fdevices%2Fdev1&sig=rhvnF2oKe1V%2BeDUgNhCg1q3H3rctCvwGs0Wu"
    "EO6iz3k%3D&se=1795701487";

constexpr std::int64_t device_se = 1795701487;
constexpr std::int64_t module_se = 1795701941;

const hmac_sha256_fn hmac = test_support::openssl_hmac_sha256;

sas_token parsed(const std::string& password) {
  auto token = parse_sas_token(password);
  EXPECT_TRUE(token) << password;
  return token ? token.value() : sas_token{};
}

/// Verifies `password` for `who` against localhost / testhub.azure-devices.net.
result<void> verify(const std::string& password, const client_identity& who, std::int64_t now,
                    std::vector<std::string> keys = {primary_key, secondary_key},
                    std::string_view hub = "testhub.azure-devices.net",
                    std::string_view edge = "localhost") {
  const sas_check check{hub, edge, who, now, std::move(keys)};
  return verify_sas_token(parsed(password), check, hmac);
}

const client_identity dev1{"dev1", ""};
const client_identity mod_a{"edge1", "modA"};

TEST(IothubSasMake, MatchesAnIndependentImplementation) {
  EXPECT_EQ(make_sas_token("localhost/devices/dev1", primary_key, device_se, hmac),
            device_token_primary);
  EXPECT_EQ(make_sas_token("localhost/devices/dev1", secondary_key, device_se, hmac),
            device_token_secondary);
  EXPECT_EQ(make_sas_token("testhub.azure-devices.net/devices/edge1/modules/modA", primary_key,
                           module_se, hmac),
            module_token_primary);
  EXPECT_EQ(make_sas_token("testhub.azure-devices.net/devices/edge1/modules/modA", secondary_key,
                           module_se, hmac),
            module_token_secondary);
}

TEST(IothubSasMake, SignsTheEncodedResourceWithTheDecodedKey) {
  std::string seen_key;
  std::string seen_data;
  const hmac_sha256_fn recording = [&](std::string_view key, std::string_view data) {
    seen_key = std::string{key};
    seen_data = std::string{data};
    return std::string(32, '\0');
  };
  make_sas_token("testhub.azure-devices.net/devices/edge1/modules/modA", primary_key, module_se,
                 recording);
  EXPECT_EQ(seen_key, *base64_decode(primary_key));
  // The string the workload API was asked to sign in azure-sdk-wire.md §4.1.
  EXPECT_EQ(seen_data, *base64_decode("dGVzdGh1Yi5henVyZS1kZXZpY2VzLm5ldCUyRmRldmljZXMlMkZlZGdlMS"
                                      "UyRm1vZHVsZXMlMkZtb2RBCjE3OTU3MDE5NDE="));
}

TEST(IothubSasMake, ReturnsNothingForAKeyThatIsNotBase64) {
  EXPECT_EQ(make_sas_token("localhost/devices/dev1", "not base64!", device_se, hmac), "");
}

TEST(IothubSasParse, ParsesTheCapturedSdkPassword) {
  auto token = parse_sas_token(captured_password);
  ASSERT_TRUE(token);
  EXPECT_EQ(token->resource, "localhost%2Fdevices%2Fdev1");
  EXPECT_EQ(token->resource_decoded, "localhost/devices/dev1");
  EXPECT_EQ(token->signature, "rhvnF2oKe1V+eDUgNhCg1q3H3rctCvwGs0WuEO6iz3k=");
  EXPECT_EQ(token->expiry, device_se);
  EXPECT_EQ(token->key_name, "");
}

TEST(IothubSasParse, ParsesFieldsInAnyOrderWithCaseInsensitiveNames) {
  auto token =
      parse_sas_token("SharedAccessSignature se=17&SIG=abc%3D&skn=policy%20x&Sr=h%2Fdevices%2Fd");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->resource, "h%2Fdevices%2Fd");
  EXPECT_EQ(token->signature, "abc=");
  EXPECT_EQ(token->expiry, 17);
  EXPECT_EQ(token->key_name, "policy x");
}

TEST(IothubSasParse, ParsesServiceTokensAndIgnoresUnknownAndEmptyFields) {
  // azure-sdk-wire.md §5: service tokens put skn between sig and se.
  auto service = parse_sas_token("SharedAccessSignature sr=localhost&sig=x&skn=iothubowner&se=9");
  ASSERT_TRUE(service);
  EXPECT_EQ(service->key_name, "iothubowner");
  auto extra = parse_sas_token("SharedAccessSignature sr=a%2Fdevices%2Fd&&sig=x&foo=bar&se=5&");
  ASSERT_TRUE(extra);
  EXPECT_EQ(extra->signature, "x");
}

TEST(IothubSasParse, KeepsRawPlusAndEqualsInTheSignature) {
  auto token = parse_sas_token("SharedAccessSignature sr=a&sig=ab+c/d==&se=5");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->signature, "ab+c/d==");
}

TEST(IothubSasParse, RefusesMalformedTokens) {
  const char* bad[] = {
      "",
      "SharedAccessSignature",
      "SharedAccessSignature ",
      "Bearer sr=a&sig=b&se=1",
      "sharedaccesssignature sr=a&sig=b&se=1",
      "SharedAccessSignaturesr=a&sig=b&se=1",
      "SharedAccessSignature  sr=a&sig=b&se=1",
      " SharedAccessSignature sr=a&sig=b&se=1",
      "SharedAccessSignature sr=a&sig=b&se=1 ",
      "SharedAccessSignature sr=a&sig=b c&se=1",
      "SharedAccessSignature\tsr=a&sig=b&se=1",
      "SharedAccessSignature sig=b&se=1",
      "SharedAccessSignature sr=a&se=1",
      "SharedAccessSignature sr=a&sig=b",
      "SharedAccessSignature sr=&sig=b&se=1",
      "SharedAccessSignature sr=a&sig=&se=1",
      "SharedAccessSignature sr=a&sig=b&se=",
      "SharedAccessSignature sr=a&sig=b&se=1&sr=c",
      "SharedAccessSignature sr=a&sig=b&se=1&SR=c",
      "SharedAccessSignature sr=a&sig=b&se=1&skn=x&skn=y",
      "SharedAccessSignature sr=a&sig&se=1",
      "SharedAccessSignature sr=a&sig=b&se=abc",
      "SharedAccessSignature sr=a&sig=b&se=-5",
      "SharedAccessSignature sr=a&sig=b&se=+5",
      "SharedAccessSignature sr=a&sig=b&se=01795701487",
      "SharedAccessSignature sr=a&sig=b&se=1.5",
      "SharedAccessSignature sr=a&sig=b&se=1234567890123456789",
  };
  for (const char* password : bad) {
    auto token = parse_sas_token(password);
    ASSERT_FALSE(token) << password;
    EXPECT_EQ(token.error(), errc::bad_sas_token) << password;
  }
}

TEST(IothubSasVerify, AcceptsTheSdkTokenSignedWithThePrimaryKey) {
  EXPECT_TRUE(verify(device_token_primary, dev1, device_se - 3600));
  EXPECT_TRUE(verify(module_token_primary, mod_a, module_se - 1));
}

TEST(IothubSasVerify, AcceptsATokenSignedWithTheSecondaryKey) {
  EXPECT_TRUE(verify(device_token_secondary, dev1, device_se - 3600));
  EXPECT_TRUE(verify(module_token_secondary, mod_a, module_se - 3600));
  EXPECT_TRUE(verify(device_token_secondary, dev1, device_se, {secondary_key}));
}

TEST(IothubSasVerify, RefusesAnExpiredToken) {
  EXPECT_TRUE(verify(device_token_primary, dev1, device_se)); // valid through second `se`
  auto expired = verify(device_token_primary, dev1, device_se + 1);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error(), errc::sas_expired);
}

TEST(IothubSasVerify, HonoursAConfiguredClockSkew) {
  const std::vector<std::string> keys{primary_key};
  sas_check check{"testhub.azure-devices.net", "localhost", dev1, device_se + 300, keys, 300};
  EXPECT_TRUE(verify_sas_token(parsed(device_token_primary), check, hmac));
  check.now_seconds = device_se + 301;
  EXPECT_EQ(verify_sas_token(parsed(device_token_primary), check, hmac).error(), errc::sas_expired);
}

TEST(IothubSasVerify, RefusesAForgedSignature) {
  std::string forged = device_token_primary;
  forged[forged.find("sig=") + 4] = 'X';
  EXPECT_EQ(verify(forged, dev1, device_se - 1).error(), errc::sas_signature_mismatch);
  EXPECT_EQ(verify(captured_password, dev1, device_se - 1).error(),
            errc::sas_signature_mismatch); // signed with the capture's unknown key
}

TEST(IothubSasVerify, RefusesATokenSignedWithAnotherKey) {
  const std::string other =
      make_sas_token("localhost/devices/dev1", "b3RoZXIta2V5", device_se, hmac);
  EXPECT_EQ(verify(other, dev1, device_se - 1).error(), errc::sas_signature_mismatch);
  EXPECT_EQ(verify(device_token_secondary, dev1, device_se - 1, {primary_key}).error(),
            errc::sas_signature_mismatch);
  EXPECT_EQ(verify(device_token_primary, dev1, device_se - 1, {}).error(),
            errc::sas_signature_mismatch);
}

TEST(IothubSasVerify, SkipsKeysThatAreNotBase64) {
  EXPECT_TRUE(verify(device_token_secondary, dev1, device_se - 1, {"not base64!", secondary_key}));
  EXPECT_EQ(verify(device_token_primary, dev1, device_se - 1, {"", "%%%%"}).error(),
            errc::sas_signature_mismatch);
}

TEST(IothubSasVerify, SignsTheResourceExactlyAsSent) {
  // Lower-case escapes are signed as they are; re-casing them breaks the signature.
  const std::string sr = "localhost%2fdevices%2fdev1";
  const std::string sig =
      base64_encode(hmac(*base64_decode(primary_key), sr + "\n" + std::to_string(device_se)));
  const std::string token = "SharedAccessSignature sr=" + sr + "&sig=" + percent_encode(sig)
                            + "&se=" + std::to_string(device_se);
  EXPECT_TRUE(verify(token, dev1, device_se - 1));
  std::string recased = device_token_primary;
  recased.replace(recased.find("%2F"), 3, "%2f");
  EXPECT_EQ(verify(recased, dev1, device_se - 1).error(), errc::sas_signature_mismatch);
}

TEST(IothubSasVerify, AcceptsAnUnencodedSignature) {
  const std::string raw =
      "SharedAccessSignature "
      "sr=localhost%2Fdevices%2Fdev1&sig=sXRF/SIKazz4KvfdK0bqf/3w+oAvarG1KiCq7"
      "AnJHhU=&se=1795701487";
  EXPECT_TRUE(verify(raw, dev1, device_se - 1));
}

TEST(IothubSasVerify, AcceptsTheHubOrTheEdgeHostnameCaseInsensitively) {
  EXPECT_TRUE(verify(device_token_primary, dev1, device_se - 1, {primary_key}, "LOCALHOST", ""));
  EXPECT_TRUE(verify(device_token_primary, dev1, device_se - 1, {primary_key}, "hub", "LocalHost"));
  EXPECT_TRUE(verify(module_token_primary, mod_a, module_se - 1, {primary_key},
                     "TestHub.Azure-Devices.Net", "gateway"));
}

TEST(IothubSasVerify, RefusesAnotherHost) {
  auto wrong = verify(device_token_primary, dev1, device_se - 1, {primary_key}, "otherhub", "edge");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error(), errc::sas_wrong_audience);
  const std::string no_host = make_sas_token("/devices/dev1", primary_key, device_se, hmac);
  EXPECT_EQ(verify(no_host, dev1, device_se - 1, {primary_key}, "hub", "").error(),
            errc::sas_wrong_audience);
}

TEST(IothubSasVerify, RefusesAnotherDevicesToken) {
  EXPECT_EQ(verify(device_token_primary, client_identity{"dev2", ""}, device_se - 1).error(),
            errc::sas_wrong_audience);
  EXPECT_EQ(verify(device_token_primary, client_identity{"dev2", "modA"}, device_se - 1).error(),
            errc::sas_wrong_audience);
}

TEST(IothubSasVerify, AcceptsADeviceTokenForItsModule) {
  const std::string device_level =
      make_sas_token("testhub.azure-devices.net/devices/edge1", primary_key, module_se, hmac);
  EXPECT_TRUE(verify(device_level, mod_a, module_se - 1));
  EXPECT_TRUE(verify(device_level, client_identity{"edge1", ""}, module_se - 1));
}

TEST(IothubSasVerify, RefusesAModuleTokenForAnotherModuleOrTheDevice) {
  EXPECT_EQ(verify(module_token_primary, client_identity{"edge1", "modB"}, module_se - 1).error(),
            errc::sas_wrong_audience);
  EXPECT_EQ(verify(module_token_primary, client_identity{"edge1", ""}, module_se - 1).error(),
            errc::sas_wrong_audience);
  EXPECT_EQ(verify(module_token_primary, client_identity{"edge2", "modA"}, module_se - 1).error(),
            errc::sas_wrong_audience);
}

TEST(IothubSasVerify, ComparesIdsCaseInsensitivelyAsEdgeHub) {
  EXPECT_TRUE(verify(module_token_primary, client_identity{"EDGE1", "moda"}, module_se - 1));
}

TEST(IothubSasVerify, DecodesIdsEncodedTwiceAsTheSdkDoes) {
  const client_identity odd{"dev$1", "m(1)"};
  const std::string twice = make_sas_token(
      "localhost/devices/" + percent_encode("dev$1") + "/modules/" + percent_encode("m(1)"),
      primary_key, device_se, hmac);
  EXPECT_NE(twice.find("dev%25241"), std::string::npos);
  EXPECT_TRUE(verify(twice, odd, device_se - 1));
  const std::string once =
      make_sas_token("localhost/devices/dev$1/modules/m(1)", primary_key, device_se, hmac);
  EXPECT_TRUE(verify(once, odd, device_se - 1));
}

TEST(IothubSasVerify, RefusesMalformedResources) {
  for (const char* resource :
       {"localhost/dev1", "localhost/things/dev1", "localhost/devices/dev1/modules",
        "localhost/devices/dev1/module/modA", "localhost/devices/dev1/modules/modA/x", "localhost",
        "localhost/devices/dev1/"}) {
    const std::string token = make_sas_token(resource, primary_key, device_se, hmac);
    EXPECT_EQ(verify(token, mod_a, device_se - 1).error(), errc::sas_wrong_audience) << resource;
  }
}

TEST(IothubSasVerify, ChecksExpiryBeforeAudienceBeforeSignature) {
  std::string forged = device_token_primary;
  forged[forged.find("sig=") + 4] = 'X';
  EXPECT_EQ(verify(forged, client_identity{"dev2", ""}, device_se + 1).error(), errc::sas_expired);
  EXPECT_EQ(verify(forged, client_identity{"dev2", ""}, device_se - 1).error(),
            errc::sas_wrong_audience);
}

// A service token as azure-iothub makes it (computed with Python's hmac, independently).
constexpr const char* service_token =
    "SharedAccessSignature sr=localhost&sig=7%2FKVZdYtau9K6l0FwHnnUMGb5xtBei6DqFwTwdO%2B6%2F8%3D"
    "&se=1795701487&skn=iothubowner";

result<void> verify_service(const std::string& password, std::int64_t now,
                            std::string_view key = primary_key,
                            std::string_view policy = "iothubowner") {
  return verify_service_token(parsed(password), {"testhub", "localhost", policy, key, now}, hmac);
}

TEST(IothubServiceSas, AcceptsThePolicysTokenForTheHostName) {
  EXPECT_TRUE(verify_service(service_token, device_se));
  EXPECT_TRUE(verify_service(service_token, device_se, primary_key, "IotHubOwner"));
}

TEST(IothubServiceSas, RefusesOtherKeysPoliciesExpiryAndDeviceTokens) {
  EXPECT_EQ(verify_service(service_token, device_se, secondary_key).error(),
            errc::sas_signature_mismatch);
  EXPECT_EQ(verify_service(service_token, device_se, primary_key, "registryRead").error(),
            errc::sas_wrong_audience);
  EXPECT_EQ(verify_service(service_token, device_se + 1).error(), errc::sas_expired);
  // A device's own token, signed with the same key, is no service token: it has no skn.
  EXPECT_EQ(verify_service(device_token_primary, device_se).error(), errc::sas_wrong_audience);
}

TEST(IothubServiceSas, RefusesAnotherHostsTokenAndAForgedSignature) {
  std::string other = service_token;
  other.replace(other.find("sr=localhost"), 12, "sr=elsewhere");
  EXPECT_EQ(verify_service(other, device_se).error(), errc::sas_wrong_audience);
  std::string forged = service_token;
  forged[forged.find("sig=") + 4] = 'X';
  EXPECT_EQ(verify_service(forged, device_se).error(), errc::sas_signature_mismatch);
}

} // namespace
} // namespace outpost::iothub
