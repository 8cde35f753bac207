#include "routing/router/explain.hpp"

#include "routing/router/compiled_route.hpp"

#include <algorithm>
#include <cctype>

namespace outpost::routing {

namespace {

std::string body_problem(const message& m) {
  const auto type = m.get(system_property::content_type);
  const auto encoding = m.get(system_property::content_encoding);
  const auto iequals = [](std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
             return std::tolower(static_cast<unsigned char>(x))
                    == std::tolower(static_cast<unsigned char>(y));
           });
  };
  const bool json_type = type && iequals(*type, "application/json");
  const bool json_encoding = encoding
                             && (iequals(*encoding, "utf-8") || iequals(*encoding, "utf-16")
                                 || iequals(*encoding, "utf-32"));
  if (json_type && json_encoding) {
    return "undefined: the body is not a valid JSON object";
  }
  std::string out =
      "undefined: $body needs contentType application/json and contentEncoding "
      "utf-8, utf-16 or utf-32; this message has contentType ";
  out += type ? "'" + std::string(*type) + "'" : std::string("(not set)");
  out += " and contentEncoding ";
  out += encoding ? "'" + std::string(*encoding) + "'" : std::string("(not set)");
  return out;
}

std::string origin_note(value_origin o, const message& m) {
  switch (o) {
    case value_origin::app_property:
      return "application property";
    case value_origin::system_property:
      return "system property";
    case value_origin::body:
      return "from the body";
    case value_origin::body_not_json:
      return body_problem(m);
    case value_origin::body_missing:
      return "undefined: not in the body";
    case value_origin::body_container:
      return "undefined: an object or array in the body, not a value";
    case value_origin::not_set:
      return "undefined: the message has no such property";
    case value_origin::computed:
    case value_origin::literal:
      break;
  }
  return {};
}

std::string sink_text(const endpoint& e) {
  if (e.what == endpoint::kind::upstream) {
    return "$upstream (endpoint id iothub)";
  }
  if (e.what == endpoint::kind::named) {
    return e.to_route_text() + " (the configured endpoint '" + e.name + "')";
  }
  return e.to_route_text() + " (module '" + e.module + "', input '" + e.input + "')";
}

} // namespace

std::variant<std::string, route_error> explain(std::string_view route_text, const message& m) {
  auto compiled = compile_route(route_text);
  if (auto* err = std::get_if<route_error>(&compiled)) {
    return std::move(*err);
  }
  const auto& r = std::get<compiled_route>(compiled);
  const message_source source = source_of(m);
  const bool source_ok = r.source.matches(source);

  std::string out;
  out += "route:     " + std::string(route_text) + "\n";
  out += "message:   source " + source.to_string() + "\n";
  out += "FROM:      " + r.source_text + (source_ok ? " matches " : " does not match ")
         + source.to_string() + "\n";

  evaluation_scratch scratch;
  eval_context ctx(m, scratch);
  std::vector<trace_entry> trace;
  const value result = r.cond.trace(ctx, trace);
  out += "WHERE:     ";
  out += trace.size() == 1 && trace[0].end == 0 ? "(none: true)\n" : "\n";
  for (const auto& t : trace) {
    if (t.end == 0 && t.begin == 0) {
      continue; // the implicit `true` of a route without WHERE
    }
    out += std::string(2 + 2 * t.depth, ' ');
    out += route_text.substr(t.begin, t.end - t.begin);
    if (t.origin != value_origin::literal) {
      out += "  =  " + to_display(t.result);
      const std::string note = origin_note(t.origin, m);
      if (!note.empty()) {
        out += "  (" + note + ")";
      }
    }
    out += "\n";
  }
  out += "INTO:      " + sink_text(r.sink) + "\n";
  out += "result:    ";
  if (source_ok && result.is_true()) {
    out += "MATCH: the message goes to " + sink_text(r.sink) + "\n";
  } else if (!source_ok) {
    out += "no match: the message source " + source.to_string() + " is not under " + r.source_text
           + "\n";
  } else {
    out += "no match: the condition is " + to_display(result)
           + (result.type == value_type::boolean ? "" : " (only true routes a message)") + "\n";
  }
  return out;
}

} // namespace outpost::routing
