// `outpost route test --route ... --message FILE` through the real binary (issue 4, item 6):
// the exit code says match (0) / no match (1) / bad input (2); the output shows every
// sub-expression's value with where it came from, and the endpoint.

#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <tuple>

#include <unistd.h>

namespace outpost::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class RouteCli : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("outpost-route-cli-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path message(const std::string& name, const std::string& json) {
    auto p = dir_ / name;
    std::ofstream{p} << json;
    return p;
  }

  std::tuple<int, std::string, std::string> run(const std::string& route, const fs::path& msg) {
    process p{{bin_path("outpost"), "route", "test", "--route", route, "--message", msg.string()},
              dir_ / "stderr"};
    std::string out;
    while (auto line = p.read_line(5s)) {
      out += *line + "\n";
    }
    return {p.wait(5s).value_or(-1), out, p.stderr_text()};
  }

  fs::path dir_;
};

TEST_F(RouteCli, ShowsEachSubExpressionAndTheEndpointOfAMatch) {
  auto msg = message("hot.json", R"({
    "body": {"reading": {"temperature": 31.5}},
    "properties": {"alert": "yes"},
    "systemProperties": {"contentType": "application/json", "contentEncoding": "utf-8",
                         "connectionDeviceId": "dev1", "connectionModuleId": "sensor",
                         "outputName": "temperatureOutput"}})");
  auto [code, out, err] = run(
      "FROM /messages/modules/sensor/outputs/* WHERE $body.reading.temperature > 30 AND alert = "
      "'yes' INTO BrokeredEndpoint(\"/modules/filter/inputs/in\")",
      msg);
  EXPECT_EQ(code, 0) << out << err;
  EXPECT_NE(out.find("$body.reading.temperature  =  31.5  (from the body)"), std::string::npos)
      << out;
  EXPECT_NE(out.find("alert  =  'yes'  (application property)"), std::string::npos) << out;
  EXPECT_NE(out.find("MATCH: the message goes to BrokeredEndpoint(\"/modules/filter/inputs/in\")"),
            std::string::npos)
      << out;
}

TEST_F(RouteCli, ExplainsWhyAMessageDoesNotMatch) {
  // The body is JSON but the content type is missing: $body is undefined (IoT Hub semantics).
  auto msg = message("plain.json", R"({"body": {"temperature": 40},
                                       "systemProperties": {"connectionDeviceId": "dev1"}})");
  auto [code, out, err] = run("FROM /messages/* WHERE $body.temperature > 30 INTO $upstream", msg);
  EXPECT_EQ(code, 1) << out << err;
  EXPECT_NE(out.find("needs contentType application/json"), std::string::npos) << out;
  EXPECT_NE(out.find("no match: the condition is undefined"), std::string::npos) << out;
}

TEST_F(RouteCli, BadRouteOrMessageFileIsExitCode2WithWhere) {
  auto msg = message("m.json", R"({"properties": {"temperature": "31"}})");
  auto [code, out, err] = run("FROM /messages/* WHERE temperature > 30 INTO $upstream", msg);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("column"), std::string::npos) << err;
  EXPECT_NE(err.find("temperature"), std::string::npos) << err;

  auto bad = message("bad.json", R"({"properties": {"temperature": 31}})");
  std::tie(code, out, err) = run("FROM /messages/* INTO $upstream", bad);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("application property 'temperature' must be a string"), std::string::npos)
      << err;
  auto unknown = message("unknown.json", R"({"systemProperties": {"colour": "red"}})");
  std::tie(code, out, err) = run("FROM /messages/* INTO $upstream", unknown);
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("unknown system property 'colour'"), std::string::npos) << err;
}

} // namespace
} // namespace outpost::test
