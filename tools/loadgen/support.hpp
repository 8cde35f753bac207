#pragma once

#include "tools/loadgen/options.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace outpost::loadgen {

/// CLOCK_MONOTONIC in nanoseconds (what std::chrono::steady_clock reads on Linux).
std::int64_t now_ns();

/// `tmpl` with every `{key}` replaced by `value`.
std::string expand(std::string tmpl, const std::string& key, const std::string& value);

/// The client id of the n-th client (1-based) from `options::id_template`.
std::string client_id(const options& o, int n);

/// Username and password for one client's CONNECT.
struct credentials {
  std::optional<std::string> username;
  std::optional<std::string> password;
};

/// Builds CONNECT credentials: IoT Hub style (`<hub>/<id>/?api-version=2021-04-12` and a SAS
/// token from the keys file), a username template with a fixed password, or none.
class credential_source {
public:
  /// Throws std::runtime_error when the keys file cannot be read or is malformed.
  explicit credential_source(const options& o);

  /// Throws std::runtime_error when IoT Hub credentials are asked for an id without a key.
  credentials for_client(const std::string& id) const;

private:
  const options& o_;
  std::map<std::string, std::string> keys_;
};

/// What /proc says about a process (or the whole machine for `system_busy_ticks`).
struct proc_sample {
  std::int64_t cpu_us = 0;  ///< utime + stime
  std::int64_t rss_kib = 0; ///< VmRSS
  std::int64_t hwm_kib = 0; ///< VmHWM (peak RSS)
  bool ok = false;
};
proc_sample sample_process(int pid);

/// Busy CPU time of the whole machine (all CPUs, /proc/stat: everything but idle and iowait),
/// in microseconds.
std::int64_t system_busy_us();

/// This process's user + system CPU time in microseconds.
std::int64_t self_cpu_us();

/// Nearest-rank percentile of sorted values (0 when empty).
std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double p);

/// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft limit.
std::uint64_t raise_fd_limit();

} // namespace outpost::loadgen
