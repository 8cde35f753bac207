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
  std::string path;              ///< the verified executable (argv[0], messages)
  std::vector<std::string> args; ///< argv[1..]
  std::string working_dir;       ///< must exist
  std::vector<std::string> env;  ///< the whole environment, "NAME=value"
  std::string log_path;          ///< stdout and stderr go here, a timestamp per line
  /// The verified executable opened by `open_verified` (owned by the caller): the child
  /// executes this very file (execveat AT_EMPTY_PATH; a `#!` script through /dev/fd/3), never
  /// `path` again. -1: `path` is executed (tests).
  int exec_fd = -1;
  bool script = false; ///< `exec_fd` starts with "#!"
  /// The uid/gid the module runs as (no supplementary groups); -1 = outpostd's own.
  std::int64_t uid = -1;
  std::int64_t gid = -1;
  /// A cgroup v2 folder (existing) the child joins before it executes; "" = none.
  std::string cgroup;
};

/// Size cap of a module's log: `log_path` is rotated to `.1` ... `.<keep>` when it would grow
/// past `max_bytes`; the oldest goes.
struct log_limits {
  std::uint64_t max_bytes = 1u << 20;
  int keep = 3;
};

/// Starts module processes and watches them. Each child is forked by the host's own thread
/// (so its parent-death signal, SIGKILL, fires only when outpostd dies) and, before it
/// executes, makes its own session (setsid: a stop reaches the session's process group, and
/// no module can join another's group), joins its cgroup, drops to its uid/gid, sets
/// no_new_privs and gets stdout and stderr on a pipe and no other descriptor of the daemon.
/// Between fork and exec the child makes only async-signal-safe calls (everything is
/// prepared before the fork). One thread polls every pipe (lines go to the module's rotating
/// log, each with an ISO 8601 UTC timestamp) and every child's pidfd (the exit is reaped and
/// reported; what is left in the module's cgroup is killed). Thread-safe. The destructor
/// kills what still runs (SIGKILL to each group) and joins.
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

/// Opens `path` (O_RDONLY|O_CLOEXEC) and checks the opened file: a regular executable file,
/// owned by root or outpostd's uid and not writable by group or others, in a folder owned by
/// root or outpostd's uid and not writable by group or others, whose SHA-256 (read from the
/// descriptor) is `digest` ("sha256:<64 lower-case hex>"). The descriptor (the caller closes
/// it) to give `spawn_spec::exec_fd`, or -1 with `why`. `script` says whether it starts "#!".
int open_verified(const std::string& path, const std::string& digest, bool& script,
                  std::string& why);

/// `open_verified` without keeping the descriptor: why `path` must not run, or "".
std::string verify_executable(const std::string& path, const std::string& digest);

/// "sha256:<hex>" of the file's content, or "" if it cannot be read.
std::string file_digest(const std::string& path);

/// "sha256:<hex>" of what `fd` holds from offset 0 (pread), or "" on a read error.
std::string fd_digest(int fd);

/// The start time of `pid` (field 22 of /proc/<pid>/stat, clock ticks since boot), or 0 when
/// there is no such process. With the pid it names one process across pid reuse.
std::uint64_t process_start_time(pid_t pid);

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
