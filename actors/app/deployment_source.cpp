#include "actors/app/deployment_source.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace outpost::app {

namespace {

namespace fs = std::filesystem;
using look_atom = caf::atom_constant<caf::atom("look")>;

std::optional<std::string> read_file(const std::string& path) {
  if (path.empty()) {
    return std::nullopt;
  }
  std::ifstream in{path};
  if (!in) {
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return std::nullopt;
  }
  return text.str();
}

/// Modification time in ns, or nullopt when there is no such file.
std::optional<std::int64_t> mtime_ns(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) {
    return std::nullopt;
  }
  return std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

/// Replaces `path` with `text` atomically and durably (temporary file, fsync, rename, fsync of
/// the folder): a crash leaves the old deployment or the new one, never half of one.
bool write_durably(const std::string& path, const std::string& text, std::string& why) {
  const fs::path target{path};
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  const auto tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    why = "cannot write " + tmp + ": " + std::strerror(errno);
    return false;
  }
  const bool written = write_all(fd, text) && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    why = "cannot write " + path + ": " + std::strerror(written ? errno : saved);
    ::unlink(tmp.c_str());
    return false;
  }
  const int dir = ::open(target.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

struct source_state {
  deployment_source_config cfg;
  std::uint64_t reads = 0;
  std::optional<std::string> file_text; ///< the manifest file as last read
  bool service_in_force = false;        ///< the service API's deployment is the newest
  std::optional<std::string> in_force;  ///< the text in force
  /// What each consumer last took: the agent takes every change; the hub may have to be
  /// asked again after a storage failure.
  std::optional<std::string> agent_has;
  std::optional<std::string> hub_has;
  static inline const char* name = "deployment_source";
};

using source_actor = caf::stateful_actor<source_state>;

void publish(source_actor* self, std::uint64_t number) {
  auto& st = self->state;
  auto o = std::make_shared<deployment_origin>();
  o->source = st.service_in_force ? "service API" : st.in_force ? "file" : "none";
  o->path = st.service_in_force ? st.cfg.applied_path : st.cfg.manifest_path;
  o->number = number;
  o->at_ms = st.cfg.now_ms ? st.cfg.now_ms() : 0;
  o->text = st.in_force.value_or(std::string{});
  st.cfg.origin->set(std::move(o));
}

/// Hands the deployment in force to whichever consumer does not have it yet.
void hand_over(source_actor* self, deployment_read d, const std::string& from) {
  auto& st = self->state;
  const bool to_agent = d.text != st.agent_has;
  const bool to_hub = d.text != st.hub_has;
  if (!to_agent && !to_hub) {
    return;
  }
  spdlog::info("[deployment] read {} of {}: {}{}{}", d.number, from,
               !d.text ? "cannot read it, " : "", to_agent ? "$edgeAgent to the agent" : "",
               to_hub ? (to_agent ? ", $edgeHub to the hub" : "$edgeHub to the hub") : "");
  if (to_agent) {
    st.agent_has = d.text;
    self->send(st.cfg.agent, actors::deployment_atom::value, std::move(d.agent));
  }
  if (to_hub && st.cfg.hub(d.hub)) {
    st.hub_has = d.text;
  }
}

void look(source_actor* self) {
  auto& st = self->state;
  if (!st.cfg.manifest_path.empty()) {
    auto text = read_file(st.cfg.manifest_path);
    if (text != st.file_text) { // the file changed: now it is the newest
      st.file_text = text;
      st.service_in_force = false;
      st.in_force = std::move(text);
      publish(self, st.reads + 1);
    }
  }
  if (st.in_force == st.agent_has && st.in_force == st.hub_has) {
    return;
  }
  hand_over(self, read_deployment_text(st.in_force, ++st.reads),
            st.service_in_force ? "the service API's deployment" : st.cfg.manifest_path);
}

std::string apply(source_actor* self, std::string text) {
  auto& st = self->state;
  auto d = read_deployment_text(text, st.reads + 1);
  if (!d.agent.parsed.value) {
    return "$edgeAgent: " + std::to_string(static_cast<int>(d.agent.parsed.status.code)) + " "
           + d.agent.parsed.status.description;
  }
  if (!d.hub.routes) {
    return "$edgeHub: " + d.hub.error;
  }
  std::string why;
  if (!write_durably(st.cfg.applied_path, text, why)) {
    return why;
  }
  ++st.reads;
  st.service_in_force = true;
  st.in_force = std::move(text);
  publish(self, d.number);
  hand_over(self, std::move(d), "the service API's deployment");
  return {};
}

caf::behavior source_behavior(source_actor* self, deployment_source_config cfg, std::uint64_t reads,
                              std::optional<std::string> applied, deployment_origin origin) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.reads = reads;
  st.service_in_force = origin.source == "service API";
  // The file as it is now: only a later change of it overrides the service's deployment.
  st.file_text = st.service_in_force ? read_file(st.cfg.manifest_path) : applied;
  st.in_force = applied;
  st.agent_has = applied;
  st.hub_has = std::move(applied);
  st.cfg.origin->set(std::make_shared<deployment_origin>(std::move(origin)));
  self->delayed_send(self, st.cfg.interval, look_atom::value);
  return {
      [=](look_atom) {
        look(self);
        self->delayed_send(self, self->state.cfg.interval, look_atom::value);
      },
      [=](apply_deployment_atom, std::string text) { return apply(self, std::move(text)); },
  };
}

} // namespace

deployment_read read_deployment_text(std::optional<std::string> text, std::uint64_t number) {
  deployment_read d;
  d.number = number;
  d.hub = actors::edgehub_deployment_of(text);
  d.agent = actors::agent_deployment_of(text);
  d.text = std::move(text);
  return d;
}

deployment_read read_deployment(const std::string& path, std::uint64_t number) {
  auto d = read_deployment_text(read_file(path), number);
  spdlog::info("[deployment] read {} of {}{}", d.number, path, d.text ? "" : ": cannot read it");
  return d;
}

std::optional<std::string> read_applied_deployment(const std::string& applied_path) {
  return read_file(applied_path);
}

std::optional<deployment_read> read_initial_deployment(const std::string& manifest_path,
                                                       const std::string& applied_path,
                                                       deployment_origin& origin) {
  const auto file_time = mtime_ns(manifest_path);
  const auto applied_time = mtime_ns(applied_path);
  const bool service = applied_time && (!file_time || *applied_time > *file_time);
  if (service) {
    auto d = read_deployment_text(read_file(applied_path), 1);
    spdlog::info("[deployment] read 1 of {} (the service API's, newer than the manifest file)",
                 applied_path);
    origin = {"service API", applied_path, 1, *applied_time / 1'000'000, d.text.value_or("")};
    return d;
  }
  if (manifest_path.empty()) {
    origin = {"none", {}, 0, 0, {}};
    return std::nullopt;
  }
  auto d = read_deployment(manifest_path, 1);
  origin = {"file", manifest_path, 1, file_time ? *file_time / 1'000'000 : 0, d.text.value_or("")};
  return d;
}

caf::actor spawn_deployment_source(caf::actor_system& sys, deployment_source_config cfg,
                                   const std::optional<deployment_read>& first,
                                   const deployment_origin& first_origin) {
  return sys.spawn<caf::detached>(source_behavior, std::move(cfg), first ? first->number : 0,
                                  first ? first->text : std::nullopt, first_origin);
}

} // namespace outpost::app
