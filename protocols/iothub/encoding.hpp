#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace outpost::iothub {

/// Percent-encodes every byte except RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`),
/// with upper-case hex: .NET `Uri.EscapeDataString`, which edgeHub's property bag serializer
/// uses (facts §3.5), and the Node SDK's `encodeURIComponent`-strict for SAS tokens
/// (azure-sdk-wire.md §1). `$` becomes `%24`, space `%20`, `/` `%2F`.
std::string percent_encode(std::string_view in);

/// Decodes `%XX` escapes like .NET `Uri.UnescapeDataString`: `+` stays `+`, a `%` not
/// followed by two hex digits stays as it is, and escaped bytes that do not form valid UTF-8
/// stay escaped (so valid UTF-8 in gives valid UTF-8 out). Never fails.
std::string percent_decode(std::string_view in);

/// The percent-decoded value of query parameter `name` in a request target
/// ("/logs?tail=5&since=10m"), or "" when absent.
std::string query_parameter(std::string_view target, std::string_view name);

/// Standard base64 (RFC 4648 §4) with `=` padding.
std::string base64_encode(std::string_view bytes);

/// Decodes standard padded base64 (length a multiple of 4, `=` only at the end), as symmetric
/// keys and SAS signatures are written; nothing for anything else.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace outpost::iothub
