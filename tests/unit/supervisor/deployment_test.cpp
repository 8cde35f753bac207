#include "supervisor/model/deployment.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace outpost::supervisor {
namespace {

using json = nlohmann::json;

const std::string hex_upper(64, 'A');
const std::string hex_lower(64, 'a');
const std::string digest_upper = "sha256:" + hex_upper;
const std::string digest_lower = "sha256:" + hex_lower;
const std::string digest_b = "sha256:" + std::string(64, 'b');

/// A valid schema 1.1 `$edgeAgent` desired document: two process modules and a docker one.
json valid_desired() {
  auto d = json::parse(R"j({
    "schemaVersion": "1.1",
    "$version": 42,
    "runtime": {
      "type": "docker",
      "settings": {
        "minDockerVersion": "v1.25",
        "loggingOptions": "",
        "registryCredentials": {
          "acr": {"username": "user", "password": "secret", "address": "myacr.azurecr.io"}
        }
      }
    },
    "systemModules": {
      "edgeAgent": {
        "type": "docker",
        "settings": {"image": "mcr.microsoft.com/azureiotedge-agent:1.4", "createOptions": "{}"}
      },
      "edgeHub": {
        "type": "docker",
        "status": "running",
        "restartPolicy": "always",
        "startupOrder": 0,
        "settings": {
          "image": "mcr.microsoft.com/azureiotedge-hub:1.4",
          "createOptions": "{\"HostConfig\":{\"PortBindings\":{\"8883/tcp\":[{\"HostPort\":\"8883\"}]}}}"
        },
        "env": {"OptimizeForPerformance": {"value": "false"}}
      }
    },
    "modules": {
      "sensor": {
        "version": "1.0",
        "type": "process",
        "status": "running",
        "restartPolicy": "on-failure",
        "imagePullPolicy": "never",
        "startupOrder": 1,
        "env": {
          "NAME": {"value": "s1"},
          "RATE": {"value": 10},
          "RATIO": {"value": 0.5},
          "VERBOSE": {"value": true},
          "QUIET": {"value": false}
        },
        "settings": {
          "path": "/opt/sensor/bin/sensor",
          "args": ["--rate", "10"],
          "workingDir": "/var/lib/sensor"
        }
      },
      "filter": {
        "type": "process",
        "status": "stopped",
        "settings": {"path": "/usr/bin/filter"}
      },
      "tempsim": {
        "type": "docker",
        "restartPolicy": "always",
        "startupOrder": 2,
        "settings": {
          "image": "mcr.microsoft.com/azureiotedge-simulated-temperature-sensor",
          "createOptions": "{\"HostConfig\":",
          "createOptions02": "}",
          "createOptions01": "{\"Privileged\":true}"
        }
      }
    }
  })j");
  d["modules"]["sensor"]["settings"]["digest"] = digest_upper;
  d["modules"]["filter"]["settings"]["digest"] = digest_lower;
  d["modules"]["tempsim"]["settings"]["digest"] = digest_b;
  return d;
}

/// The smallest valid document: no user modules.
json minimal_desired() {
  return json::parse(R"j({
    "schemaVersion": "1.0",
    "runtime": {"type": "docker"},
    "systemModules": {
      "edgeAgent": {"type": "docker", "settings": {"image": "agent:1.4"}},
      "edgeHub": {"type": "docker", "status": "running", "restartPolicy": "always",
                  "settings": {"image": "hub:1.4"}}
    },
    "modules": {}
  })j");
}

deployment parse_ok(const json& doc) {
  auto r = parse_deployment(doc.dump());
  EXPECT_EQ(r.status.code, deployment_code::ok) << r.status.description;
  if (!r.value) {
    ADD_FAILURE() << "no deployment for: " << doc.dump();
    return {};
  }
  return *r.value;
}

/// 400 whose description is "Agent configuration format is invalid: <expected>...".
void expect_format_error(const json& doc, const std::string& expected) {
  const auto r = parse_deployment(doc.dump());
  EXPECT_EQ(r.status.code, deployment_code::format_error) << r.status.description;
  EXPECT_FALSE(r.value.has_value());
  EXPECT_EQ(r.status.description.rfind("Agent configuration format is invalid: " + expected, 0), 0u)
      << r.status.description;
}

void expect_schema_error(const json& doc, const std::string& version) {
  const auto r = parse_deployment(doc.dump());
  EXPECT_EQ(r.status.code, deployment_code::invalid_schema) << r.status.description;
  EXPECT_FALSE(r.value.has_value());
  EXPECT_NE(r.status.description.find(version), std::string::npos) << r.status.description;
  EXPECT_NE(r.status.description.find("1.0 and 1.1"), std::string::npos) << r.status.description;
}

const std::string empty_description =
    "This device has an empty configuration for the edge agent. Please set a deployment "
    "manifest.";

void expect_empty(std::string_view text) {
  const auto r = parse_deployment(text);
  EXPECT_EQ(r.status, (deployment_status{deployment_code::empty, empty_description})) << text;
  EXPECT_FALSE(r.value.has_value());
}

// ---- a full valid manifest ------------------------------------------------------------------

TEST(ParseDeployment, ReadsTheEnvelopeOfAFullManifest) {
  const auto r = parse_deployment(valid_desired().dump());
  EXPECT_EQ(r.status.code, deployment_code::ok);
  EXPECT_EQ(r.status.description, "");
  ASSERT_TRUE(r.value.has_value());
  EXPECT_EQ(r.value->schema_version, "1.1");
  EXPECT_EQ(r.value->runtime_type, "docker");
  EXPECT_EQ(r.value->version, 42);
  ASSERT_EQ(r.value->modules.size(), 3u);
  EXPECT_EQ(r.value->modules.count("sensor"), 1u);
  EXPECT_EQ(r.value->modules.count("filter"), 1u);
  EXPECT_EQ(r.value->modules.count("tempsim"), 1u);
}

TEST(ParseDeployment, ReadsEveryFieldOfAProcessModule) {
  const auto d = parse_ok(valid_desired());
  const auto& m = d.modules.at("sensor");
  EXPECT_EQ(m.name, "sensor");
  EXPECT_EQ(m.version, "1.0");
  EXPECT_EQ(m.type, module_type::process);
  EXPECT_EQ(m.status, desired_status::running);
  EXPECT_EQ(m.restart, restart_policy::on_failure);
  EXPECT_EQ(m.pull, image_pull_policy::never);
  EXPECT_EQ(m.startup_order, 1u);
  EXPECT_EQ(m.process.path, "/opt/sensor/bin/sensor");
  EXPECT_EQ(m.process.args, (std::vector<std::string>{"--rate", "10"}));
  EXPECT_EQ(m.process.working_dir, "/var/lib/sensor");
  EXPECT_EQ(m.process.digest, digest_lower); // lower-cased
}

TEST(ParseDeployment, ConvertsEnvValuesToStrings) {
  const auto d = parse_ok(valid_desired());
  const std::map<std::string, std::string> expected{
      {"NAME", "s1"}, {"RATE", "10"}, {"RATIO", "0.5"}, {"VERBOSE", "true"}, {"QUIET", "false"}};
  EXPECT_EQ(d.modules.at("sensor").env, expected);
}

TEST(ParseDeployment, AppliesDefaultsToOmittedFields) {
  const auto d = parse_ok(valid_desired());
  const auto& m = d.modules.at("filter");
  EXPECT_EQ(m.status, desired_status::stopped);
  EXPECT_EQ(m.restart, restart_policy::on_unhealthy);
  EXPECT_EQ(m.pull, image_pull_policy::on_create);
  EXPECT_EQ(m.startup_order, last_startup_order);
  EXPECT_EQ(m.version, "");
  EXPECT_TRUE(m.process.args.empty());
  EXPECT_EQ(m.process.working_dir, "");
  EXPECT_TRUE(m.env.empty());
}

TEST(ParseDeployment, DefaultsStatusToRunning) {
  const auto d = parse_ok(valid_desired());
  EXPECT_EQ(d.modules.at("tempsim").status, desired_status::running);
}

TEST(ParseDeployment, ReadsADockerModule) {
  const auto d = parse_ok(valid_desired());
  const auto& m = d.modules.at("tempsim");
  EXPECT_EQ(m.type, module_type::docker);
  EXPECT_EQ(m.restart, restart_policy::always);
  EXPECT_EQ(m.startup_order, 2u);
  EXPECT_EQ(m.docker.image, "mcr.microsoft.com/azureiotedge-simulated-temperature-sensor:latest");
  // createOptions, then createOptions01, createOptions02: in numeric order, not document order.
  EXPECT_EQ(m.docker.create_options, R"({"HostConfig":{"Privileged":true}})");
  EXPECT_EQ(m.docker.digest, digest_b);
}

TEST(ParseDeployment, ReadsEdgeHubAsAModule) {
  const auto d = parse_ok(valid_desired());
  const auto& hub = d.edge_hub;
  EXPECT_EQ(hub.name, "edgeHub");
  EXPECT_EQ(hub.type, module_type::docker);
  EXPECT_EQ(hub.status, desired_status::running);
  EXPECT_EQ(hub.restart, restart_policy::always);
  EXPECT_EQ(hub.startup_order, 0u);
  EXPECT_EQ(hub.docker.image, "mcr.microsoft.com/azureiotedge-hub:1.4");
  EXPECT_EQ(hub.docker.create_options,
            R"({"HostConfig":{"PortBindings":{"8883/tcp":[{"HostPort":"8883"}]}}})");
  EXPECT_EQ(hub.env, (std::map<std::string, std::string>{{"OptimizeForPerformance", "false"}}));
}

TEST(ParseDeployment, AcceptsSchema10And110) {
  auto doc = minimal_desired();
  EXPECT_EQ(parse_ok(doc).schema_version, "1.0");
  doc["schemaVersion"] = "1.1.0";
  EXPECT_EQ(parse_ok(doc).schema_version, "1.1.0");
}

TEST(ParseDeployment, AcceptsEmptyModulesAndNoVersion) {
  const auto d = parse_ok(minimal_desired());
  EXPECT_TRUE(d.modules.empty());
  EXPECT_FALSE(d.version.has_value());
}

TEST(ParseDeployment, AcceptsProcessRuntime) {
  auto doc = minimal_desired();
  doc["runtime"]["type"] = "process";
  EXPECT_EQ(parse_ok(doc).runtime_type, "process");
}

TEST(ParseDeployment, IgnoresUnknownKeys) {
  auto doc = valid_desired();
  doc["integrity"] = {{"header", json::object()}};
  doc["modules"]["sensor"]["futureField"] = 1;
  doc["runtime"]["extra"] = "x";
  EXPECT_EQ(parse_ok(doc).modules.size(), 3u);
}

// ---- input shapes ----------------------------------------------------------------------------

TEST(ParseDeployment, AcceptsAWholeManifest) {
  const json manifest{{"modulesContent",
                       {{"$edgeAgent", {{"properties.desired", valid_desired()}}},
                        {"$edgeHub", {{"properties.desired", {{"schemaVersion", "1.1"}}}}}}}};
  const auto d = parse_ok(manifest);
  EXPECT_EQ(d.modules, parse_ok(valid_desired()).modules);
  EXPECT_EQ(d.version, 42);
}

TEST(ParseDeployment, AcceptsAPropertiesDesiredWrapper) {
  const json wrapped{{"properties.desired", valid_desired()}};
  const auto d = parse_ok(wrapped);
  EXPECT_EQ(d.modules, parse_ok(valid_desired()).modules);
  EXPECT_EQ(d.edge_hub, parse_ok(valid_desired()).edge_hub);
}

// ---- 417 and malformed text --------------------------------------------------------------

TEST(ParseDeployment, ManifestWithoutEdgeAgentIsEmpty) {
  expect_empty(R"({"modulesContent": {"$edgeHub": {"properties.desired": {}}}})");
}

TEST(ParseDeployment, EmptyDesiredIsEmpty) {
  expect_empty("{}");
  expect_empty(R"({"$version": 7})");
  expect_empty(R"({"properties.desired": {}})");
  expect_empty(R"({"modulesContent": {"$edgeAgent": {"properties.desired": {"$version": 2}}}})");
}

TEST(ParseDeployment, TextThatIsNotJsonIs400) {
  for (const std::string_view text : {"not json", "{\"schemaVersion\": ", ""}) {
    const auto r = parse_deployment(text);
    EXPECT_EQ(r.status.code, deployment_code::format_error) << text;
    EXPECT_EQ(
        r.status.description.rfind("Agent configuration format is invalid: not valid JSON", 0), 0u)
        << r.status.description;
  }
}

TEST(ParseDeployment, DesiredThatIsNotAnObjectIs400) {
  expect_format_error(json::array({1, 2}), "properties.desired: expected an object");
}

// ---- 412 ----------------------------------------------------------------------------------

TEST(ParseDeployment, Schema12IsUnsupported) {
  auto doc = valid_desired();
  doc["schemaVersion"] = "1.2";
  expect_schema_error(doc, "\"1.2\"");
}

TEST(ParseDeployment, Schema20IsUnsupported) {
  auto doc = valid_desired();
  doc["schemaVersion"] = "2.0";
  expect_schema_error(doc, "\"2.0\"");
}

TEST(ParseDeployment, Schema111IsAbove110) {
  auto doc = valid_desired();
  doc["schemaVersion"] = "1.1.1";
  expect_schema_error(doc, "\"1.1.1\"");
}

TEST(ParseDeployment, UnparseableSchemaIsUnsupported) {
  auto doc = valid_desired();
  doc["schemaVersion"] = "abc";
  expect_schema_error(doc, "\"abc\"");
  doc["schemaVersion"] = " ";
  expect_schema_error(doc, "\" \"");
}

TEST(ParseDeployment, MissingSchemaIsUnsupported) {
  auto doc = valid_desired();
  doc.erase("schemaVersion");
  expect_schema_error(doc, "(missing)");
}

TEST(ParseDeployment, NumericSchemaIsUnsupported) {
  auto doc = valid_desired();
  doc["schemaVersion"] = 1.1;
  expect_schema_error(doc, "1.1");
}

TEST(ParseDeployment, SchemaIsCheckedBeforeTheRest) {
  auto doc = valid_desired();
  doc["schemaVersion"] = "2.0";
  doc.erase("runtime");
  expect_schema_error(doc, "2.0");
}

// ---- 400: runtime and system modules ---------------------------------------------------------

TEST(ParseDeployment, RuntimeIsRequired) {
  auto doc = valid_desired();
  doc.erase("runtime");
  expect_format_error(doc, "runtime: required");
}

TEST(ParseDeployment, RuntimeTypeMustBeKnown) {
  auto doc = valid_desired();
  doc["runtime"].erase("type");
  expect_format_error(doc, "runtime.type: required");
  doc["runtime"]["type"] = "kubernetes";
  expect_format_error(doc, R"(runtime.type: expected process or docker, got "kubernetes")");
}

TEST(ParseDeployment, RegistryCredentialsNeedAllThreeFields) {
  auto doc = valid_desired();
  doc["runtime"]["settings"]["registryCredentials"]["acr"].erase("password");
  expect_format_error(doc, "runtime.settings.registryCredentials.acr.password: required");
}

TEST(ParseDeployment, RuntimeSettingsStringsMustBeStrings) {
  auto doc = valid_desired();
  doc["runtime"]["settings"]["loggingOptions"] = 3;
  expect_format_error(doc, "runtime.settings.loggingOptions: expected a string, got 3");
}

TEST(ParseDeployment, SystemModulesAreRequired) {
  auto doc = valid_desired();
  doc.erase("systemModules");
  expect_format_error(doc, "systemModules: required");
  doc = valid_desired();
  doc["systemModules"].erase("edgeAgent");
  expect_format_error(doc, "systemModules.edgeAgent: required");
  doc = valid_desired();
  doc["systemModules"].erase("edgeHub");
  expect_format_error(doc, "systemModules.edgeHub: required");
}

TEST(ParseDeployment, EdgeAgentNeedsTypeSettingsAndImage) {
  auto doc = valid_desired();
  doc["systemModules"]["edgeAgent"].erase("type");
  expect_format_error(doc, "systemModules.edgeAgent.type: required");
  doc = valid_desired();
  doc["systemModules"]["edgeAgent"].erase("settings");
  expect_format_error(doc, "systemModules.edgeAgent.settings: required");
  doc = valid_desired();
  doc["systemModules"]["edgeAgent"]["settings"].erase("image");
  expect_format_error(doc, "systemModules.edgeAgent.settings.image: required");
}

TEST(ParseDeployment, EdgeHubNeedsStatusAndRestartPolicy) {
  auto doc = valid_desired();
  doc["systemModules"]["edgeHub"].erase("status");
  expect_format_error(doc, "systemModules.edgeHub.status: required");
  doc = valid_desired();
  doc["systemModules"]["edgeHub"].erase("restartPolicy");
  expect_format_error(doc, "systemModules.edgeHub.restartPolicy: required");
}

TEST(ParseDeployment, ProcessSystemModulesNeedNoExecutable) {
  // They run inside outpostd: there is no path or digest to give.
  auto doc = minimal_desired();
  doc["systemModules"]["edgeAgent"] = {{"type", "process"}, {"settings", json::object()}};
  doc["systemModules"]["edgeHub"]["type"] = "process";
  doc["systemModules"]["edgeHub"]["settings"] = json::object();
  EXPECT_EQ(parse_ok(doc).edge_hub.type, module_type::process);
}

// ---- 400: modules -------------------------------------------------------------------------

TEST(ParseDeployment, ModulesAreRequired) {
  auto doc = valid_desired();
  doc.erase("modules");
  expect_format_error(doc, "modules: required");
  doc["modules"] = json::array();
  expect_format_error(doc, "modules: expected an object, got []");
}

TEST(ParseDeployment, ModuleNamesFollowTheSchemaPattern) {
  auto doc = valid_desired();
  doc["modules"]["my.module"] = doc["modules"]["filter"];
  expect_format_error(doc, "modules.my.module: invalid module name");
  doc = valid_desired();
  doc["modules"]["Ok_name-2"] = doc["modules"]["filter"];
  EXPECT_EQ(parse_ok(doc).modules.at("Ok_name-2").name, "Ok_name-2");
}

TEST(ParseDeployment, ModuleTypeIsRequiredAndKnown) {
  auto doc = valid_desired();
  doc["modules"]["sensor"].erase("type");
  expect_format_error(doc, "modules.sensor.type: required");
  doc["modules"]["sensor"]["type"] = "container";
  expect_format_error(doc, R"(modules.sensor.type: expected process or docker, got "container")");
}

TEST(ParseDeployment, RestartPolicyMustBeKnown) {
  auto doc = valid_desired();
  doc["modules"]["sensor"]["restartPolicy"] = "sometimes";
  expect_format_error(doc,
                      "modules.sensor.restartPolicy: expected never, on-failure, on-unhealthy or "
                      "always, got \"sometimes\"");
}

TEST(ParseDeployment, StatusMustBeRunningOrStopped) {
  auto doc = valid_desired();
  doc["modules"]["sensor"]["status"] = "paused";
  expect_format_error(doc, R"(modules.sensor.status: expected running or stopped, got "paused")");
}

TEST(ParseDeployment, ImagePullPolicyMustBeKnown) {
  auto doc = valid_desired();
  doc["modules"]["tempsim"]["imagePullPolicy"] = "always";
  expect_format_error(doc, "modules.tempsim.imagePullPolicy: expected on-create or never");
}

TEST(ParseDeployment, StartupOrderIsAnUnsigned32BitInteger) {
  auto doc = valid_desired();
  doc["modules"]["sensor"]["startupOrder"] = 4294967295u;
  EXPECT_EQ(parse_ok(doc).modules.at("sensor").startup_order, 4294967295u);
  for (const json& bad : {json(-1), json(4294967296ull), json("1"), json(1.5)}) {
    doc["modules"]["sensor"]["startupOrder"] = bad;
    expect_format_error(doc,
                        "modules.sensor.startupOrder: expected an integer from 0 to "
                        "4294967295, got "
                            + bad.dump());
  }
}

TEST(ParseDeployment, VersionMustBeAString) {
  auto doc = valid_desired();
  doc["modules"]["sensor"]["version"] = 2;
  expect_format_error(doc, "modules.sensor.version: expected a string, got 2");
}

TEST(ParseDeployment, SettingsAreRequired) {
  auto doc = valid_desired();
  doc["modules"]["filter"].erase("settings");
  expect_format_error(doc, "modules.filter.settings: required");
}

TEST(ParseDeployment, EnvNamesFollowTheSchemaPattern) {
  auto doc = valid_desired();
  doc["modules"]["sensor"]["env"]["MY.VAR"] = {{"value", "x"}};
  expect_format_error(doc, "modules.sensor.env.MY.VAR: invalid variable name");
  doc = valid_desired();
  doc["modules"]["sensor"]["env"]["HAS SPACE"] = {{"value", "x"}};
  expect_format_error(doc, "modules.sensor.env.HAS SPACE: invalid variable name");
}

TEST(ParseDeployment, EnvEntriesAreValueObjects) {
  auto doc = valid_desired();
  doc["modules"]["sensor"]["env"]["RAW"] = "x";
  expect_format_error(doc, R"(modules.sensor.env.RAW: expected an object {"value": ...}, got "x")");
  doc["modules"]["sensor"]["env"]["RAW"] = {{"value", json::array()}};
  expect_format_error(doc, "modules.sensor.env.RAW.value: expected a string, number or boolean");
  doc["modules"]["sensor"]["env"]["RAW"] = json::object();
  expect_format_error(doc, "modules.sensor.env.RAW.value: required");
}

// ---- 400: process settings -------------------------------------------------------------------

TEST(ParseDeployment, ProcessPathIsRequiredAndAbsolute) {
  auto doc = valid_desired();
  doc["modules"]["filter"]["settings"].erase("path");
  expect_format_error(doc, "modules.filter.settings.path: required");
  doc["modules"]["filter"]["settings"]["path"] = "bin/filter";
  expect_format_error(
      doc, R"(modules.filter.settings.path: expected an absolute path, got "bin/filter")");
  doc["modules"]["filter"]["settings"]["path"] = "";
  expect_format_error(doc, "modules.filter.settings.path: expected an absolute path");
}

TEST(ParseDeployment, ProcessDigestIsRequired) {
  auto doc = valid_desired();
  doc["modules"]["filter"]["settings"].erase("digest");
  expect_format_error(doc, "modules.filter.settings.digest: required");
}

TEST(ParseDeployment, ProcessDigestMustBeSha256) {
  auto doc = valid_desired();
  for (const std::string& bad : {"sha256:" + std::string(63, 'a'), "md5:" + hex_lower,
                                 "sha256:" + std::string(63, 'a') + "g", hex_lower}) {
    doc["modules"]["filter"]["settings"]["digest"] = bad;
    expect_format_error(doc,
                        R"(modules.filter.settings.digest: expected "sha256:" and 64 hex digits)");
  }
}

TEST(ParseDeployment, ArgsAreStrings) {
  auto doc = valid_desired();
  doc["modules"]["sensor"]["settings"]["args"] = {"--rate", 10};
  expect_format_error(doc, "modules.sensor.settings.args[1]: expected a string, got 10");
  doc["modules"]["sensor"]["settings"]["args"] = "--rate 10";
  expect_format_error(doc, "modules.sensor.settings.args: expected an array of strings");
}

// ---- docker settings -----------------------------------------------------------------------

std::string image_after_parse(const std::string& image) {
  auto doc = minimal_desired();
  doc["modules"]["m"] = {{"type", "docker"}, {"settings", {{"image", image}}}};
  return parse_ok(doc).modules.at("m").docker.image;
}

TEST(ParseDeployment, AppendsLatestOnlyWhenTheImageHasNoTag) {
  EXPECT_EQ(image_after_parse("alpine"), "alpine:latest");
  EXPECT_EQ(image_after_parse("alpine:3.19"), "alpine:3.19");
  EXPECT_EQ(image_after_parse("localhost:5000/team/app"), "localhost:5000/team/app:latest");
  EXPECT_EQ(image_after_parse("$upstream:443/app:1.0"), "$upstream:443/app:1.0");
  EXPECT_EQ(image_after_parse("app@" + digest_lower), "app@" + digest_lower);
}

TEST(ParseDeployment, DockerImageIsRequiredAndNonBlank) {
  auto doc = valid_desired();
  doc["modules"]["tempsim"]["settings"].erase("image");
  expect_format_error(doc, "modules.tempsim.settings.image: required");
  doc["modules"]["tempsim"]["settings"]["image"] = "  ";
  expect_format_error(doc, "modules.tempsim.settings.image: expected a non-blank image name");
}

TEST(ParseDeployment, CreateOptionsIsAString) {
  auto doc = valid_desired();
  doc["modules"]["tempsim"]["settings"]["createOptions"] = {{"HostConfig", json::object()}};
  expect_format_error(doc, "modules.tempsim.settings.createOptions: expected a string");
  doc = valid_desired();
  doc["modules"]["tempsim"]["settings"]["createOptions01"] = 5;
  expect_format_error(doc, "modules.tempsim.settings.createOptions01: expected a string, got 5");
}

TEST(ParseDeployment, CreateOptionsMustBeJson) {
  auto doc = valid_desired();
  doc["modules"]["tempsim"]["settings"].erase("createOptions02"); // unbalanced now
  expect_format_error(doc, "modules.tempsim.settings.createOptions: ");
}

TEST(ParseDeployment, EmptyOrNullCreateOptionsMeanNone) {
  for (const char* none : {"", "null"}) {
    auto doc = minimal_desired();
    doc["modules"]["m"] = {{"type", "docker"},
                           {"settings", {{"image", "app:1"}, {"createOptions", none}}}};
    EXPECT_EQ(parse_ok(doc).modules.at("m").docker.create_options, "") << none;
  }
}

TEST(ParseDeployment, DockerDigestIsOptionalButChecked) {
  auto doc = valid_desired();
  doc["modules"]["tempsim"]["settings"].erase("digest");
  EXPECT_EQ(parse_ok(doc).modules.at("tempsim").docker.digest, "");
  doc["modules"]["tempsim"]["settings"]["digest"] = "sha256:abc";
  expect_format_error(doc, R"(modules.tempsim.settings.digest: expected "sha256:" and 64 hex)");
  doc["modules"]["tempsim"]["settings"]["digest"] = "sha256:" + hex_upper;
  EXPECT_EQ(parse_ok(doc).modules.at("tempsim").docker.digest, digest_lower);
}

// ---- order of reported problems ------------------------------------------------------------

TEST(ParseDeployment, ReportsTheFirstBadModuleInNameOrder) {
  auto doc = valid_desired();
  doc["modules"]["sensor"]["status"] = "paused";
  doc["modules"]["filter"]["restartPolicy"] = "sometimes";
  expect_format_error(doc, "modules.filter.restartPolicy:");
}

TEST(ParseDeployment, ReportsRuntimeBeforeSystemModulesBeforeModules) {
  auto doc = valid_desired();
  doc["modules"]["filter"].erase("type");
  doc["systemModules"]["edgeHub"].erase("status");
  doc["runtime"]["type"] = "rkt";
  expect_format_error(doc, "runtime.type:");
  doc["runtime"]["type"] = "docker";
  expect_format_error(doc, "systemModules.edgeHub.status:");
}

// ---- change detection ------------------------------------------------------------------------

module_spec parsed_sensor(const json& doc) {
  return parse_ok(doc).modules.at("sensor");
}

TEST(ModuleSpec, StatusOnlyChangeIsSameConfig) {
  auto doc = valid_desired();
  const auto before = parsed_sensor(doc);
  doc["modules"]["sensor"]["status"] = "stopped";
  const auto after = parsed_sensor(doc);
  EXPECT_TRUE(before.same_config(after));
  EXPECT_FALSE(before == after);
  EXPECT_TRUE(before == parsed_sensor(valid_desired()));
}

TEST(ModuleSpec, VersionChangeIsANewConfig) {
  auto doc = valid_desired();
  const auto before = parsed_sensor(doc);
  doc["modules"]["sensor"]["version"] = "1.1";
  const auto after = parsed_sensor(doc);
  EXPECT_FALSE(before.same_config(after));
  EXPECT_FALSE(before == after);
}

TEST(ModuleSpec, EnvChangeIsANewConfig) {
  auto doc = valid_desired();
  const auto before = parsed_sensor(doc);
  doc["modules"]["sensor"]["env"]["RATE"]["value"] = 11;
  EXPECT_FALSE(before.same_config(parsed_sensor(doc)));
}

TEST(ModuleSpec, DigestCaseIsNotAChange) {
  auto doc = valid_desired();
  const auto before = parsed_sensor(doc);
  doc["modules"]["sensor"]["settings"]["digest"] = digest_lower;
  EXPECT_TRUE(before == parsed_sensor(doc));
}

} // namespace
} // namespace outpost::supervisor
