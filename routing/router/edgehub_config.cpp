// route_table::from_edgehub_desired: the routing part of the $edgeHub desired properties
// (iotedge-facts §1.3; IoT Edge's EdgeHubConfigParser, RouteSpecConverter, RouteSpec).

#include "protocols/common/decimal.hpp"
#include "routing/router/detail/route_table_impl.hpp"
#include "routing/router/route_table.hpp"

#include <charconv>
#include <limits>

#include <simdjson.h>

namespace outpost::routing {

namespace {

route_error config_error(std::string message, std::string route = {},
                         errc code = errc::invalid_config) {
  return route_error{std::move(route), 0, std::move(message), code, {}};
}

/// "1.x" or "1.x.y[.z]" with x in 0..3 (System.Version, then the supported minors).
bool supported_schema(std::string_view v, int& minor) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto dot = v.find('.', start);
    parts.push_back(v.substr(start, dot - start));
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  if (parts.size() < 2 || parts.size() > 4) {
    return false;
  }
  std::vector<long> numbers;
  for (const auto p : parts) {
    const auto n = parse_decimal<long>(p);
    if (!n) {
      return false;
    }
    numbers.push_back(*n);
  }
  minor = static_cast<int>(numbers[1]);
  return numbers[0] == 1 && numbers[1] <= 3;
}

/// Reads an integer member, accepting integral doubles (JSON.NET does for int/uint).
bool integer_of(simdjson::dom::element e, std::int64_t& out) {
  std::int64_t i = 0;
  if (e.get_int64().get(i) == simdjson::SUCCESS) {
    out = i;
    return true;
  }
  std::uint64_t u = 0;
  if (e.get_uint64().get(u) == simdjson::SUCCESS) {
    out = u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
              ? std::numeric_limits<std::int64_t>::max()
              : static_cast<std::int64_t>(u);
    return true;
  }
  double d = 0;
  // The range first: converting a double outside int64's range is undefined (the fuzzer's
  // `"priority":1e30`), so the integrality test may only run on one inside it.
  if (e.get_double().get(d) == simdjson::SUCCESS && d > -9.2e18 && d < 9.2e18
      && d == static_cast<double>(static_cast<std::int64_t>(d))) {
    out = static_cast<std::int64_t>(d);
    return true;
  }
  return false;
}

struct parsed_route {
  std::string name;
  route_spec spec;
  bool object_form = false;
};

/// One entry of "routes" (RouteSpecConverter / RouteSpec).
std::variant<parsed_route, route_error> read_route(std::string_view name,
                                                   simdjson::dom::element value, int minor) {
  parsed_route r;
  r.name = std::string(name);
  std::string_view text;
  if (value.get_string().get(text) == simdjson::SUCCESS) {
    r.spec.text = std::string(text);
    return r;
  }
  simdjson::dom::object obj;
  if (minor == 0 || value.get_object().get(obj) != simdjson::SUCCESS) {
    return config_error(minor == 0 ? "schema 1.0 routes must be strings (route objects with "
                                     "priority and timeToLiveSecs need schemaVersion 1.1)"
                                   : "malformed route specification: expected a string or an "
                                     "object {\"route\": ..., \"priority\": ..., "
                                     "\"timeToLiveSecs\": ...}",
                        r.name);
  }
  r.object_form = true;
  simdjson::dom::element member;
  if (obj.at_key("route").get(member) != simdjson::SUCCESS
      || member.get_string().get(text) != simdjson::SUCCESS) {
    return config_error("the route object has no \"route\" string", r.name);
  }
  r.spec.text = std::string(text);
  if (obj.at_key("priority").get(member) == simdjson::SUCCESS && !member.is_null()) {
    std::int64_t p = 0;
    if (!integer_of(member, p) || ((p < 0 || p > 9) && p != default_priority)) {
      return config_error("invalid priority " + simdjson::minify(member)
                              + ": expected an integer from 0 (highest) to 9",
                          r.name);
    }
    r.spec.priority = static_cast<std::uint32_t>(p);
  }
  if (obj.at_key("timeToLiveSecs").get(member) == simdjson::SUCCESS && !member.is_null()) {
    std::int64_t ttl = 0;
    if (!integer_of(member, ttl) || ttl < 0 || ttl > 4294967295LL) {
      return config_error("invalid timeToLiveSecs " + simdjson::minify(member)
                              + ": expected an integer from 0 (the global TTL) to 4294967295",
                          r.name);
    }
    r.spec.ttl_secs = ttl;
  }
  return r;
}

/// Finds the desired properties inside the accepted wrappers.
simdjson::dom::element unwrap(simdjson::dom::element root) {
  simdjson::dom::element inner;
  if (root.at_pointer("/modulesContent/$edgeHub/properties.desired").get(inner)
      == simdjson::SUCCESS) {
    return inner;
  }
  if (root.at_key("properties.desired").get(inner) == simdjson::SUCCESS) {
    return inner;
  }
  return root;
}

} // namespace

std::variant<route_table, route_error> route_table::from_edgehub_desired(
    std::string_view json, std::int64_t default_ttl_secs) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto err = parser.parse(json.data(), json.size()).get(root)) {
    return config_error(std::string("the $edgeHub desired properties are not valid JSON: ")
                            + simdjson::error_message(err),
                        {}, errc::invalid_json);
  }
  simdjson::dom::object desired;
  if (unwrap(root).get_object().get(desired) != simdjson::SUCCESS) {
    return config_error("the $edgeHub desired properties must be a JSON object");
  }
  // schemaVersion (EdgeHubConfigParser.GetEdgeHubConfig).
  simdjson::dom::element member;
  if (desired.at_key("schemaVersion").get(member) != simdjson::SUCCESS) {
    return config_error(
        "EdgeHub config missing SchemaVersion: expected \"schemaVersion\": "
        "\"1.0\", \"1.1\", \"1.2\" or \"1.3\"");
  }
  std::string version;
  std::string_view version_text;
  if (member.get_string().get(version_text) == simdjson::SUCCESS) {
    version = std::string(version_text);
  } else {
    version = simdjson::minify(member);
  }
  int minor = 0;
  if (!supported_schema(version, minor)) {
    return config_error("EdgeHub config contains unsupported SchemaVersion '" + version
                        + "': expected 1.0, 1.1, 1.2 or 1.3");
  }
  // storeAndForwardConfiguration: optional in 1.0, required from 1.1.
  std::int64_t ttl = default_ttl_secs;
  std::optional<std::uint64_t> max_size;
  simdjson::dom::object saf;
  if (desired.at_key("storeAndForwardConfiguration").get(member) == simdjson::SUCCESS
      && !member.is_null()) {
    if (member.get_object().get(saf) != simdjson::SUCCESS) {
      return config_error("storeAndForwardConfiguration must be an object");
    }
    if (saf.at_key("timeToLiveSecs").get(member) == simdjson::SUCCESS) {
      std::int64_t t = 0;
      if (!integer_of(member, t) || t < std::numeric_limits<std::int32_t>::min()
          || t > std::numeric_limits<std::int32_t>::max()) {
        return config_error(
            "storeAndForwardConfiguration.timeToLiveSecs must be an integer "
            "(seconds; negative = forever), found "
            + simdjson::minify(member));
      }
      ttl = t;
    }
    std::int64_t bytes = 0;
    if (saf.at_pointer("/storeLimits/maxSizeBytes").get(member) == simdjson::SUCCESS) {
      if (!integer_of(member, bytes) || bytes < 0) {
        return config_error(
            "storeAndForwardConfiguration.storeLimits.maxSizeBytes must be a "
            "non-negative integer, found "
            + simdjson::minify(member));
      }
      max_size = static_cast<std::uint64_t>(bytes);
    }
  } else if (minor >= 1) {
    return config_error("schema " + version + " requires storeAndForwardConfiguration "
                        "(e.g. {\"timeToLiveSecs\": 7200})");
  }
  // routes.
  std::vector<parsed_route> routes;
  simdjson::dom::object route_object;
  const bool has_routes =
      desired.at_key("routes").get(member) == simdjson::SUCCESS && !member.is_null();
  if (has_routes && member.get_object().get(route_object) != simdjson::SUCCESS) {
    return config_error("routes must be an object of named routes");
  }
  if (!has_routes && minor >= 1) {
    return config_error("schema " + version + " requires routes");
  }
  if (has_routes) {
    for (const auto field : route_object) {
      const std::string_view name = field.key;
      bool blank_name = true;
      for (const char c : name) {
        blank_name = blank_name && (c == ' ' || (c >= '\t' && c <= '\r'));
      }
      if (blank_name) {
        return config_error("empty route name in routes");
      }
      auto r = read_route(name, field.value, minor);
      if (auto* err = std::get_if<route_error>(&r)) {
        return std::move(*err);
      }
      auto& pr = std::get<parsed_route>(r);
      const bool blank_text = pr.spec.text.find_first_not_of(" \t\r\n\v\f") == std::string::npos;
      if (blank_text) {
        if (minor == 0) {
          continue; // 1.0: blank routes are skipped
        }
        return config_error("the route text is empty", pr.name);
      }
      bool replaced = false;
      for (auto& existing : routes) {
        if (existing.name == pr.name) {
          // The same name twice: the object form wins over the string form (facts §1.3).
          if (pr.object_form || !existing.object_form) {
            existing = std::move(pr);
          }
          replaced = true;
          break;
        }
      }
      if (!replaced) {
        routes.push_back(std::move(pr));
      }
    }
  }
  std::vector<std::pair<std::string, route_spec>> specs;
  specs.reserve(routes.size());
  for (auto& r : routes) {
    specs.emplace_back(std::move(r.name), std::move(r.spec));
  }
  auto compiled = compile(specs, ttl);
  if (auto* table = std::get_if<route_table>(&compiled)) {
    // Freshly built and not shared yet: fill in what compile() does not know.
    auto p = std::const_pointer_cast<impl>(table->impl_);
    p->max_store_size_bytes = max_size;
    p->schema_version = version;
  }
  return compiled;
}

} // namespace outpost::routing
