#pragma once

#include <string>
#include <system_error>

namespace outpost {

/// The `std::error_category` of one library's `errc` enum: its name ("outpost.mqtt") and a
/// function giving each value's message. One instance per enum, as a function-local static:
///
///     const char* describe(errc e) noexcept { switch (e) { case errc::x: return "..."; } return
///     nullptr; } const std::error_category& mqtt_category() noexcept {
///       static const enum_category<errc> instance{"outpost.mqtt", describe, "unknown MQTT error"};
///       return instance;
///     }
///
/// `describe` returns nullptr for a value it does not know (an int that is no enumerator);
/// `message()` then says `unknown`. Immutable after construction, so any thread may use it.
template <class Errc>
class enum_category final : public std::error_category {
public:
  using describe_fn = const char* (*)(Errc) noexcept;

  constexpr enum_category(const char* name, describe_fn describe, const char* unknown) noexcept
      : name_(name),
        describe_(describe),
        unknown_(unknown) {}

  const char* name() const noexcept override { return name_; }

  std::string message(int value) const override {
    const char* text = describe_(static_cast<Errc>(value));
    return text != nullptr ? text : unknown_;
  }

private:
  const char* name_;
  describe_fn describe_;
  const char* unknown_;
};

} // namespace outpost
