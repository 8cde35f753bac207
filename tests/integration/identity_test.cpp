// Identities through the real interface: `outpost identity ...` against a running outpostd
// over its admin unix socket.

#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <regex>

namespace outpost::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class Identities : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = make_temp_dir("ids");
    cfg_ = dir_ / "config.toml";
    write_file(cfg_, "hostname = \"edge.test\"\ndevice_id = \"edge1\"\n[storage]\ndir = \""
                         + (dir_ / "data").string()
                         + "\"\ndurability = \"fsync\"\n[listen]\nmetrics = \"127.0.0.1:0\"\nmqtt_tls = \"127.0.0.1:0\"\nhttps = \"127.0.0.1:0\"\namqp_tls = \"127.0.0.1:0\"\n");
    start();
  }
  void TearDown() override {
    stop();
    remove_temp_dir(dir_, HasFailure());
  }
  void start() {
    daemon_ = std::make_unique<process>(
        std::vector<std::string>{bin_path("outpostd"), "--config", cfg_.string()},
        dir_ / "outpostd.stderr");
    ASSERT_TRUE(wait_for_file(dir_ / "data" / "run" / "ports.json", 10s));
  }
  void stop() {
    if (daemon_) {
      daemon_->signal(SIGTERM);
      EXPECT_EQ(daemon_->wait(5s).value_or(-1), 0);
      daemon_.reset();
    }
  }

  struct run_result {
    int code;
    std::string out;
    std::string err;
  };
  run_result cli(std::vector<std::string> args) {
    args.insert(args.begin(), {bin_path("outpost"), "--config", cfg_.string(), "identity"});
    process p{args, dir_ / "cli.stderr"};
    std::string out;
    while (auto line = p.read_line(5s)) {
      out += *line + "\n";
    }
    return {p.wait(5s).value_or(-1), out, p.stderr_text()};
  }

  fs::path dir_;
  fs::path cfg_;
  std::unique_ptr<process> daemon_;
};

const std::regex key_re{"SharedAccessKey=[A-Za-z0-9+/]{43}=\n$"};

TEST_F(Identities, AddPrintsConnectionStringsForDevicesAndModules) {
  auto dev = cli({"add", "device", "dev1"});
  ASSERT_EQ(dev.code, 0) << dev.err;
  EXPECT_EQ(dev.out.rfind("HostName=edge.test;DeviceId=dev1;SharedAccessKey=", 0), 0u) << dev.out;
  EXPECT_TRUE(std::regex_search(dev.out, key_re)) << dev.out;
  auto mod = cli({"add", "module", "filter"});
  ASSERT_EQ(mod.code, 0) << mod.err;
  EXPECT_EQ(mod.out.rfind("HostName=edge.test;DeviceId=edge1;ModuleId=filter;SharedAccessKey=", 0),
            0u)
      << mod.out;
  auto leaf_mod = cli({"add", "module", "dev1/sensor"});
  ASSERT_EQ(leaf_mod.code, 0) << leaf_mod.err;
  EXPECT_NE(leaf_mod.out.find("DeviceId=dev1;ModuleId=sensor;"), std::string::npos);
  // Two identities never share a key.
  EXPECT_NE(dev.out.substr(dev.out.find("Key=")), mod.out.substr(mod.out.find("Key=")));

  auto list = cli({"list"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("dev1\tdevice\tsas\tenabled"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("edge1/filter\tmodule\tsas\tenabled"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("edge1\tdevice"), std::string::npos) << "the edge device itself";
  EXPECT_EQ(list.out.find("Key"), std::string::npos) << "list must not print keys";

  auto show = cli({"show", "dev1", "--connection-string"});
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_EQ(show.out, dev.out);
  auto full = cli({"show", "edge1/filter"});
  EXPECT_NE(full.out.find("\"primaryKey\""), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("\"secondaryKey\""), std::string::npos);
}

TEST_F(Identities, DisableEnableAndRemoveTakeEffectWithoutRestart) {
  ASSERT_EQ(cli({"add", "device", "dev1"}).code, 0);
  ASSERT_EQ(cli({"add", "module", "dev1/m"}).code, 0);
  auto off = cli({"disable", "dev1"});
  ASSERT_EQ(off.code, 0) << off.err;
  EXPECT_NE(cli({"list"}).out.find("dev1\tdevice\tsas\tdisabled"), std::string::npos);
  ASSERT_EQ(cli({"enable", "dev1"}).code, 0);
  EXPECT_NE(cli({"list"}).out.find("dev1\tdevice\tsas\tenabled"), std::string::npos);
  auto rm = cli({"remove", "dev1"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_NE(rm.out.find("2 identities"), std::string::npos) << rm.out;
  const auto left = cli({"list"}).out;
  EXPECT_EQ(left.find("dev1"), std::string::npos) << left;
}

TEST_F(Identities, SurviveRestartsWithTheSameKeys) {
  auto dev = cli({"add", "device", "dev1"});
  ASSERT_EQ(dev.code, 0);
  stop();
  start();
  EXPECT_EQ(cli({"show", "dev1", "--connection-string"}).out, dev.out);
}

TEST_F(Identities, ErrorsAreClearAndChangeNothing) {
  ASSERT_EQ(cli({"add", "device", "dev1"}).code, 0);
  auto dup = cli({"add", "device", "dev1"});
  EXPECT_EQ(dup.code, 1);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos) << dup.err;
  auto bad = cli({"add", "device", "bad id"});
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("invalid identity"), std::string::npos) << bad.err;
  auto orphan = cli({"add", "module", "ghost/m"});
  EXPECT_EQ(orphan.code, 1);
  EXPECT_NE(orphan.err.find("not found"), std::string::npos) << orphan.err;
  auto missing = cli({"show", "nobody"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
  auto thumb = cli({"add", "device", "cam", "--auth", "x509_thumbprint", "--primary-thumbprint",
                    std::string(64, 'A')});
  EXPECT_EQ(thumb.code, 0) << thumb.err;
  EXPECT_NE(cli({"list"}).out.find("cam\tdevice\tx509_thumbprint\tenabled"), std::string::npos);
  stop();
  auto down = cli({"list"});
  EXPECT_EQ(down.code, 1);
  EXPECT_NE(down.err.find("cannot reach outpostd"), std::string::npos) << down.err;
}

} // namespace
} // namespace outpost::test
