#pragma once

#include "supervisor/model/module_spec.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::supervisor {

/// IoT Edge's deployment status codes (`lastDesiredStatus.code`, facts §1.2).
enum class deployment_code : int {
  ok = 200,             ///< applied
  format_error = 400,   ///< the desired properties do not deserialize; names the field
  unknown = 406,        ///< before the first deployment, or the agent is not running
  invalid_schema = 412, ///< schemaVersion blank, unparseable, major != 1 or > 1.1
  empty = 417,          ///< no desired properties at all
  failed = 500,         ///< executing the plan failed
};

struct deployment_status {
  deployment_code code = deployment_code::unknown;
  std::string description;
  friend bool operator==(const deployment_status& a, const deployment_status& b) {
    return a.code == b.code && a.description == b.description;
  }
};

/// The `$edgeAgent` desired properties, validated. `systemModules.edgeAgent/edgeHub` are
/// validated but run inside outpostd, so only `modules` are supervised.
struct deployment {
  std::string schema_version;          ///< "1.0" or "1.1"
  std::string runtime_type;            ///< "docker" (IoT Edge) or "process"
  std::optional<std::int64_t> version; ///< `$version` of the desired properties, if present
  module_spec edge_hub;                ///< systemModules.edgeHub (status, restartPolicy, settings)
  std::map<std::string, module_spec> modules;
};

/// Either a deployment (status 200) or the status saying why not.
struct parse_result {
  deployment_status status;
  std::optional<deployment> value;
};

/// Parses and validates the `$edgeAgent` desired properties. `json` is a whole deployment
/// manifest (`modulesContent.$edgeAgent["properties.desired"]`), `{"properties.desired": ...}`
/// or the desired document itself. Codes and descriptions as IoT Edge's agent (facts §1.2):
/// 417 when the document is empty ({} or no $edgeAgent section); 412 when schemaVersion is
/// missing, unparseable, of major != 1 or above 1.1; 400 naming the JSON path of the first bad
/// field (e.g. `modules.filter.settings.digest: expected "sha256:" and 64 hex digits`).
parse_result parse_deployment(std::string_view json);

} // namespace outpost::supervisor
