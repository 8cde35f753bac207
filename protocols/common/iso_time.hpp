#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

namespace outpost {

/// "2026-11-26T18:05:57.891Z": ms since the epoch as ISO 8601 UTC with milliseconds (module
/// log lines, `outpost monitor`, reported times). A conversion, not a clock.
inline std::string iso8601_ms(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

} // namespace outpost
