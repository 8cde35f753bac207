#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::routing::text {

/// ASCII case-insensitive equality (IoT Edge compares names with OrdinalIgnoreCase).
bool iequals(std::string_view a, std::string_view b) noexcept;
/// ASCII case-insensitive prefix test.
bool istarts_with(std::string_view s, std::string_view prefix) noexcept;

/// Length in UTF-16 code units, as .NET's String.Length counts (a character above U+FFFF
/// counts 2). `s` is UTF-8.
std::size_t utf16_length(std::string_view s) noexcept;
/// Byte offset of UTF-16 index `index` in UTF-8 `s` (rounded up to a character boundary).
std::size_t utf16_to_byte(std::string_view s, std::size_t index) noexcept;
/// UTF-16 index of byte offset `offset` (a character boundary) in UTF-8 `s`.
std::size_t byte_to_utf16(std::string_view s, std::size_t offset) noexcept;

/// ToUpperInvariant / ToLowerInvariant for ASCII, Latin-1, Latin Extended-A, Greek and
/// Cyrillic; other characters are kept. Appends to `out`.
void to_upper(std::string_view s, std::string& out);
void to_lower(std::string_view s, std::string& out);
/// True if `to_upper`/`to_lower` would leave `s` unchanged (then no copy is needed).
bool is_upper_invariant(std::string_view s) noexcept;
bool is_lower_invariant(std::string_view s) noexcept;

/// double.TryParse(s, NumberStyles.Any, InvariantCulture) as far as routes meet it: blanks
/// around, a leading or trailing sign or parentheses, ',' group separators in the integer
/// part, a decimal point, an exponent, and "Infinity". Nothing else.
std::optional<double> parse_number(std::string_view s) noexcept;

/// Shortest text that reads back as `d` ("30", "21.5", "1e+21", "-Infinity").
std::string format_number(double d);

/// Transcodes UTF-16LE (`bytes_per_unit` 2) or UTF-32LE (4) to UTF-8, replacing invalid
/// sequences with U+FFFD and dropping a leading byte order mark.
void transcode_to_utf8(std::string_view bytes, int bytes_per_unit, std::string& out);

} // namespace outpost::routing::text
