#include "protocols/common/decimal.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace outpost {
namespace {

TEST(ParseDecimal, DigitsWithinTheTypeAreItsValue) {
  EXPECT_EQ(parse_decimal<std::uint16_t>("0"), 0);
  EXPECT_EQ(parse_decimal<std::uint16_t>("65535"), 65535);
  EXPECT_EQ(parse_decimal<std::uint16_t>("00080"), 80);
  EXPECT_EQ(parse_decimal<std::int64_t>("999999999999999999"), 999999999999999999);
  EXPECT_EQ(parse_decimal<long>("3"), 3);
}

TEST(ParseDecimal, AnythingButDigitsOrAValueOutsideTheTypeIsNothing) {
  for (const char* text : {"", "-1", "+1", " 1", "1 ", "1a", "0x10", "1.0", "65536"}) {
    EXPECT_FALSE(parse_decimal<std::uint16_t>(text)) << text;
  }
  EXPECT_FALSE(parse_decimal<std::int64_t>("-5")) << "no sign, even for a signed type";
  EXPECT_FALSE(parse_decimal<std::int64_t>("9223372036854775808"));
  EXPECT_EQ(parse_decimal<std::int64_t>("9223372036854775807"), INT64_MAX);
}

} // namespace
} // namespace outpost
