#include "protocols/iothub/encoding.hpp"

#include "protocols/iothub/errc.hpp"

#include <gtest/gtest.h>

#include <string>

namespace outpost::iothub {
namespace {

TEST(IothubPercentEncode, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(percent_encode("azAZ09-._~"), "azAZ09-._~");
  EXPECT_EQ(percent_encode("$ /&=%?+!'()*#"), "%24%20%2F%26%3D%25%3F%2B%21%27%28%29%2A%23");
  EXPECT_EQ(percent_encode(""), "");
}

TEST(IothubPercentEncode, EncodesUtf8BytesWithUpperCaseHex) {
  EXPECT_EQ(percent_encode("\xC3\xA9\xE2\x82\xAC"), "%C3%A9%E2%82%AC"); // "é€"
  EXPECT_EQ(percent_encode(std::string("\0\xFF", 2)), "%00%FF");
}

TEST(IothubPercentEncode, EncodesCapturedSdkValues) {
  // azure-sdk-wire.md §1 and §4.1: sr and sig as the Node SDK writes them.
  EXPECT_EQ(percent_encode("localhost/devices/dev1"), "localhost%2Fdevices%2Fdev1");
  EXPECT_EQ(percent_encode("testhub.azure-devices.net/devices/edge1/modules/modA"),
            "testhub.azure-devices.net%2Fdevices%2Fedge1%2Fmodules%2FmodA");
  EXPECT_EQ(percent_encode("rhvnF2oKe1V+eDUgNhCg1q3H3rctCvwGs0WuEO6iz3k="),
            "rhvnF2oKe1V%2BeDUgNhCg1q3H3rctCvwGs0WuEO6iz3k%3D");
  EXPECT_EQ(percent_encode("K06aHHss9bDrW6kNueCtjqvSFeH5+acAUKHpvYt5bss="),
            "K06aHHss9bDrW6kNueCtjqvSFeH5%2BacAUKHpvYt5bss%3D");
}

TEST(IothubPercentDecode, DecodesEscapesInEitherCase) {
  EXPECT_EQ(percent_decode("%24.mid"), "$.mid");
  EXPECT_EQ(percent_decode("%2f%2F"), "//");
  EXPECT_EQ(percent_decode("value%201"), "value 1");
  EXPECT_EQ(percent_decode("%00"), std::string(1, '\0'));
}

TEST(IothubPercentDecode, LeavesPlusAndMalformedEscapesAlone) {
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_EQ(percent_decode("%"), "%");
  EXPECT_EQ(percent_decode("%2"), "%2");
  EXPECT_EQ(percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(percent_decode("100%"), "100%");
}

TEST(IothubPercentDecode, DecodesUtf8AndKeepsInvalidSequencesEscaped) {
  EXPECT_EQ(percent_decode("%C3%A9"), "\xC3\xA9");
  EXPECT_EQ(percent_decode("%F0%9F%98%80"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(percent_decode("%FF"), "%FF");
  EXPECT_EQ(percent_decode("%C3"), "%C3");                   // truncated
  EXPECT_EQ(percent_decode("%C3%A9%FF"), "\xC3\xA9%FF");     // valid, then not
  EXPECT_EQ(percent_decode("%E2%82x"), "%E2%82x");           // truncated in the middle
  EXPECT_EQ(percent_decode("%C0%AF"), "%C0%AF");             // overlong '/'
  EXPECT_EQ(percent_decode("%ED%A0%80"), "%ED%A0%80");       // surrogate
  EXPECT_EQ(percent_decode("%F4%90%80%80"), "%F4%90%80%80"); // beyond U+10FFFF
  EXPECT_EQ(percent_decode("\xC3\xA9%20"), "\xC3\xA9 ");     // raw UTF-8 passes through
}

TEST(IothubPercentDecode, InvertsEncodeForUtf8Text) {
  const std::string samples[] = {"", "plain", "a/b&c=d%e f?g+h$i",
                                 "\xE2\x82\xAC 5 \xF0\x9F\x98\x80", std::string("nul\0byte", 8)};
  for (const auto& s : samples) {
    EXPECT_EQ(percent_decode(percent_encode(s)), s) << s;
  }
}

TEST(IothubBase64, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("\xFB\xFF"), "+/8=");
}

TEST(IothubBase64, DecodesRfc4648Vectors) {
  EXPECT_EQ(base64_decode(""), std::string{});
  EXPECT_EQ(base64_decode("Zg=="), std::string{"f"});
  EXPECT_EQ(base64_decode("Zm8="), std::string{"fo"});
  EXPECT_EQ(base64_decode("Zm9vYmFy"), std::string{"foobar"});
  EXPECT_EQ(base64_decode("+/8="), std::string{"\xFB\xFF"});
}

TEST(IothubBase64, RefusesMalformedText) {
  for (const char* bad : {"Zg=", "Zg", "Zg=A", "Z===", "====", "Zm9v!A==", "Zg==Zg==", "Zm9v YmFy",
                          "Zm9v-_==", "Zm9vYmFy\n"}) {
    EXPECT_FALSE(base64_decode(bad)) << bad;
  }
}

TEST(IothubBase64, DecodesCapturedWorkloadSignRequest) {
  // azure-sdk-wire.md §4.1: the sign request's data is base64(url-encoded sr + "\n" + se).
  const auto data = base64_decode(
      "dGVzdGh1Yi5henVyZS1kZXZpY2VzLm5ldCUyRmRldmljZXMlMkZlZGdlMSUyRm1vZHVsZXMlMkZtb2RBCjE3OTU3MDE5"
      "NDE=");
  ASSERT_TRUE(data);
  EXPECT_EQ(*data, percent_encode("testhub.azure-devices.net/devices/edge1/modules/modA")
                       + "\n1795701941");
  const auto digest = base64_decode("K06aHHss9bDrW6kNueCtjqvSFeH5+acAUKHpvYt5bss=");
  ASSERT_TRUE(digest);
  EXPECT_EQ(digest->size(), 32u);
  EXPECT_EQ(base64_encode(*digest), "K06aHHss9bDrW6kNueCtjqvSFeH5+acAUKHpvYt5bss=");
}

TEST(IothubErrc, IsARegisteredErrorCodeEnumWithClearMessages) {
  const std::error_code ec = errc::sas_expired;
  EXPECT_STREQ(ec.category().name(), "outpost.iothub");
  EXPECT_EQ(ec.message(), "SAS token has expired");
  for (int e = static_cast<int>(errc::bad_client_id);
       e <= static_cast<int>(errc::unsupported_twin_operation); ++e) {
    EXPECT_NE(iothub_category().message(e), "unknown IoT Hub dialect error") << e;
  }
  EXPECT_EQ(iothub_category().message(200), "unknown IoT Hub dialect error");
}

} // namespace
} // namespace outpost::iothub

namespace outpost::iothub {
namespace {

TEST(IothubQueryParameter, FindsDecodedValuesAndNothingElse) {
  EXPECT_EQ(query_parameter("/logs?tail=5&since=2026-11-26T18%3A00%3A00Z", "since"),
            "2026-11-26T18:00:00Z");
  EXPECT_EQ(query_parameter("/logs?tail=5&since=x", "tail"), "5");
  EXPECT_EQ(query_parameter("/sign?api-version=2018-06-28", "api-version"), "2018-06-28");
  EXPECT_EQ(query_parameter("/sign?api-version", "api-version"), "");
  EXPECT_EQ(query_parameter("/sign?xapi-version=1", "api-version"), "");
  EXPECT_EQ(query_parameter("/sign", "api-version"), "");
}

} // namespace
} // namespace outpost::iothub
