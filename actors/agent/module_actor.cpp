#include "actors/agent/module_actor.hpp"

#include "actors/agent/agent_messages.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <unistd.h>

namespace outpost::actors {

namespace {

struct module_state {
  module_actor_config cfg;
  pid_t pid = 0; ///< while running
  std::vector<caf::response_promise> stopping;
  static inline const char* name = "module";
};

using module_actor = caf::stateful_actor<module_state>;

caf::behavior module_behavior(module_actor* self, module_actor_config cfg) {
  self->state.cfg = std::move(cfg);
  return {
      [=](start_atom, supervisor::spawn_spec& spec) -> start_reply {
        auto& st = self->state;
        if (st.pid != 0) {
          return {{}, st.pid, 0}; // already running
        }
        std::string why;
        bool script = false;
        const int fd = supervisor::open_verified(spec.path, st.cfg.digest, script, why);
        if (fd < 0) {
          return {"not started: " + why, 0, 0};
        }
        // Test hook (tests/security): replace the file right after its check, as an attacker
        // racing the start would. What runs must still be the verified file.
        if (const char* swap = std::getenv("OUTPOST_TEST_SWAP_AFTER_VERIFY");
            swap && *swap && std::rename(swap, spec.path.c_str()) == 0) {
          spdlog::warn("[module {}] test hook: {} replaced after verification", st.cfg.name,
                       spec.path);
        }
        spec.exec_fd = fd; // executed through this descriptor: the content that was hashed
        spec.script = script;
        caf::actor me{self};
        auto pid = st.cfg.host->spawn(
            spec, [me](pid_t p, int code) { caf::anon_send(me, exited_atom::value, p, code); },
            why);
        ::close(fd);
        if (!pid) {
          return {"not started: " + why, 0, 0};
        }
        st.pid = *pid;
        spdlog::info("[module {}] started, pid {}", st.cfg.name, st.pid);
        return {{}, st.pid, st.cfg.now_ms()};
      },
      [=](stop_atom, std::chrono::milliseconds grace) -> caf::result<int> {
        auto& st = self->state;
        if (st.pid == 0) {
          return -1;
        }
        st.cfg.host->signal(st.pid, SIGTERM);
        self->delayed_send(self, grace, kill_atom::value, st.pid);
        st.stopping.push_back(self->make_response_promise());
        return st.stopping.back();
      },
      [=](remove_atom) { return true; }, // nothing outlives the process
      [=](kill_atom, pid_t pid) {
        auto& st = self->state;
        if (st.pid == pid && pid != 0) {
          spdlog::warn("[module {}] did not stop on SIGTERM: SIGKILL", st.cfg.name);
          st.cfg.host->signal(pid, SIGKILL);
        }
      },
      [=](exited_atom, pid_t pid, int code) {
        auto& st = self->state;
        if (pid != st.pid) {
          return;
        }
        st.pid = 0;
        spdlog::info("[module {}] exited with {}", st.cfg.name, code);
        for (auto& rp : st.stopping) {
          rp.deliver(code);
        }
        st.stopping.clear();
        self->send(st.cfg.agent, module_exit{st.cfg.name, pid, code, st.cfg.now_ms()});
      },
  };
}

} // namespace

caf::actor spawn_module_actor(caf::actor_system& sys, module_actor_config cfg) {
  // Detached: starting a process hashes the executable, forks and execs; stopping waits.
  return sys.spawn<caf::detached>(module_behavior, std::move(cfg));
}

} // namespace outpost::actors
