// parse_deployment: the $edgeAgent desired properties of an IoT Edge deployment manifest,
// schema 1.0 and 1.1 (iotedge-facts §1.2; IoT Edge's EdgeAgentConnection, DeploymentConfig,
// DockerConfig). Pure: text in, a validated deployment or IoT Edge's status code out.

#include "supervisor/model/deployment.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <utility>

namespace outpost::supervisor {

namespace {

using json = nlohmann::json;

constexpr std::string_view format_prefix = "Agent configuration format is invalid: ";
constexpr std::string_view empty_description =
    "This device has an empty configuration for the edge agent. Please set a deployment "
    "manifest.";

/// The first thing wrong with the document: where (dotted JSON path) and what.
struct problem {
  std::string path;
  std::string what;
};
using check = std::optional<problem>;

parse_result failure(deployment_code code, std::string description) {
  return {{code, std::move(description)}, std::nullopt};
}

parse_result format_failure(const problem& p) {
  std::string d(format_prefix);
  if (!p.path.empty()) {
    d += p.path + ": ";
  }
  return failure(deployment_code::format_error, d + p.what);
}

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

/// A value as written in the document, cut short so a huge blob cannot flood the reported
/// status (twin reported properties are size-limited too).
std::string shown(const json& v) {
  constexpr std::size_t max_chars = 80;
  auto text = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > max_chars) {
    text.resize(max_chars);
    text += "...";
  }
  return text;
}

problem wrong(const std::string& path, std::string_view expected, const json& got) {
  return {path, "expected " + std::string(expected) + ", got " + shown(got)};
}

problem missing(const std::string& path) {
  return {path, "required"};
}

/// The member `key`, or nullptr when absent or null (JSON.NET reads a null as absent).
const json* member(const json& obj, const std::string& key) {
  const auto it = obj.find(key);
  return it == obj.end() || it->is_null() ? nullptr : &*it;
}

bool is_blank(std::string_view s) {
  return s.find_first_not_of(" \t\r\n\v\f") == std::string_view::npos;
}

// ---- scalar members ------------------------------------------------------------------------

/// An optional string member; `out` keeps its default when absent.
check read_string(const json& obj, const std::string& path, const std::string& key,
                  std::string& out) {
  const json* v = member(obj, key);
  if (v == nullptr) {
    return std::nullopt;
  }
  if (!v->is_string()) {
    return wrong(join(path, key), "a string", *v);
  }
  out = v->get_ref<const std::string&>();
  return std::nullopt;
}

check require_string(const json& obj, const std::string& path, const std::string& key,
                     std::string& out) {
  if (member(obj, key) == nullptr) {
    return missing(join(path, key));
  }
  return read_string(obj, path, key, out);
}

template <typename E, std::size_t N>
using enum_names = std::array<std::pair<std::string_view, E>, N>;

constexpr enum_names<module_type, 2> module_types{
    {{"process", module_type::process}, {"docker", module_type::docker}}};
constexpr enum_names<desired_status, 2> statuses{
    {{"running", desired_status::running}, {"stopped", desired_status::stopped}}};
constexpr enum_names<restart_policy, 4> restart_policies{
    {{"never", restart_policy::never},
     {"on-failure", restart_policy::on_failure},
     {"on-unhealthy", restart_policy::on_unhealthy},
     {"always", restart_policy::always}}};
constexpr enum_names<image_pull_policy, 2> pull_policies{
    {{"on-create", image_pull_policy::on_create}, {"never", image_pull_policy::never}}};

/// "a, b or c": the accepted values, for the error message.
template <typename E, std::size_t N>
std::string one_of(const enum_names<E, N>& names) {
  std::string s;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) {
      s += i + 1 == N ? " or " : ", ";
    }
    s += names[i].first;
  }
  return s;
}

/// An enum member spelled as IoT Edge spells it (case-sensitive, as the JSON schema's enum).
template <typename E, std::size_t N>
check read_enum(const json& obj, const std::string& path, const std::string& key,
                const enum_names<E, N>& names, bool required, E& out) {
  const json* v = member(obj, key);
  if (v == nullptr) {
    return required ? check{missing(join(path, key))} : std::nullopt;
  }
  for (const auto& [name, value] : names) {
    if (v->is_string() && v->get_ref<const std::string&>() == name) {
      out = value;
      return std::nullopt;
    }
  }
  return wrong(join(path, key), one_of(names), *v);
}

/// startupOrder is a .NET uint; integral doubles ("5.0") are accepted as JSON.NET does.
check read_startup_order(const json& obj, const std::string& path, std::uint32_t& out) {
  const json* v = member(obj, "startupOrder");
  if (v == nullptr) {
    return std::nullopt;
  }
  std::optional<std::uint64_t> n;
  if (v->is_number_unsigned()) {
    n = v->get<std::uint64_t>();
  } else if (v->is_number_float()) {
    const double d = v->get<double>();
    if (d >= 0 && d <= static_cast<double>(last_startup_order) && std::floor(d) == d) {
      n = static_cast<std::uint64_t>(d);
    }
  }
  if (!n || *n > last_startup_order) {
    return wrong(join(path, "startupOrder"), "an integer from 0 to 4294967295", *v);
  }
  out = static_cast<std::uint32_t>(*n);
  return std::nullopt;
}

// ---- env -----------------------------------------------------------------------------------

/// Schema pattern ^[^\+#$\s\.]+$.
bool valid_env_name(std::string_view name) {
  return !name.empty() && name.find_first_of("+#$. \t\r\n\v\f") == std::string_view::npos;
}

/// `env.NAME.value` as the string the process will see: numbers as JSON prints them.
check read_env_value(const json& entry, const std::string& path, std::string& out) {
  const json* v = member(entry, "value");
  if (v == nullptr) {
    return missing(join(path, "value"));
  }
  if (v->is_string()) {
    out = v->get_ref<const std::string&>();
  } else if (v->is_boolean()) {
    out = v->get<bool>() ? "true" : "false";
  } else if (v->is_number()) {
    out = v->dump();
  } else {
    return wrong(join(path, "value"), "a string, number or boolean", *v);
  }
  return std::nullopt;
}

check read_env(const json& obj, const std::string& path, std::map<std::string, std::string>& out) {
  const json* env = member(obj, "env");
  if (env == nullptr) {
    return std::nullopt;
  }
  const auto at = join(path, "env");
  if (!env->is_object()) {
    return wrong(at, "an object", *env);
  }
  for (const auto& [name, entry] : env->items()) {
    const auto entry_at = join(at, name);
    if (!valid_env_name(name)) {
      return problem{entry_at,
                     "invalid variable name: '+', '#', '$', '.' and whitespace are "
                     "not allowed"};
    }
    if (!entry.is_object()) {
      return wrong(entry_at, R"(an object {"value": ...})", entry);
    }
    if (auto e = read_env_value(entry, entry_at, out[name])) {
      return e;
    }
  }
  return std::nullopt;
}

// ---- settings ------------------------------------------------------------------------------

bool is_sha256_digest(std::string_view d) {
  constexpr std::string_view prefix = "sha256:";
  if (d.size() != prefix.size() + 64 || d.substr(0, prefix.size()) != prefix) {
    return false;
  }
  return d.find_first_not_of("0123456789abcdefABCDEF", prefix.size()) == std::string_view::npos;
}

/// settings.digest, lower-cased so that the same digest in either case is the same config.
check read_digest(const json& settings, const std::string& path, bool required, std::string& out) {
  const json* v = member(settings, "digest");
  const auto at = join(path, "digest");
  if (v == nullptr) {
    return required ? check{missing(at)} : std::nullopt;
  }
  if (!v->is_string() || !is_sha256_digest(v->get_ref<const std::string&>())) {
    return wrong(at, R"("sha256:" and 64 hex digits)", *v);
  }
  out = v->get_ref<const std::string&>();
  for (auto& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return std::nullopt;
}

check read_args(const json& settings, const std::string& path, std::vector<std::string>& out) {
  const json* args = member(settings, "args");
  if (args == nullptr) {
    return std::nullopt;
  }
  const auto at = join(path, "args");
  if (!args->is_array()) {
    return wrong(at, "an array of strings", *args);
  }
  for (std::size_t i = 0; i < args->size(); ++i) {
    const auto& a = (*args)[i];
    if (!a.is_string()) {
      return wrong(at + "[" + std::to_string(i) + "]", "a string", a);
    }
    out.push_back(a.get<std::string>());
  }
  return std::nullopt;
}

/// `lenient`: edgeAgent/edgeHub of type process run inside outpostd, so there is no
/// executable to name or pin; path and digest are then checked only when present.
check read_process_settings(const json& s, const std::string& path, bool lenient,
                            process_settings& out) {
  const json* p = member(s, "path");
  const auto path_at = join(path, "path");
  if (p == nullptr && !lenient) {
    return missing(path_at);
  }
  if (p != nullptr) {
    // Relative paths would depend on outpostd's working directory.
    if (!p->is_string() || p->get_ref<const std::string&>().rfind('/', 0) != 0) {
      return wrong(path_at, "an absolute path", *p);
    }
    out.path = p->get_ref<const std::string&>();
  }
  if (auto e = read_args(s, path, out.args)) {
    return e;
  }
  if (auto e = read_string(s, path, "workingDir", out.working_dir)) {
    return e;
  }
  if (auto e = read_string(s, path, "user", out.user)) {
    return e;
  }
  return read_digest(s, path, !lenient, out.digest);
}

/// Docker's default tag. Only the last path segment counts: a registry host may carry a port
/// ("host:5000/image"), and "image@sha256:..." is pinned by digest instead.
std::string with_default_tag(std::string image) {
  const auto slash = image.rfind('/');
  const auto last = slash == std::string::npos ? 0 : slash + 1;
  if (image.find_first_of(":@", last) == std::string::npos) {
    image += ":latest";
  }
  return image;
}

check read_image(const json& s, const std::string& path, std::string& out) {
  const json* v = member(s, "image");
  const auto at = join(path, "image");
  if (v == nullptr) {
    return missing(at);
  }
  if (!v->is_string() || is_blank(v->get_ref<const std::string&>())) {
    return wrong(at, "a non-blank image name", *v);
  }
  out = with_default_tag(v->get<std::string>());
  return std::nullopt;
}

std::string chunk_key(int i) {
  return "createOptions"
         + std::string{static_cast<char>('0' + i / 10), static_cast<char>('0' + i % 10)};
}

/// createOptions, then createOptions01..99 (twin strings are size-limited, so IoT Edge tools
/// split long options into chunks). The whole must be Docker's ContainerCreate JSON object.
check read_create_options(const json& s, const std::string& path, std::string& out) {
  std::string text;
  for (int i = 0; i < 100; ++i) {
    std::string chunk;
    if (auto e = read_string(s, path, i == 0 ? "createOptions" : chunk_key(i), chunk)) {
      return e;
    }
    text += chunk;
  }
  if (text.empty() || text == "null") {
    out.clear();
    return std::nullopt;
  }
  const auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return problem{join(path, "createOptions"),
                   "expected a string holding a JSON object (Docker's ContainerCreate options)"};
  }
  out = std::move(text);
  return std::nullopt;
}

check read_docker_settings(const json& s, const std::string& path, docker_settings& out) {
  if (auto e = read_image(s, path, out.image)) {
    return e;
  }
  if (auto e = read_create_options(s, path, out.create_options)) {
    return e;
  }
  return read_digest(s, path, false, out.digest);
}

// ---- modules -------------------------------------------------------------------------------

/// edgeAgent has no status, restartPolicy or startupOrder (always running, always first);
/// edgeHub must state status and restartPolicy; user modules may omit them.
enum class role { agent, hub, user };

check read_settings(const json& m, const std::string& path, role r, module_spec& out) {
  const json* s = member(m, "settings");
  const auto at = join(path, "settings");
  if (s == nullptr) {
    return missing(at);
  }
  if (!s->is_object()) {
    return wrong(at, "an object", *s);
  }
  if (out.type == module_type::docker) {
    return read_docker_settings(*s, at, out.docker);
  }
  return read_process_settings(*s, at, r != role::user, out.process);
}

check read_lifecycle(const json& m, const std::string& path, role r, module_spec& out) {
  if (r == role::agent) {
    return std::nullopt;
  }
  const bool required = r == role::hub;
  if (auto e = read_enum(m, path, "status", statuses, required, out.status)) {
    return e;
  }
  if (auto e = read_enum(m, path, "restartPolicy", restart_policies, required, out.restart)) {
    return e;
  }
  return read_startup_order(m, path, out.startup_order);
}

check read_module(const json& m, const std::string& path, role r, module_spec& out) {
  if (!m.is_object()) {
    return wrong(path, "an object", m);
  }
  if (auto e = read_enum(m, path, "type", module_types, true, out.type)) {
    return e;
  }
  if (auto e = read_lifecycle(m, path, r, out)) {
    return e;
  }
  if (auto e = read_enum(m, path, "imagePullPolicy", pull_policies, false, out.pull)) {
    return e;
  }
  if (auto e = read_string(m, path, "version", out.version)) {
    return e;
  }
  if (auto e = read_env(m, path, out.env)) {
    return e;
  }
  return read_settings(m, path, r, out);
}

/// Schema pattern ^[a-zA-Z0-9_-]+$.
bool valid_module_name(std::string_view name) {
  return !name.empty()
         && name.find_first_not_of(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                "0123456789_-")
                == std::string_view::npos;
}

check read_modules(const json& desired, deployment& out) {
  const json* mods = member(desired, "modules");
  if (mods == nullptr) {
    return missing("modules");
  }
  if (!mods->is_object()) {
    return wrong("modules", "an object", *mods);
  }
  // nlohmann's object is a std::map: iteration is in name order, so the reported problem is
  // the same whatever order the manifest lists the modules in.
  for (const auto& [name, m] : mods->items()) {
    const auto at = join("modules", name);
    if (!valid_module_name(name)) {
      return problem{at, "invalid module name: only letters, digits, '_' and '-' are allowed"};
    }
    module_spec spec;
    spec.name = name;
    if (auto e = read_module(m, at, role::user, spec)) {
      return e;
    }
    out.modules.emplace(name, std::move(spec));
  }
  return std::nullopt;
}

check read_system_modules(const json& desired, deployment& out) {
  const json* sys = member(desired, "systemModules");
  if (sys == nullptr) {
    return missing("systemModules");
  }
  if (!sys->is_object()) {
    return wrong("systemModules", "an object", *sys);
  }
  const json* agent = member(*sys, "edgeAgent");
  if (agent == nullptr) {
    return missing("systemModules.edgeAgent");
  }
  module_spec agent_spec; // validated only: the agent is outpostd itself
  agent_spec.name = "edgeAgent";
  if (auto e = read_module(*agent, "systemModules.edgeAgent", role::agent, agent_spec)) {
    return e;
  }
  const json* hub = member(*sys, "edgeHub");
  if (hub == nullptr) {
    return missing("systemModules.edgeHub");
  }
  out.edge_hub.name = "edgeHub";
  return read_module(*hub, "systemModules.edgeHub", role::hub, out.edge_hub);
}

// ---- runtime -------------------------------------------------------------------------------

/// Schema pattern ^[^\.\$# ]+$.
bool valid_credential_name(std::string_view name) {
  return !name.empty() && name.find_first_of(".$# ") == std::string_view::npos;
}

check read_credential(const json& cred, const std::string& path) {
  if (!cred.is_object()) {
    return wrong(path, "an object", cred);
  }
  std::string value;
  for (const char* key : {"username", "password", "address"}) {
    if (auto e = require_string(cred, path, key, value)) {
      return e;
    }
  }
  // `value` is the address now (read last).
  if (value.find_first_of(" \t\r\n\v\f") != std::string::npos) {
    return wrong(join(path, "address"), "an address without whitespace", cred["address"]);
  }
  return std::nullopt;
}

check read_registry_credentials(const json& settings, const std::string& path) {
  const json* creds = member(settings, "registryCredentials");
  if (creds == nullptr) {
    return std::nullopt;
  }
  const auto at = join(path, "registryCredentials");
  if (!creds->is_object()) {
    return wrong(at, "an object", *creds);
  }
  for (const auto& [name, cred] : creds->items()) {
    if (!valid_credential_name(name)) {
      return problem{join(at, name), "invalid name: '.', '$', '#' and ' ' are not allowed"};
    }
    if (auto e = read_credential(cred, join(at, name))) {
      return e;
    }
  }
  return std::nullopt;
}

check read_runtime(const json& desired, deployment& out) {
  const json* rt = member(desired, "runtime");
  if (rt == nullptr) {
    return missing("runtime");
  }
  if (!rt->is_object()) {
    return wrong("runtime", "an object", *rt);
  }
  auto type = module_type::docker;
  if (auto e = read_enum(*rt, "runtime", "type", module_types, true, type)) {
    return e;
  }
  out.runtime_type = to_string(type);
  const json* s = member(*rt, "settings");
  if (s == nullptr) {
    return std::nullopt;
  }
  if (!s->is_object()) {
    return wrong("runtime.settings", "an object", *s);
  }
  std::string ignored; // minDockerVersion and loggingOptions only matter to Docker itself
  for (const char* key : {"minDockerVersion", "loggingOptions"}) {
    if (auto e = read_string(*s, "runtime.settings", key, ignored)) {
      return e;
    }
  }
  return read_registry_credentials(*s, "runtime.settings");
}

// ---- envelope and schema version -----------------------------------------------------------

/// Keeps the parser's message (line, column) for the 400 without exceptions: nlohmann's
/// non-throwing parse only says "discarded".
struct syntax_error_sax : json::json_sax_t {
  std::string message;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    message = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " tag.
    if (const auto tag_end = message.find("] ");
        !message.empty() && message[0] == '[' && tag_end != std::string::npos) {
      message.erase(0, tag_end + 2);
    }
    return false;
  }
};

std::string syntax_error(std::string_view text) {
  syntax_error_sax sax;
  json::sax_parse(text, &sax);
  return sax.message.empty() ? std::string("not valid JSON") : "not valid JSON: " + sax.message;
}

/// Finds the desired document in the accepted wrappers; `desired` is nullptr when the
/// manifest has no $edgeAgent desired properties (417).
check unwrap(const json& root, const json*& desired) {
  desired = &root;
  if (!root.is_object()) {
    return std::nullopt;
  }
  if (root.contains("modulesContent")) {
    desired = nullptr;
    const json* content = member(root, "modulesContent");
    if (content == nullptr) {
      return std::nullopt;
    }
    if (!content->is_object()) {
      return wrong("modulesContent", "an object", *content);
    }
    const json* agent = member(*content, "$edgeAgent");
    if (agent == nullptr) {
      return std::nullopt;
    }
    if (!agent->is_object()) {
      return wrong("modulesContent.$edgeAgent", "an object", *agent);
    }
    desired = member(*agent, "properties.desired");
  } else if (root.contains("properties.desired")) {
    desired = member(root, "properties.desired");
  }
  return std::nullopt;
}

/// IoT Edge counts desired properties without the twin's own metadata.
bool is_empty_desired(const json& desired) {
  for (const auto& [key, value] : desired.items()) {
    (void)value;
    if (key != "$version" && key != "$metadata") {
      return false;
    }
  }
  return true;
}

/// .NET System.Version: 2 to 4 dot-separated non-negative integers; a missing component
/// compares as -1, so "1.1" < "1.1.0" while "1.1.1" and "1.1.0.0" are above it.
std::optional<std::array<long, 4>> parse_version(std::string_view v) {
  std::array<long, 4> parts{-1, -1, -1, -1};
  std::size_t count = 0;
  for (std::size_t start = 0; count < 4;) {
    const auto dot = std::min(v.find('.', start), v.size());
    const auto part = v.substr(start, dot - start);
    if (part.empty() || part.size() > 9
        || part.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    parts[count++] = std::stol(std::string(part));
    if (dot == v.size()) {
      return count >= 2 ? std::optional{parts} : std::nullopt;
    }
    start = dot + 1;
  }
  return std::nullopt; // a fifth component
}

/// Any major 1 up to EdgeAgentConnection.ExpectedSchemaVersion "1.1.0".
bool supported_schema(const json* v) {
  if (v == nullptr || !v->is_string()) {
    return false;
  }
  const auto parts = parse_version(v->get_ref<const std::string&>());
  constexpr std::array<long, 4> newest{1, 1, 0, -1};
  return parts && (*parts)[0] == 1 && *parts <= newest;
}

/// `$version` is the twin's own counter; a value that is not one is not ours to reject.
std::optional<std::int64_t> twin_version(const json& desired) {
  const json* v = member(desired, "$version");
  if (v == nullptr || !v->is_number_integer()
      || (v->is_number_unsigned()
          && v->get<std::uint64_t>()
                 > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))) {
    return std::nullopt;
  }
  return v->get<std::int64_t>();
}

parse_result parse_desired(const json& desired) {
  const json* schema = member(desired, "schemaVersion");
  if (!supported_schema(schema)) {
    return failure(deployment_code::invalid_schema,
                   "Desired properties schemaVersion " + (schema ? shown(*schema) : "(missing)")
                       + " is not supported: this agent supports schema versions 1.0 and 1.1");
  }
  deployment d;
  d.schema_version = schema->get<std::string>();
  d.version = twin_version(desired);
  for (auto* step : {&read_runtime, &read_system_modules, &read_modules}) {
    if (auto e = step(desired, d)) {
      return format_failure(*e);
    }
  }
  return {{deployment_code::ok, {}}, std::move(d)};
}

parse_result parse_text(std::string_view text) {
  const auto root = json::parse(text, nullptr, false);
  if (root.is_discarded()) {
    return format_failure({{}, syntax_error(text)});
  }
  const json* desired = nullptr;
  if (auto e = unwrap(root, desired)) {
    return format_failure(*e);
  }
  if (desired == nullptr || desired->is_null()
      || (desired->is_object() && is_empty_desired(*desired))) {
    return failure(deployment_code::empty, std::string(empty_description));
  }
  if (!desired->is_object()) {
    return format_failure(wrong("properties.desired", "an object", *desired));
  }
  return parse_desired(*desired);
}

} // namespace

parse_result parse_deployment(std::string_view json) {
  // Nothing here should throw, but a status must always come back (bad_alloc included).
  try {
    return parse_text(json);
  } catch (const std::exception& e) {
    return failure(deployment_code::format_error, std::string(format_prefix) + e.what());
  }
}

} // namespace outpost::supervisor
