#pragma once

// What confines a process module besides its process (process_host): its uid/gid, its private
// folder, its cgroup v2 folder, and the leftovers of a previous outpostd that died.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace outpost::supervisor {

/// A uid/gid pair a module runs as.
struct module_credentials {
  std::int64_t uid = -1; ///< -1: outpostd's own
  std::int64_t gid = -1;
};

/// Does the system's user or group database (/etc/passwd, /etc/group, NSS) know `id`?
bool system_id_taken(std::uint32_t id);

/// The first free uid for module `name` in [min, max]: probing from a point derived from the
/// name, skipping ids the system knows and ids `taken` says are another module's. nullopt when
/// the range is full. The caller stores the result (stable across restarts).
std::optional<std::uint32_t> allocate_module_uid(const std::string& name, std::uint32_t min,
                                                 std::uint32_t max,
                                                 const std::function<bool(std::uint32_t)>& taken);

/// An existing user by name or number: its uid and primary gid, or nullopt with `why`.
std::optional<module_credentials> resolve_user(const std::string& user, std::string& why);

/// The cgroup v2 mount point (from /proc/self/mountinfo: /sys/fs/cgroup on a unified
/// system, /sys/fs/cgroup/unified on a hybrid one), or "" when there is none.
std::string cgroup2_mount();

/// Creates `dir` (a cgroup v2 folder) and checks that processes can be moved into it; "" when
/// it can, else why not.
std::string prepare_cgroup(const std::string& dir);

/// Removes the empty cgroups below `dir`, then `dir` itself (rmdir: a populated cgroup stays).
void remove_empty_cgroups(const std::string& dir);

/// Makes `dir` a module's private folder: created, owned by `who`, mode 0700. "" or why not.
std::string prepare_private_dir(const std::string& dir, const module_credentials& who);

/// The record of a started module kept in `run_dir` (`<name>.pid`: pid and start time), so
/// that the next outpostd can end it if this one dies.
void record_started(const std::string& run_dir, const std::string& name, pid_t pid);
void forget_started(const std::string& run_dir, const std::string& name);

/// Ends what a previous outpostd left running: every recorded module process whose start time
/// still matches (so never a recycled pid) with its session and process group, and every
/// process in a cgroup under `cgroup_dir` (cgroup.kill). Waits up to `wait_ms` until they are
/// gone. Returns what it killed, one "name pid" per entry, for the log.
std::vector<std::string> end_leftovers(const std::string& run_dir, const std::string& cgroup_dir,
                                       int wait_ms = 3000);

} // namespace outpost::supervisor
