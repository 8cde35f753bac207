#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <vector>

namespace outpost::supervisor {

/// How a module runs. `process` is ours (an executable on this machine); `docker` is IoT
/// Edge's (a container through the Docker Engine API).
enum class module_type { process, docker };
enum class desired_status { running, stopped };
/// IoT Edge's restart policies (facts §1.2, §2.3); absent = on-unhealthy.
enum class restart_policy { never, on_failure, on_unhealthy, always };
enum class image_pull_policy { on_create, never };

inline constexpr std::uint32_t last_startup_order = std::numeric_limits<std::uint32_t>::max();

/// `settings` of a `process` module.
struct process_settings {
  std::string path;              ///< absolute path of the executable (required)
  std::vector<std::string> args; ///< argv[1..]
  std::string working_dir;       ///< empty: the module's own folder
  std::string digest;            ///< "sha256:<64 hex>" of the executable (required)
  /// `settings.user`: an existing user (name or number) to run as instead of the module's
  /// own allocated uid; empty = allocated (when outpostd runs as root).
  std::string user;
  friend bool operator==(const process_settings& a, const process_settings& b) {
    return a.path == b.path && a.args == b.args && a.working_dir == b.working_dir
           && a.digest == b.digest && a.user == b.user;
  }
};

/// `settings` of a `docker` module. `create_options` is the concatenation of `createOptions`,
/// `createOptions01`..`createOptions99` in order (chunked because twin strings are limited).
struct docker_settings {
  std::string image;          ///< required; ":latest" appended when it has no tag
  std::string create_options; ///< Docker Engine ContainerCreate JSON, "" when absent or "null"
  std::string digest;         ///< optional "sha256:<hex>" the image must have
  friend bool operator==(const docker_settings& a, const docker_settings& b) {
    return a.image == b.image && a.create_options == b.create_options && a.digest == b.digest;
  }
};

/// One module of the `$edgeAgent` desired properties.
struct module_spec {
  std::string name;
  std::string version; ///< free-form; bumping it forces a recreate
  module_type type = module_type::process;
  desired_status status = desired_status::running;
  restart_policy restart = restart_policy::on_unhealthy;
  image_pull_policy pull = image_pull_policy::on_create;
  std::uint32_t startup_order = last_startup_order; ///< lower starts earlier; equal: together
  process_settings process;                         ///< when type == process
  docker_settings docker;                           ///< when type == docker
  std::map<std::string, std::string> env;           ///< `env.NAME.value`, as a string

  /// Equal in everything but the desired status (IoT Edge: only a status change is a
  /// start/stop, any other change an update = stop + recreate + start).
  bool same_config(const module_spec& o) const {
    return name == o.name && version == o.version && type == o.type && restart == o.restart
           && pull == o.pull && startup_order == o.startup_order && process == o.process
           && docker == o.docker && env == o.env;
  }
  friend bool operator==(const module_spec& a, const module_spec& b) {
    return a.same_config(b) && a.status == b.status;
  }
};

const char* to_string(module_type t) noexcept;
const char* to_string(desired_status s) noexcept;
const char* to_string(restart_policy p) noexcept;
const char* to_string(image_pull_policy p) noexcept;

} // namespace outpost::supervisor
