#pragma once

#include "protocols/common/result.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

namespace outpost::supervisor {

/// How to start one module process.
struct spawn_spec {
  std::string path;              ///< the verified executable
  std::vector<std::string> args; ///< argv[1..]
  std::string working_dir;       ///< must exist
  std::vector<std::string> env;  ///< the whole environment, "NAME=value"
  std::string log_path;          ///< stdout and stderr go here, a timestamp per line
};

/// Size cap of a module's log: `log_path` is rotated to `.1` ... `.<keep>` when it would grow
/// past `max_bytes`; the oldest goes.
struct log_limits {
  std::uint64_t max_bytes = 1u << 20;
  int keep = 3;
};

/// Starts module processes and watches them: each runs in its own process group (so a stop
/// reaches its children too) with stdout and stderr on a pipe and no other descriptor of
/// the daemon; one thread polls every pipe (lines go to the module's rotating log, each with
/// an ISO 8601 UTC timestamp) and every child's pidfd (the exit is reaped and reported).
/// Thread-safe. The destructor kills what still runs (SIGKILL to each group) and joins.
class process_host {
public:
  /// Called on the host's thread when the process exited: its exit code, or 128 + signal.
  using exit_fn = std::function<void(pid_t pid, int exit_code)>;

  explicit process_host(log_limits limits = {});
  ~process_host();
  process_host(const process_host&) = delete;
  process_host& operator=(const process_host&) = delete;

  /// Starts `spec`; the pid, or an error with `why` saying what failed.
  result<pid_t> spawn(const spawn_spec& spec, exit_fn on_exit, std::string& why);

  /// Sends `sig` to the process group of `pid` (a module and the children it started).
  void signal(pid_t pid, int sig);

  /// Processes started and not yet reaped.
  std::size_t running() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Why `path` must not run as a module, or "" when it may: it must be a regular executable
/// file, neither it nor its folder writable by everyone, and its SHA-256 must be `digest`
/// ("sha256:<64 lower-case hex>").
std::string verify_executable(const std::string& path, const std::string& digest);

/// "sha256:<hex>" of the file's content, or "" if it cannot be read.
std::string file_digest(const std::string& path);

/// The lines of a module's log (`log_path` and its rotated files, oldest first) with a
/// timestamp >= `since_ms` (0: all), the last `tail` of them (0: all).
std::vector<std::string> read_log(const std::string& log_path, std::size_t tail,
                                  std::int64_t since_ms);

/// Milliseconds since the epoch of a log line's leading timestamp, or -1.
std::int64_t log_line_time_ms(const std::string& line);

/// A `since` of `outpost logs` and GetModuleLogs in ms since the epoch: unix seconds, ISO 8601
/// UTC ("2026-11-26T18:00:00Z"), or a duration back from `now_ms` ("30s", "10m", "2h", "1d");
/// 0 for ""; -1 when it is none of these.
std::int64_t parse_since(const std::string& since, std::int64_t now_ms);

} // namespace outpost::supervisor
