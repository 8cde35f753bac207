// Fuzz target for the route language (routing/grammar, routing/query, routing/router). For
// arbitrary bytes:
// - compiled as a route, as a bare condition and as $edgeHub desired properties, nothing
//   crashes, hangs or leaks, and every error has a column inside the text;
// - a route that compiles is evaluated against fixed messages; route_table::match and
//   explain() agree on whether it matches, and each endpoint appears once in the targets;
// - the bytes are also a message body (JSON content type) for a fixed table of $body routes.
// Any violation traps. Built with libFuzzer under OUTPOST_FUZZ, and replayed by ctest
// (replay_main.cpp) over corpus/route_parser in every build.

#include "routing/grammar/parser.hpp"
#include "routing/query/condition.hpp"
#include "routing/router/explain.hpp"
#include "routing/router/route_table.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace routing = outpost::routing;

void check(bool ok) {
  if (!ok) {
    __builtin_trap();
  }
}

std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (const char c : s) {
    n += (static_cast<unsigned char>(c) & 0xC0u) != 0x80u ? 1 : 0;
  }
  return n;
}

void check_error(const routing::route_error& e, std::string_view text) {
  check(!e.message.empty());
  check(e.column <= code_points(text) + 1);
}

std::vector<routing::message> sample_messages() {
  using routing::system_property;
  std::vector<routing::message> out;
  routing::message m;
  m.properties = {{"temperature", "35"}, {"alert", "yes"}, {"$custom", "x"}, {"a+1", "w"}};
  m.set(system_property::connection_device_id, "dev1");
  m.set(system_property::connection_module_id, "sensor");
  m.set(system_property::output_name, "out1");
  m.set(system_property::content_type, "application/json");
  m.set(system_property::content_encoding, "utf-8");
  m.body = R"({"temperature":35.5,"name":"thermo","tags":["a","b"],"n":{"x":null},"ok":true})";
  out.push_back(m);
  routing::message leaf;
  leaf.set(system_property::connection_device_id, "leaf");
  leaf.body = "plain text";
  out.push_back(leaf);
  routing::message twin = m;
  twin.set(system_property::message_schema, "twinChangeNotification");
  twin.body = R"({"properties":{"reported":{"a":{"b":1}},"desired":{}},"tags":{"t":"v"}})";
  out.push_back(twin);
  routing::message utf16 = m;
  utf16.set(system_property::content_encoding, "utf-16");
  utf16.body = std::string("{\0\"\0t\0\"\0:\0\x31\0}\0", 14);
  out.push_back(utf16);
  return out;
}

const std::vector<routing::message>& messages() {
  static const auto instance = sample_messages();
  return instance;
}

void check_targets(const std::vector<routing::route_target>& out) {
  for (std::size_t i = 0; i < out.size(); ++i) {
    for (std::size_t j = i + 1; j < out.size(); ++j) {
      check(out[i].target != out[j].target);
    }
  }
}

void as_route(std::string_view text) {
  auto compiled = routing::route_table::compile({{"fuzz", {std::string(text), 3, 0}}}, 60);
  if (auto* err = std::get_if<routing::route_error>(&compiled)) {
    check(err->route == "fuzz");
    check_error(*err, text);
    check(std::holds_alternative<routing::route_error>(routing::explain(text, messages()[0])));
    return;
  }
  const auto& table = std::get<routing::route_table>(compiled);
  check(table.size() == 1);
  std::vector<routing::route_target> out;
  for (const auto& m : messages()) {
    table.match(m, out);
    check(out.size() <= 1);
    const auto explained = routing::explain(text, m);
    check(std::holds_alternative<std::string>(explained));
    const bool says_match =
        std::get<std::string>(explained).find("result:    MATCH") != std::string::npos;
    check(says_match == !out.empty());
    for (const auto& t : out) {
      check(t.priority == 3 && t.ttl_secs == 60 && t.route == "fuzz");
    }
  }
}

void as_condition(std::string_view text) {
  auto parsed = routing::parse_condition(text);
  if (auto* err = std::get_if<routing::route_error>(&parsed)) {
    check_error(*err, text);
    return;
  }
  for (const bool twin : {false, true}) {
    auto compiled = routing::condition::compile(text, std::get<routing::condition_ast>(parsed),
                                                routing::compile_options{twin});
    if (auto* err = std::get_if<routing::route_error>(&compiled)) {
      check_error(*err, text);
      continue;
    }
    const auto& cond = std::get<routing::condition>(compiled);
    routing::evaluation_scratch scratch;
    for (const auto& m : messages()) {
      routing::eval_context ctx(m, scratch);
      const auto v = cond.evaluate(ctx);
      routing::eval_context ctx2(m, scratch);
      std::vector<routing::trace_entry> trace;
      const auto traced = cond.trace(ctx2, trace);
      // Short-circuits must not change the value.
      check(routing::to_display(v) == routing::to_display(traced));
      check(!trace.empty() && trace.size() <= cond.size());
    }
  }
}

void as_edgehub_json(std::string_view text) {
  auto table = routing::route_table::from_edgehub_desired(text);
  if (auto* err = std::get_if<routing::route_error>(&table)) {
    check(!err->message.empty());
    return;
  }
  std::vector<routing::route_target> out;
  for (const auto& m : messages()) {
    std::get<routing::route_table>(table).match(m, out);
    check_targets(out);
  }
}

void as_body(std::string_view text) {
  static const auto table = [] {
    auto t = routing::route_table::compile(
        {{"a", {"FROM /* WHERE $body.temperature > 30 INTO $upstream", 1, 0}},
         {"b", {"FROM /* WHERE $body.a.b[1] = 'x' OR is_defined({$body.c}) INTO $upstream", 0, 0}},
         {"c",
          {R"(FROM /* WHERE lower($body.name) || 'x' = 'ax' INTO BrokeredEndpoint("/modules/m/inputs/i"))",
           2, 0}},
         {"d",
          {"FROM /twinChangeNotifications WHERE twin_change_includes(properties.reported.a) "
           "INTO $upstream",
           5, 0}}},
        10);
    return std::get<routing::route_table>(std::move(t));
  }();
  routing::message m;
  m.set(routing::system_property::content_type, "application/json");
  m.set(routing::system_property::content_encoding, "utf-8");
  m.body = std::string(text);
  std::vector<routing::route_target> out;
  table.match(m, out);
  check_targets(out);
  m.set(routing::system_property::message_schema, "twinChangeNotification");
  m.set(routing::system_property::content_encoding, "utf-16");
  table.match(m, out);
  check_targets(out);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  as_route(text);
  as_condition(text);
  as_edgehub_json(text);
  as_body(text);
  return 0;
}
