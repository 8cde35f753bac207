#include "routing/query/text.hpp"

#include "routing/query/json_path.hpp"
#include "routing/query/system_properties.hpp"

#include <gtest/gtest.h>

namespace outpost::routing {
namespace {

TEST(RoutingText, ParsesNumbersLikeDotNetNumberStylesAny) {
  EXPECT_EQ(text::parse_number("12"), 12.0);
  EXPECT_EQ(text::parse_number(" -1.5e2 "), -150.0);
  EXPECT_EQ(text::parse_number("+3"), 3.0);
  EXPECT_EQ(text::parse_number("3-"), -3.0);
  EXPECT_EQ(text::parse_number("(2)"), -2.0);
  EXPECT_EQ(text::parse_number("1,234.5"), 1234.5);
  EXPECT_EQ(text::parse_number(".5"), 0.5);
  EXPECT_EQ(text::parse_number("5."), 5.0);
  EXPECT_EQ(text::parse_number("Infinity"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(text::parse_number("1e400"), std::numeric_limits<double>::infinity());
  EXPECT_FALSE(text::parse_number(""));
  EXPECT_FALSE(text::parse_number("abc"));
  EXPECT_FALSE(text::parse_number("1e"));
  EXPECT_FALSE(text::parse_number("0x10"));
  EXPECT_FALSE(text::parse_number("--1"));
  EXPECT_FALSE(text::parse_number(",1"));
  EXPECT_FALSE(text::parse_number("1 2"));
}

TEST(RoutingText, FormatsNumbersShortest) {
  EXPECT_EQ(text::format_number(30), "30");
  EXPECT_EQ(text::format_number(21.5), "21.5");
  EXPECT_EQ(text::format_number(-0.25), "-0.25");
  EXPECT_EQ(text::format_number(-std::numeric_limits<double>::infinity()), "-Infinity");
}

TEST(RoutingText, CountsAndIndexesInUtf16Units) {
  EXPECT_EQ(text::utf16_length("abc"), 3u);
  EXPECT_EQ(text::utf16_length("\xC3\xA9"), 1u);
  EXPECT_EQ(text::utf16_length("\xF0\x9F\x98\x80"), 2u);
  EXPECT_EQ(text::utf16_to_byte("\xC3\xA9x", 1), 2u);
  EXPECT_EQ(text::utf16_to_byte("\xF0\x9F\x98\x80x", 2), 4u);
  EXPECT_EQ(text::byte_to_utf16("\xF0\x9F\x98\x80x", 4), 2u);
}

TEST(RoutingText, MapsCaseInvariantly) {
  std::string out;
  text::to_upper("abc\xC3\xA9\xC3\x9F", out); // ß has no single upper case: kept
  EXPECT_EQ(out, "ABC\xC3\x89\xC3\x9F");
  out.clear();
  text::to_lower("\xC4\x80\xC4\xB0Z", out); // Ā İ Z -> ā i z
  EXPECT_EQ(out, "\xC4\x81iz");
  EXPECT_TRUE(text::is_upper_invariant("ABC 123"));
  EXPECT_FALSE(text::is_upper_invariant("aBC"));
  EXPECT_TRUE(text::is_lower_invariant("abc"));
}

TEST(RoutingText, TranscodesUtf16AndUtf32) {
  std::string out;
  text::transcode_to_utf8(std::string("\xFF\xFE"
                                      "a\0\x3D\xD8\x00\xDE",
                                      8),
                          2, out);
  EXPECT_EQ(out, "a\xF0\x9F\x98\x80");
  text::transcode_to_utf8(std::string("b\0\0\0\xE9\0\0\0", 8), 4, out);
  EXPECT_EQ(out, "b\xC3\xA9");
  text::transcode_to_utf8(std::string("\x00\xD8", 2), 2, out); // lone surrogate
  EXPECT_EQ(out, "\xEF\xBF\xBD");
}

TEST(RoutingText, ComparesNamesCaseInsensitively) {
  EXPECT_TRUE(text::iequals("ContentType", "contenttype"));
  EXPECT_FALSE(text::iequals("a", "ab"));
  EXPECT_TRUE(text::istarts_with("$Body.x", "$body."));
}

TEST(JsonPath, ParsesTheSupportedSubset) {
  json_path p;
  ASSERT_FALSE(parse_json_path("a.b[2].c", p));
  ASSERT_EQ(p.segments.size(), 3u);
  EXPECT_EQ(p.segments[0].key, "a");
  EXPECT_EQ(p.segments[1].key, "b");
  EXPECT_EQ(p.segments[1].index, 2);
  EXPECT_EQ(p.segments[2].index, -1);
  EXPECT_FALSE(parse_json_path("x-1.$y.a1", p));
  for (const char* bad : {"", "a.", ".a", "a..b", "a[", "a[]", "a[x]", "a[0][1]", "1", "a.2"}) {
    EXPECT_TRUE(parse_json_path(bad, p)) << bad;
  }
}

TEST(SystemPropertyNames, MapIotEdgeKeysCaseInsensitively) {
  EXPECT_EQ(find_system_property("connectionDeviceId"), system_property::connection_device_id);
  EXPECT_EQ(find_system_property("CONNECTIONMODULEID"), system_property::connection_module_id);
  EXPECT_EQ(find_system_property("cid"), system_property::correlation_id);
  EXPECT_EQ(find_system_property("correlationId"), system_property::correlation_id);
  EXPECT_EQ(find_system_property("absolute-expiry-time"), system_property::absolute_expiry_time);
  EXPECT_EQ(find_system_property("dt-subject"), system_property::component_name);
  EXPECT_EQ(find_system_property("iothub-interface-id"), system_property::interface_id);
  EXPECT_FALSE(find_system_property("messageType"));
  // Every name the model prints maps back to its property, but the AMQP id types: the wire's
  // bookkeeping, not a property routes may ask about.
  for (std::size_t i = 0; i < system_property_count; ++i) {
    const auto p = static_cast<system_property>(i);
    if (p == system_property::amqp_id_types) {
      EXPECT_FALSE(find_system_property(system_property_name(p)));
      continue;
    }
    EXPECT_EQ(find_system_property(system_property_name(p)), p) << system_property_name(p);
  }
}

} // namespace
} // namespace outpost::routing
