#include "supervisor/model/module_spec.hpp"

namespace outpost::supervisor {

const char* to_string(module_type t) noexcept {
  return t == module_type::process ? "process" : "docker";
}

const char* to_string(desired_status s) noexcept {
  return s == desired_status::running ? "running" : "stopped";
}

const char* to_string(restart_policy p) noexcept {
  switch (p) {
    case restart_policy::never:
      return "never";
    case restart_policy::on_failure:
      return "on-failure";
    case restart_policy::on_unhealthy:
      return "on-unhealthy";
    case restart_policy::always:
      return "always";
  }
  return "unknown";
}

const char* to_string(image_pull_policy p) noexcept {
  return p == image_pull_policy::on_create ? "on-create" : "never";
}

} // namespace outpost::supervisor
