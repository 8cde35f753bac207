#include "actors/app/deployment_source.hpp"

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>

namespace outpost::app {

namespace {

using look_atom = caf::atom_constant<caf::atom("look")>;

std::optional<std::string> read_file(const std::string& path) {
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

struct source_state {
  deployment_source_config cfg;
  std::uint64_t reads = 0;
  /// What each consumer last took: the agent takes every change; the hub may have to be
  /// asked again after a storage failure.
  std::optional<std::string> agent_has;
  std::optional<std::string> hub_has;
  static inline const char* name = "deployment_source";
};

using source_actor = caf::stateful_actor<source_state>;

void look(source_actor* self) {
  auto& st = self->state;
  auto text = read_file(st.cfg.manifest_path);
  const bool to_agent = text != st.agent_has;
  const bool to_hub = text != st.hub_has;
  if (!to_agent && !to_hub) {
    return;
  }
  auto d = read_deployment_text(std::move(text), ++st.reads);
  spdlog::info("[deployment] read {} of {}: {}{}{}", d.number, st.cfg.manifest_path,
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

caf::behavior source_behavior(source_actor* self, deployment_source_config cfg, std::uint64_t reads,
                              std::optional<std::string> applied) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.reads = reads;
  st.agent_has = applied;
  st.hub_has = std::move(applied);
  self->delayed_send(self, st.cfg.interval, look_atom::value);
  return {
      [=](look_atom) {
        look(self);
        self->delayed_send(self, self->state.cfg.interval, look_atom::value);
      },
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

caf::actor spawn_deployment_source(caf::actor_system& sys, deployment_source_config cfg,
                                   const deployment_read& first) {
  return sys.spawn<caf::detached>(source_behavior, std::move(cfg), first.number, first.text);
}

} // namespace outpost::app
