#include "protocols/common/error_category.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <system_error>

namespace outpost::test_errc {

enum class errc : std::uint8_t { first = 1, second };

const char* describe(errc e) noexcept {
  switch (e) {
    case errc::first:
      return "the first";
    case errc::second:
      return "the second";
  }
  return nullptr;
}

const std::error_category& category() noexcept {
  static const enum_category<errc> instance{"outpost.test", describe, "unknown test error"};
  return instance;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), category()};
}

} // namespace outpost::test_errc

template <>
struct std::is_error_code_enum<outpost::test_errc::errc> : std::true_type {};

namespace outpost::test_errc {
namespace {

TEST(EnumCategory, NamesAndDescribesEachValue) {
  const std::error_code ec = errc::second;
  EXPECT_STREQ(ec.category().name(), "outpost.test");
  EXPECT_EQ(ec.message(), "the second");
  EXPECT_EQ(ec, errc::second);
  EXPECT_NE(ec, errc::first);
  EXPECT_EQ(&ec.category(), &category());
}

TEST(EnumCategory, AValueThatIsNoEnumeratorIsUnknown) {
  EXPECT_EQ(category().message(0), "unknown test error");
  EXPECT_EQ(category().message(77), "unknown test error");
}

} // namespace
} // namespace outpost::test_errc
