#pragma once

#include "supervisor/model/deployment.hpp"
#include "supervisor/runtime/process_host.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include <sys/types.h>

namespace outpost::actors {

using start_atom = caf::atom_constant<caf::atom("start")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using kill_atom = caf::atom_constant<caf::atom("kill")>;
using exited_atom = caf::atom_constant<caf::atom("exited")>;
using tick_agent_atom = caf::atom_constant<caf::atom("agenttick")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;
using method_atom = caf::atom_constant<caf::atom("method")>;
using remove_atom = caf::atom_constant<caf::atom("remove")>;
using deployment_atom = caf::atom_constant<caf::atom("deploy")>;

/// The `$edgeAgent` desired properties of one read of the deployment, validated by the
/// deployment source (actors/app/deployment_source): the agent only carries them out.
struct agent_deployment {
  std::optional<std::string> text; ///< the manifest as read; nullopt: it cannot be read
  supervisor::parse_result parsed; ///< `$edgeAgent` validated (meaningful when `text`)
};

/// Validates the `$edgeAgent` section of manifest text `text`. Pure; called once per read.
inline agent_deployment agent_deployment_of(std::optional<std::string> text) {
  agent_deployment d;
  if (text) {
    d.parsed = supervisor::parse_deployment(*text);
  }
  d.text = std::move(text);
  return d;
}

/// A module actor's answer to `start_atom`: `error` empty when the process runs.
struct start_reply {
  std::string error;
  pid_t pid = 0;
  std::int64_t at_ms = 0;
};

/// A module's process ended (module actor -> agent).
struct module_exit {
  std::string name;
  pid_t pid = 0;
  int exit_code = 0;
  std::int64_t at_ms = 0;
};

/// An agent direct method (`ping`, `RestartModule`, `GetModuleLogs`): status and JSON payload.
struct method_reply {
  int status = 200;
  std::string payload = "null";
};

} // namespace outpost::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::supervisor::spawn_spec)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::start_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::module_exit)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::method_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(outpost::actors::agent_deployment)
