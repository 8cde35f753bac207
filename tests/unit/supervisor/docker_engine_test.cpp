// The pure parts of the Docker Engine API client: the ContainerCreate body and log lines.
#include "supervisor/runtime/docker_engine.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace outpost::supervisor {
namespace {

using nlohmann::json;

TEST(DockerEngine, CreateBodyMergesTheDeploymentsOptionsWithTheAgents) {
  container_spec spec{"filter",
                      "localhost/filter:1",
                      R"({"Env": ["A=1"], "Labels": {"x": "y"},
                          "HostConfig": {"Binds": ["/data:/data"], "Privileged": false}})",
                      {"IOTEDGE_MODULEID=filter"},
                      {{"net.azure-devices.edge.owner", "Microsoft.Azure.Devices.Edge.Agent"}},
                      {"/run/outpost:/run/outpost"}};
  std::string why;
  auto body = container_create_body(spec, why);
  ASSERT_TRUE(body) << why;
  auto j = json::parse(*body);
  EXPECT_EQ(j["Image"], "localhost/filter:1");
  EXPECT_EQ(j["Env"], (json{"A=1", "IOTEDGE_MODULEID=filter"}));
  EXPECT_EQ(j["Labels"]["x"], "y");
  EXPECT_EQ(j["Labels"]["net.azure-devices.edge.owner"], "Microsoft.Azure.Devices.Edge.Agent");
  EXPECT_EQ(j["HostConfig"]["Binds"], (json{"/data:/data", "/run/outpost:/run/outpost"}));
  EXPECT_EQ(j["HostConfig"]["NetworkMode"], "host"); // the hub is on this host's loopback
  EXPECT_EQ(j["HostConfig"]["Privileged"], false);
}

TEST(DockerEngine, CreateBodyKeepsAGivenNetworkModeAndRejectsNonObjects) {
  std::string why;
  container_spec spec{"m", "img", R"({"HostConfig": {"NetworkMode": "none"}})", {}, {}, {}};
  EXPECT_EQ(json::parse(*container_create_body(spec, why))["HostConfig"]["NetworkMode"], "none");
  spec.create_options = "";
  EXPECT_TRUE(container_create_body(spec, why));
  spec.create_options = "[1]";
  EXPECT_FALSE(container_create_body(spec, why));
  EXPECT_NE(why.find("createOptions"), std::string::npos);
}

TEST(DockerEngine, LogLinesGetMillisecondTimestamps) {
  EXPECT_EQ(log_line_from_docker("2026-11-26T18:05:57.891234567Z probe hello"),
            "2026-11-26T18:05:57.891Z probe hello");
  EXPECT_EQ(log_line_from_docker("2026-11-26T18:05:57Z x"), "2026-11-26T18:05:57.000Z x");
  EXPECT_EQ(log_line_from_docker("no timestamp"), "no timestamp");
}

} // namespace
} // namespace outpost::supervisor
