#include "actors/agent/docker_module_actor.hpp"

#include "actors/agent/agent_messages.hpp"
#include "supervisor/runtime/docker_engine.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <fstream>

namespace outpost::actors {

namespace {

using poll_atom = caf::atom_constant<caf::atom("dpoll")>;

struct docker_state {
  docker_module_config cfg;
  pid_t pid = 0; ///< while running
  std::string log_path;
  int polls = 0;
  static inline const char* name = "docker_module";
};

using docker_actor = caf::stateful_actor<docker_state>;

/// The container's log, rewritten into the module's log file (IoT Edge reads Docker's logs).
void copy_logs(docker_actor* self) {
  auto& st = self->state;
  std::string why;
  auto lines = st.cfg.engine->logs(st.cfg.name, 5000, why);
  if (!lines || st.log_path.empty()) {
    return;
  }
  std::ofstream out{st.log_path + ".tmp", std::ios::trunc};
  for (const auto& l : *lines) {
    out << l << "\n";
  }
  out.close();
  std::rename((st.log_path + ".tmp").c_str(), st.log_path.c_str());
}

/// The container stopped: tell the agent once.
void exited(docker_actor* self, int code) {
  auto& st = self->state;
  const auto pid = st.pid;
  st.pid = 0;
  copy_logs(self);
  spdlog::info("[module {}] container exited with {}", st.cfg.name, code);
  self->send(st.cfg.agent, module_exit{st.cfg.name, pid, code, st.cfg.now_ms()});
}

start_reply start(docker_actor* self, supervisor::spawn_spec& spec) {
  auto& st = self->state;
  auto& engine = *st.cfg.engine;
  st.log_path = spec.log_path;
  std::string why;
  auto id = engine.image_id(st.cfg.image, why);
  if (!id && id.error() == std::errc::no_such_file_or_directory && st.cfg.pull) {
    if (auto pulled = engine.pull(st.cfg.image, why); !pulled) {
      return {"not started: cannot pull " + st.cfg.image + ": " + why, 0, 0};
    }
    id = engine.image_id(st.cfg.image, why);
  }
  if (!id) {
    return {"not started: image " + st.cfg.image + ": " + why, 0, 0};
  }
  if (!st.cfg.digest.empty() && *id != st.cfg.digest) {
    return {"not started: image " + st.cfg.image + " is " + *id + ", the deployment says "
                + st.cfg.digest,
            0, 0};
  }
  auto state = engine.inspect(st.cfg.name, why);
  if (state && state->image_id != *id && state->image_id != id->substr(7)) {
    (void)engine.remove(st.cfg.name, why); // an old container of another image: recreate
    state = std::make_error_code(std::errc::no_such_file_or_directory);
  }
  if (!state) {
    supervisor::container_spec c{
        st.cfg.name,
        st.cfg.image,
        st.cfg.create_options,
        spec.env,
        {{"net.azure-devices.edge.owner", "Microsoft.Azure.Devices.Edge.Agent"},
         {"net.azure-devices.edge.managed-by", "outpost"}},
        st.cfg.binds};
    if (auto made = engine.create(c, why); !made) {
      return {"not started: creating the container: " + why, 0, 0};
    }
  }
  if (auto started = engine.start(st.cfg.name, why); !started) {
    return {"not started: " + why, 0, 0};
  }
  auto running = engine.inspect(st.cfg.name, why);
  if (!running) {
    return {"not started: " + why, 0, 0};
  }
  st.pid = running->pid;
  st.polls = 0;
  spdlog::info("[module {}] container started, pid {}", st.cfg.name, st.pid);
  self->delayed_send(self, std::chrono::milliseconds(500), poll_atom::value);
  return {{}, st.pid, st.cfg.now_ms()};
}

caf::behavior docker_behavior(docker_actor* self, docker_module_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
      [=](start_atom, supervisor::spawn_spec& spec) { return start(self, spec); },
      [=](poll_atom) {
        auto& st = self->state;
        if (st.pid == 0) {
          return;
        }
        std::string why;
        auto s = st.cfg.engine->inspect(st.cfg.name, why);
        if (s && !s->running) {
          return exited(self, s->exit_code);
        }
        if (!s && s.error() == std::errc::no_such_file_or_directory) {
          return exited(self, 137); // removed behind our back
        }
        if (++st.polls % 4 == 0) {
          copy_logs(self);
        }
        self->delayed_send(self, std::chrono::milliseconds(500), poll_atom::value);
      },
      [=](stop_atom, std::chrono::milliseconds grace) -> int {
        auto& st = self->state;
        if (st.pid == 0) {
          return -1;
        }
        std::string why;
        if (auto stopped = st.cfg.engine->stop(
                st.cfg.name, std::chrono::duration_cast<std::chrono::seconds>(grace), why);
            !stopped) {
          spdlog::error("[module {}] stop: {}", st.cfg.name, why);
        }
        auto s = st.cfg.engine->inspect(st.cfg.name, why);
        const int code = s ? s->exit_code : 137;
        exited(self, code);
        return code;
      },
      [=](remove_atom) {
        std::string why;
        if (auto r = self->state.cfg.engine->remove(self->state.cfg.name, why); !r) {
          spdlog::error("[module {}] remove: {}", self->state.cfg.name, why);
        }
        return true;
      },
  };
}

} // namespace

caf::actor spawn_docker_module_actor(caf::actor_system& sys, docker_module_config cfg) {
  return sys.spawn<caf::detached>(docker_behavior, std::move(cfg));
}

} // namespace outpost::actors
