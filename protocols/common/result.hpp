#pragma once

#include <cassert>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

namespace outpost {

/// A value or a `std::error_code`: what pure code returns instead of throwing.
///
/// Converts implicitly from a value, an error code or an error enum registered with
/// `std::is_error_code_enum`, so `return errc::quota_exceeded;` reads naturally.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : value_(std::move(value)) {}
  result(std::error_code ec) : error_(ec) { assert(ec); }
  template <class E, class = std::enable_if_t<std::is_error_code_enum_v<E>>>
  result(E e) : result(make_error_code(e)) {}

  explicit operator bool() const noexcept { return value_.has_value(); }
  bool has_value() const noexcept { return value_.has_value(); }

  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

  std::error_code error() const noexcept { return error_; }

private:
  std::optional<T> value_;
  std::error_code error_;
};

/// `result<void>`: success, or an error code.
template <>
class [[nodiscard]] result<void> {
public:
  result() = default;
  result(std::error_code ec) : error_(ec) {}
  template <class E, class = std::enable_if_t<std::is_error_code_enum_v<E>>>
  result(E e) : error_(make_error_code(e)) {}

  explicit operator bool() const noexcept { return !error_; }
  bool has_value() const noexcept { return !error_; }
  std::error_code error() const noexcept { return error_; }

private:
  std::error_code error_;
};

/// The success value of `result<void>`.
inline result<void> ok() {
  return {};
}

} // namespace outpost
