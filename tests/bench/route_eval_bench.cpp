// Compiled route evaluation (routing/router route_table::match): the cost per message of
// deciding where it goes. Targets (issue 4): an application-property comparison <= 200 ns and
// a $body numeric comparison on a 1 KiB JSON body <= 1 us per message.
//
//   build/bin/route_eval_bench --benchmark_min_time=1

#include "routing/router/route_table.hpp"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

using namespace outpost::routing;

route_table compile_or_die(std::vector<std::pair<std::string, route_spec>> routes) {
  auto t = route_table::compile(routes, 7200);
  if (!std::holds_alternative<route_table>(t)) {
    std::abort();
  }
  return std::get<route_table>(std::move(t));
}

/// A module message with the application and system properties the Azure SDKs send.
message sample_message() {
  message m;
  m.properties = {{"messageType", "telemetry"}, {"sensorKind", "thermo"}, {"site", "plant-7"},
                  {"firmware", "1.4.2"},        {"alert", "yes"},         {"temperature", "35"}};
  m.set(system_property::message_id, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
  m.set(system_property::connection_device_id, "edge-device-01");
  m.set(system_property::connection_module_id, "SimulatedTemperatureSensor");
  m.set(system_property::output_name, "temperatureOutput");
  m.set(system_property::content_type, "application/json");
  m.set(system_property::content_encoding, "utf-8");
  m.set(system_property::enqueued_time, "2024-05-01T10:00:00.0000000Z");
  return m;
}

/// A 1 KiB JSON telemetry document of the usual shape: nested objects, a few arrays, a long
/// string; `temperature` sits in the middle (after about 450 bytes).
std::string body_1k() {
  std::string body =
      R"({"deviceId":"sensor-0042","timestamp":"2024-05-01T10:00:00.000Z","sequence":12345,)"
      R"("machine":{"temperature":71.2,"pressure":10.2,"state":"running","serial":"SN-0001-XYZ",)"
      R"("firmware":"1.4.2","uptimeSecs":123456,"vibration":[0.12,0.15,0.11,0.14]},)"
      R"("ambient":{"temperature":21.3,"humidity":41,"pressure":1013.25},)"
      R"("location":{"site":"plant-7","line":"L3","lat":47.6062,"lon":-122.3321},)"
      R"("operator":{"id":"op-17","shift":"B"},"temperature":35.5,)"
      R"("status":{"code":200,"text":"nominal","alarms":[]},"tags":["north","hall-2","critical"],)"
      R"("notes":")";
  while (body.size() < 1024 - 2) {
    body += "maintenance window scheduled; ";
  }
  body.resize(1024 - 2);
  body += R"("})";
  return body;
}

/// The worst case for a lazy reader: `temperature` last, after ~900 bytes of small objects
/// full of numbers that must be skipped structure by structure.
std::string body_1k_number_dense() {
  std::string body = R"({"machine":{"pressure":10.2,"state":"running","serial":"SN-0001-XYZ"},)";
  body += R"("ambient":{"humidity":41,"pressure":1013.25},"readings":[)";
  for (int i = 0; body.size() < 880; ++i) {
    body += (i == 0 ? "" : ",");
    body += R"({"i":)" + std::to_string(i) + R"(,"v":)" + std::to_string(20.5 + i) + "}";
  }
  body += R"(],"timeCreated":"2024-05-01T10:00:00Z","temperature":35.5,"unit":"C"})";
  while (body.size() < 1024) {
    body.insert(body.size() - 1, " ");
  }
  return body;
}

void run(benchmark::State& state, const route_table& table, const message& m,
         std::size_t expected) {
  std::vector<route_target> out;
  for (auto _ : state) {
    table.match(m, out);
    benchmark::DoNotOptimize(out.data());
  }
  if (out.size() != expected) {
    state.SkipWithError("unexpected match result");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void AppPropertyComparison(benchmark::State& state) {
  const auto table =
      compile_or_die({{"alerts", {"FROM /messages/* WHERE alert = 'yes' INTO $upstream"}}});
  run(state, table, sample_message(), 1);
}
BENCHMARK(AppPropertyComparison);

void AppPropertyAsNumber(benchmark::State& state) {
  const auto table = compile_or_die(
      {{"hot", {"FROM /messages/* WHERE as_number(temperature) > 30 INTO $upstream"}}});
  run(state, table, sample_message(), 1);
}
BENCHMARK(AppPropertyAsNumber);

void SystemPropertyComparison(benchmark::State& state) {
  const auto table = compile_or_die(
      {{"m",
        {"FROM /messages/modules/SimulatedTemperatureSensor/* WHERE $connectionModuleId = "
         "'SimulatedTemperatureSensor' INTO $upstream"}}});
  run(state, table, sample_message(), 1);
}
BENCHMARK(SystemPropertyComparison);

void BodyNumericComparison1KiB(benchmark::State& state) {
  const auto table =
      compile_or_die({{"hot", {"FROM /messages/* WHERE $body.temperature > 30 INTO $upstream"}}});
  message m = sample_message();
  m.body = body_1k();
  state.counters["body_bytes"] = static_cast<double>(m.body.size());
  run(state, table, m, 1);
}
BENCHMARK(BodyNumericComparison1KiB);

void BodyNumericComparison1KiBNumberDense(benchmark::State& state) {
  const auto table =
      compile_or_die({{"hot", {"FROM /messages/* WHERE $body.temperature > 30 INTO $upstream"}}});
  message m = sample_message();
  m.body = body_1k_number_dense();
  state.counters["body_bytes"] = static_cast<double>(m.body.size());
  run(state, table, m, 1);
}
BENCHMARK(BodyNumericComparison1KiBNumberDense);

void BodyNestedPath1KiB(benchmark::State& state) {
  const auto table = compile_or_die(
      {{"p",
        {"FROM /messages/* WHERE $body.machine.vibration[3] >= 0.1 AND $body.machine.state "
         "= 'running' INTO $upstream"}}});
  message m = sample_message();
  m.body = body_1k();
  run(state, table, m, 1);
}
BENCHMARK(BodyNestedPath1KiB);

/// Ten routes, five on the body: the body is parsed once for all of them.
void TenRoutesFiveOnBody1KiB(benchmark::State& state) {
  std::vector<std::pair<std::string, route_spec>> routes;
  for (int i = 0; i < 5; ++i) {
    routes.push_back(
        {"app" + std::to_string(i),
         {"FROM /messages/* WHERE site = 'plant-" + std::to_string(i)
          + "' INTO BrokeredEndpoint(\"/modules/a" + std::to_string(i) + "/inputs/in\")"}});
    routes.push_back(
        {"body" + std::to_string(i),
         {"FROM /messages/* WHERE $body.temperature > " + std::to_string(30 + i)
              + " INTO BrokeredEndpoint(\"/modules/b" + std::to_string(i) + "/inputs/in\")",
          static_cast<std::uint32_t>(i), 0}});
  }
  const auto table = compile_or_die(routes);
  message m = sample_message();
  m.body = body_1k();
  run(state, table, m, 5);
}
BENCHMARK(TenRoutesFiveOnBody1KiB);

void NoRouteMatches(benchmark::State& state) {
  const auto table = compile_or_die(
      {{"other", {"FROM /messages/modules/other/* INTO $upstream"}},
       {"leaf", {"FROM /messages/* WHERE NOT is_defined($connectionModuleId) INTO $upstream"}}});
  run(state, table, sample_message(), 0);
}
BENCHMARK(NoRouteMatches);

} // namespace

BENCHMARK_MAIN();
