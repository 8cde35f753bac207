#pragma once

#include "protocols/common/result.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace outpost::supervisor {

/// A container as the engine reports it (`GET /containers/{name}/json`).
struct container_state {
  bool running = false;
  int exit_code = 0;
  pid_t pid = 0;      ///< of its main process, in the host's pid namespace
  std::string status; ///< "created", "running", "exited", ...
  std::string image_id;
};

/// What the agent asks for when it creates a module's container.
struct container_spec {
  std::string name;
  std::string image;
  std::string create_options;   ///< ContainerCreate JSON from the deployment ("" = none)
  std::vector<std::string> env; ///< "NAME=value", after the createOptions' own Env
  std::map<std::string, std::string> labels;
  std::vector<std::string> binds; ///< "host:container[:opts]", added to HostConfig.Binds
};

/// A blocking Docker Engine API client (v1.41; Docker and `podman system service`) over a
/// unix socket, for the detached module actors of `docker` modules. Every call returns the
/// engine's message in `why` on failure. Thread-compatible; cancel() is thread-safe.
class docker_engine {
public:
  /// `address`: "unix:///var/run/docker.sock" or a plain socket path.
  explicit docker_engine(std::string address);
  ~docker_engine();
  docker_engine(const docker_engine&) = delete;
  docker_engine& operator=(const docker_engine&) = delete;

  /// Ends every call in flight and every later one with `std::errc::operation_canceled`, from
  /// any thread: the daemon's shutdown does not wait for a hung engine.
  void cancel() const;

  /// The image's id ("sha256:..."); `std::errc::no_such_file_or_directory` when missing.
  result<std::string> image_id(const std::string& image, std::string& why) const;
  /// Pulls `image` (registry access needed).
  result<void> pull(const std::string& image, std::string& why) const;
  /// Creates the container; its id.
  result<std::string> create(const container_spec& spec, std::string& why) const;
  result<void> start(const std::string& name, std::string& why) const;
  /// Stops it: SIGTERM, SIGKILL after `grace` (the engine does it).
  result<void> stop(const std::string& name, std::chrono::seconds grace, std::string& why) const;
  /// Removes it, running or not; a missing container is fine.
  result<void> remove(const std::string& name, std::string& why) const;
  /// `std::errc::no_such_file_or_directory` when there is no such container.
  result<container_state> inspect(const std::string& name, std::string& why) const;
  /// Its stdout and stderr lines with the engine's timestamps (Docker's multiplexed stream
  /// decoded), the last `tail` of them.
  result<std::vector<std::string>> logs(const std::string& name, std::size_t tail,
                                        std::string& why) const;

private:
  std::string address_; ///< "unix:/path" as http_call takes it
  int cancel_fd_ = -1;  ///< an eventfd; readable once cancel() ran
};

/// Merges the deployment's createOptions with what the agent adds (image, env, labels, binds,
/// network mode `host` unless given): the ContainerCreate body. nullopt (and `why`) when
/// createOptions is not a JSON object. Pure; tested on its own.
std::optional<std::string> container_create_body(const container_spec& spec, std::string& why);

/// "2026-11-26T18:05:57.891Z text" from Docker's "2026-11-26T18:05:57.891234567Z text".
std::string log_line_from_docker(const std::string& line);

} // namespace outpost::supervisor
