#include "supervisor/config/config.hpp"

#include "protocols/common/decimal.hpp"
#include "protocols/common/endpoint_name.hpp"

#include <toml++/toml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace outpost::app {

namespace {

using setter = std::function<void(const toml::node&, const std::string& key)>;

[[noreturn]] void bad(const std::string& key, const std::string& what) {
  throw config_error(key, what);
}

setter string_key(std::string& out,
                  std::function<void(const std::string&, const std::string&)> check = nullptr) {
  return [&out, check](const toml::node& n, const std::string& key) {
    auto v = n.value<std::string>();
    if (!n.is_string() || !v) {
      bad(key, "expected a string");
    }
    if (check) {
      check(*v, key);
    }
    out = *v;
  };
}

template <class Int>
setter int_key(Int& out, std::int64_t min, std::int64_t max) {
  return [&out, min, max](const toml::node& n, const std::string& key) {
    if (!n.is_integer()) {
      bad(key, "expected an integer");
    }
    const auto v = *n.value<std::int64_t>();
    if (v < min || v > max) {
      bad(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got "
                   + std::to_string(v));
    }
    out = static_cast<Int>(v);
  };
}

void check_address(const std::string& v, const std::string& key) {
  if (v.empty()) {
    return; // listener disabled
  }
  const auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.size()) {
    bad(key, "expected \"host:port\", got \"" + v + "\"");
  }
  const auto port = v.substr(colon + 1);
  if (port.size() > 5 || !parse_decimal<std::uint16_t>(port)) {
    bad(key, "port must be a number 0-65535, got \"" + port + "\"");
  }
}

void check_level(const std::string& v, const std::string& key) {
  static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  for (auto* l : levels) {
    if (v == l) {
      return;
    }
  }
  bad(key, "expected one of trace, debug, info, warn, error, critical, off; got \"" + v + "\"");
}

/// Every accepted key, by dotted path, with what it writes.
std::map<std::string, setter> schema(daemon_config& c) {
  auto& s = c.storage;
  return {
      {"hostname", string_key(c.hostname,
                              [](const std::string& v, const std::string& key) {
                                if (v.empty()) {
                                  bad(key, "must not be empty");
                                }
                              })},
      {"device_id", string_key(c.device_id,
                               [](const std::string& v, const std::string& key) {
                                 if (v.empty() || v.size() > 128) {
                                   bad(key, "must be 1-128 characters");
                                 }
                               })},
      {"iothub_hostname", string_key(c.iothub_hostname)},
      {"storage.dir", string_key(s.dir)},
      {"storage.durability",
       [&s](const toml::node& n, const std::string& key) {
         auto v = n.value<std::string>();
         if (!n.is_string() || !v) {
           bad(key, "expected a string");
         }
         if (*v == "fsync") {
           s.mode = durability::fsync;
         } else if (*v == "os") {
           s.mode = durability::os;
         } else if (*v == "memory") {
           s.mode = durability::memory;
         } else {
           bad(key, "expected \"fsync\", \"os\" or \"memory\", got \"" + *v + "\"");
         }
       }},
      {"storage.max_size_bytes", int_key(s.max_size_bytes, 0, INT64_MAX)},
      {"storage.cleanup_interval_ms", int_key(s.cleanup_interval_ms, 10, 3'600'000)},
      {"storage.cleanup_budget", int_key(s.cleanup_budget, 1, 10'000'000)},
      {"storage.group_commit_us", int_key(s.group_commit_us, 0, 10'000)},
      {"storage.checkpoint_interval_ms", int_key(s.checkpoint_interval_ms, 0, 1'000)},
      {"listen.metrics", string_key(c.listen.metrics, check_address)},
      {"listen.admin_socket", string_key(c.listen.admin_socket)},
      {"listen.admin_group", string_key(c.listen.admin_group)},
      {"listen.mqtt_tls", string_key(c.listen.mqtt_tls, check_address)},
      {"listen.amqp_tls", string_key(c.listen.amqp_tls, check_address)},
      {"listen.mqtt", string_key(c.listen.mqtt, check_address)},
      {"listen.https", string_key(c.listen.https, check_address)},
      {"tls.cert", string_key(c.tls.cert)},
      {"tls.key", string_key(c.tls.key)},
      {"tls.ca", string_key(c.tls.ca)},
      {"agent.manifest", string_key(c.agent.manifest)},
      {"agent.stop_grace_secs", int_key(c.agent.stop_grace_secs, 0, 3600)},
      {"agent.max_restarts", int_key(c.agent.max_restarts, 0, 1'000'000)},
      {"agent.cool_off_secs", int_key(c.agent.cool_off_secs, 0, 300)},
      {"agent.intensive_care_minutes", int_key(c.agent.intensive_care_minutes, 0, 10'000)},
      {"agent.log_max_bytes", int_key(c.agent.log_max_bytes, 1024, INT64_MAX)},
      {"agent.log_files", int_key(c.agent.log_files, 0, 99)},
      {"agent.container_engine", string_key(c.agent.container_engine)},
      {"agent.module_uid_min", int_key(c.agent.module_uid_min, 1, 4'294'967'294)},
      {"agent.module_uid_max", int_key(c.agent.module_uid_max, 1, 4'294'967'294)},
      {"agent.cgroup", string_key(c.agent.cgroup)},
      {"listen.workload_socket", string_key(c.listen.workload_socket)},
      {"hub.delivery_window", int_key(c.hub.delivery_window, 1, 65000)},
      {"hub.max_pending_in", int_key(c.hub.max_pending_in, 1, 65535)},
      {"hub.max_connections", int_key(c.hub.max_connections, 0, 10'000'000)},
      {"hub.max_unauthenticated_per_source",
       int_key(c.hub.max_unauthenticated_per_source, 0, 10'000'000)},
      {"hub.connect_timeout_secs", int_key(c.hub.connect_timeout_secs, 1, 600)},
      {"hub.max_keepalive_secs", int_key(c.hub.max_keepalive_secs, 1, 65535)},
      {"hub.max_subscriptions", int_key(c.hub.max_subscriptions, 1, 10'000)},
      {"hub.max_output_bytes", int_key(c.hub.max_output_bytes, 64 * 1024, INT64_MAX)},
      {"hub.output_stall_secs", int_key(c.hub.output_stall_secs, 1, 3600)},
      {"upstream.connection_string", string_key(c.upstream.connection_string)},
      {"upstream.parent_hostname", string_key(c.upstream.parent_hostname, check_address)},
      {"upstream.trust_bundle", string_key(c.upstream.trust_bundle)},
      {"upstream.parent_https", string_key(c.upstream.parent_https, check_address)},
      {"upstream.scope_refresh_secs", int_key(c.upstream.scope_refresh_secs, 1, 86400)},
      {"upstream.protocol", string_key(c.upstream.protocol,
                                       [](const std::string& v, const std::string& key) {
                                         if (v != "amqp" && v != "amqpws") {
                                           bad(key, "expected \"amqp\" or \"amqpws\", got \"" + v
                                                        + "\"");
                                         }
                                       })},
      {"log.level", string_key(c.log.level, check_level)},
      {"runtime.threads", int_key(c.runtime.threads, 0, 256)},
      {"runtime.io_threads", int_key(c.runtime.io_threads, 0, 256)},
      {"runtime.scheduler",
       string_key(c.runtime.scheduler,
                  [](const std::string& v, const std::string& key) {
                    if (v != "io" && v != "sharing" && v != "stealing") {
                      bad(key, "expected \"io\", \"sharing\" or \"stealing\", got \"" + v + "\"");
                    }
                  })},
  };
}

/// `[upstream] connection_string`: `Key=value` pairs split on `;` (a value may contain `=`,
/// base64 keys end with it), HostName, DeviceId and SharedAccessKey required.
void parse_upstream(daemon_config& c) {
  auto& u = c.upstream;
  const std::string key = "upstream.connection_string";
  std::string text = u.connection_string;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    auto end = text.find(';', pos);
    if (end == std::string::npos) {
      end = text.size();
    }
    const auto part = text.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty()) {
      continue;
    }
    const auto eq = part.find('=');
    if (eq == std::string::npos) {
      bad(key, "expected Key=value pairs separated by ';'");
    }
    const auto name = part.substr(0, eq);
    const auto value = part.substr(eq + 1);
    if (name == "HostName") {
      u.hub_hostname = value;
    } else if (name == "DeviceId") {
      u.device_id = value;
    } else if (name == "SharedAccessKey") {
      u.key = value;
    } else if (name == "ModuleId" || name == "SharedAccessKeyName") {
      bad(key, "must be an edge device's connection string (no " + name + ")");
    }
  }
  if (u.hub_hostname.empty() || u.device_id.empty() || u.key.empty()) {
    bad(key, "needs HostName, DeviceId and SharedAccessKey");
  }
  if (c.iothub_hostname.empty()) {
    c.iothub_hostname = u.hub_hostname; // local clients' tokens name the same hub
  }
  if (u.device_id != c.device_id) {
    bad(key,
        "DeviceId \"" + u.device_id + "\" is not this edge's device_id \"" + c.device_id + "\"");
  }
}

int hex_digit(char ch) {
  if (ch >= '0' && ch <= '9') {
    return ch - '0';
  }
  if (ch >= 'a' && ch <= 'f') {
    return ch - 'a' + 10;
  }
  if (ch >= 'A' && ch <= 'F') {
    return ch - 'A' + 10;
  }
  return -1;
}

/// `%XX` escapes of a URL's user info.
std::string percent_decode(const std::string& in, const std::string& key) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    const int hi = i + 2 < in.size() ? hex_digit(in[i + 1]) : -1;
    const int lo = i + 2 < in.size() ? hex_digit(in[i + 2]) : -1;
    const int v = hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    if (v < 0) {
      bad(key, "bad %-escape in the URL's user or password");
    }
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

/// `amqp[s]://[user[:password]@]host[:port]` into the section's parsed fields.
void parse_endpoint_url(daemon_config::endpoint_section& e, const std::string& key) {
  std::string rest = e.url;
  if (rest.rfind("amqp://", 0) == 0) {
    rest = rest.substr(7);
  } else if (rest.rfind("amqps://", 0) == 0) {
    e.tls = true;
    rest = rest.substr(8);
  } else {
    bad(key, "expected amqp://[user:password@]host[:port] or amqps://..., got \"" + e.url + "\"");
  }
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    if (slash + 1 != rest.size()) {
      bad(key, "the URL has no path: the node goes in \"address\"");
    }
    rest.resize(slash);
  }
  if (const auto at = rest.rfind('@'); at != std::string::npos) {
    const auto info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = info.find(':');
    e.user = percent_decode(info.substr(0, colon), key);
    if (colon != std::string::npos) {
      e.password = percent_decode(info.substr(colon + 1), key);
    }
    if (e.user.empty()) {
      bad(key, "an empty user name before '@'");
    }
  }
  e.port = e.tls ? 5671 : 5672;
  if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
    const auto port = rest.substr(colon + 1);
    const auto p = port.size() <= 5 ? parse_decimal<std::uint16_t>(port) : std::nullopt;
    if (!p || *p == 0) {
      bad(key, "port must be a number 1-65535, got \"" + port + "\"");
    }
    e.port = *p;
    rest.resize(colon);
  }
  if (rest.empty()) {
    bad(key, "the URL names no host");
  }
  e.host = rest;
}

/// `[endpoints.<name>]` tables: each one an AMQP broker (keys type, url, address,
/// trust_bundle).
void parse_endpoints(const toml::table& t, daemon_config& c) {
  for (const auto& [k, node] : t) {
    const std::string name{k.str()};
    const auto path = "endpoints." + name;
    auto* table = node.as_table();
    if (table == nullptr) {
      bad(path, "expected a table [endpoints." + name + "]");
    }
    if (!is_endpoint_name(name)) {
      bad(path, "an endpoint name is 1 to 64 letters, digits, '.', '_' or '-'");
    }
    daemon_config::endpoint_section e;
    e.name = name;
    const std::map<std::string, setter> keys{
        {path + ".type", string_key(e.type,
                                    [](const std::string& v, const std::string& key) {
                                      if (v != "amqp") {
                                        bad(key, "expected \"amqp\", got \"" + v + "\"");
                                      }
                                    })},
        {path + ".url", string_key(e.url)},
        {path + ".address", string_key(e.address)},
        {path + ".trust_bundle", string_key(e.trust_bundle)},
    };
    for (const auto& [kk, value] : *table) {
      const auto key = path + "." + std::string{kk.str()};
      auto i = keys.find(key);
      if (i == keys.end()) {
        bad(key, "unknown key");
      }
      i->second(value, key);
    }
    if (e.type.empty()) {
      bad(path + ".type", "missing: type = \"amqp\"");
    }
    if (e.url.empty()) {
      bad(path + ".url", "missing: url = \"amqp://user:password@host:5672\"");
    }
    if (e.address.empty()) {
      bad(path + ".address", "missing: the node the messages go to");
    }
    parse_endpoint_url(e, path + ".url");
    if (!e.tls && !e.trust_bundle.empty()) {
      bad(path + ".trust_bundle", "only for an amqps:// URL");
    }
    c.endpoints.push_back(std::move(e));
  }
}

void walk(const toml::table& t, const std::string& prefix,
          const std::map<std::string, setter>& keys, daemon_config& c) {
  for (const auto& [k, node] : t) {
    const auto path = prefix.empty() ? std::string{k.str()} : prefix + "." + std::string{k.str()};
    if (path == "endpoints" && node.is_table()) {
      parse_endpoints(*node.as_table(), c);
      continue;
    }
    if (auto* sub = node.as_table()) {
      bool known_section = false;
      for (const auto& [name, _] : keys) {
        known_section = known_section || name.rfind(path + ".", 0) == 0;
      }
      if (!known_section) {
        bad(path, "unknown section");
      }
      walk(*sub, path, keys, c);
      continue;
    }
    auto i = keys.find(path);
    if (i == keys.end()) {
      bad(path, "unknown key");
    }
    i->second(node, path);
  }
}

} // namespace

daemon_config parse_config(const std::string& text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << source << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
       << e.description();
    throw config_error("", os.str());
  }
  daemon_config c;
  walk(root, "", schema(c), c);
  if (c.storage.dir.empty()) {
    bad("storage.dir", "must not be empty");
  }
  if (c.upstream.enabled()) {
    parse_upstream(c);
  }
  const bool any_tls = !c.tls.cert.empty() || !c.tls.key.empty();
  if (any_tls && (c.tls.cert.empty() || c.tls.key.empty())) {
    bad(c.tls.cert.empty() ? "tls.cert" : "tls.key", "tls.cert and tls.key go together");
  }
  return c;
}

daemon_config load_config(const std::string& path) {
  std::ifstream in{path};
  if (!in) {
    throw config_error("", "cannot read config file " + path);
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

std::string admin_socket_path(const daemon_config& cfg) {
  return cfg.listen.admin_socket.empty() ? cfg.storage.dir + "/run/admin/admin.sock"
                                         : cfg.listen.admin_socket;
}

const char* to_string(durability d) noexcept {
  switch (d) {
    case durability::fsync:
      return "fsync";
    case durability::os:
      return "os";
    case durability::memory:
      return "memory";
  }
  return "?";
}

} // namespace outpost::app
