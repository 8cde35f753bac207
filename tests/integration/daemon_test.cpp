// Drives the real outpostd binary: config validation, ports.json, the HTTP surface,
// signals and exit codes.

#include "protocols/transport/http_client.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>
#include <tuple>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace outpost::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class Daemon : public ::testing::Test {
protected:
  void SetUp() override { dir_ = make_temp_dir("daemon"); }
  void TearDown() override { remove_temp_dir(dir_, HasFailure()); }

  /// A config with storage in the test's dir and an ephemeral metrics port, plus `extra`.
  fs::path config(const std::string& extra = "", const std::string& storage_extra = "") {
    const auto file = dir_ / "config.toml";
    write_file(
        file,
        "hostname = \"edge.test\"\ndevice_id = \"edge1\"\n" + extra + "\n[storage]\ndir = \""
            + (dir_ / "data").string() + "\"\n"
            + (storage_extra.find("durability") == std::string::npos ? "durability = \"fsync\"\n"
                                                                     : "")
            + storage_extra + "\n[listen]\nmetrics = \"127.0.0.1:0\"\nmqtt_tls = \"127.0.0.1:0\"\nhttps = \"127.0.0.1:0\"\namqp_tls = \"127.0.0.1:0\"\n[log]\nlevel = \"info\"\n");
    return file;
  }

  std::unique_ptr<process> start(const fs::path& cfg, const std::string& tag = "outpostd") {
    return std::make_unique<process>(
        std::vector<std::string>{bin_path("outpostd"), "--config", cfg.string()},
        dir_ / (tag + ".stderr"));
  }

  /// Waits for ports.json and returns the metrics address.
  std::string metrics_address() {
    auto ports = wait_for_file(dir_ / "data" / "run" / "ports.json", 10s);
    EXPECT_TRUE(ports) << "outpostd did not write ports.json";
    auto addr = ports ? json_string(*ports, "metrics") : std::nullopt;
    EXPECT_TRUE(addr);
    return addr.value_or("");
  }

  /// Runs outpostd on a config that must be rejected; its exit code and stderr.
  std::pair<int, std::string> run_rejected(const fs::path& cfg) {
    auto p = start(cfg);
    auto code = p->wait(10s);
    EXPECT_TRUE(code) << "outpostd kept running on a bad config";
    return {code.value_or(-1), p->stderr_text()};
  }

  fs::path dir_;
};

TEST_F(Daemon, ServesMetricsAndHealthAndStopsOnSigterm) {
  auto p = start(config());
  const auto addr = metrics_address();
  ASSERT_EQ(addr.rfind("127.0.0.1:", 0), 0u) << addr;
  EXPECT_NE(addr, "127.0.0.1:0");

  auto metrics = transport::http_get(addr, "/metrics");
  ASSERT_TRUE(metrics) << metrics.error().message();
  EXPECT_EQ(metrics->status, 200u);
  EXPECT_NE(metrics->content_type.find("text/plain; version=0.0.4"), std::string::npos);
  for (const char* series :
       {"outpost_build_info{commit=\"", "process_resident_memory_bytes ",
        "process_cpu_seconds_total ", "process_open_fds ", "outpost_store_used_bytes 0"}) {
    EXPECT_NE(metrics->body.find(series), std::string::npos) << series;
  }
  auto health = transport::http_get(addr, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200u);
  EXPECT_NE(health->body.find("\"status\":\"ok\""), std::string::npos);
  auto nope = transport::http_get(addr, "/nope");
  ASSERT_TRUE(nope);
  EXPECT_EQ(nope->status, 404u);

  const auto t0 = std::chrono::steady_clock::now();
  p->signal(SIGTERM);
  auto code = p->wait(5s);
  ASSERT_TRUE(code) << "outpostd did not stop within 5 s of SIGTERM";
  EXPECT_EQ(*code, 0) << p->stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_FALSE(fs::exists(dir_ / "data" / "run" / "ports.json"));
  EXPECT_NE(p->stderr_text().find("SIGTERM received"), std::string::npos);
}

// A failed test's folder stays for post-mortem, but not the store's disk reserve (256 MiB on a
// large disk): CI once ran where a dozen kept folders had filled the disk, and every daemon
// after them refused appends as "disk full".
TEST_F(Daemon, AKeptTestFolderLosesOnlyTheStoresDiskReserve) {
  auto p = start(config());
  metrics_address();
  p->signal(SIGTERM);
  ASSERT_EQ(p->wait(5s).value_or(-1), 0) << p->stderr_text();
  std::vector<fs::path> reserves;
  for (const auto& e : fs::recursive_directory_iterator{dir_}) {
    if (e.path().filename() == "outpost.reserve") {
      reserves.push_back(e.path());
    }
  }
  ASSERT_EQ(reserves.size(), 1u) << "outpostd keeps its reserve under another name now";
  EXPECT_GT(fs::file_size(reserves[0]), 0u);

  remove_temp_dir(dir_, /*keep=*/true);
  EXPECT_FALSE(fs::exists(reserves[0]));
  EXPECT_TRUE(fs::exists(dir_ / "outpostd.stderr"));
  EXPECT_TRUE(fs::exists(dir_ / "data" / "db" / "CURRENT"));
}

// outpostd's compiled-in jemalloc options (outpostd.cpp: freed pages go back after 1 s): jemalloc
// prints the options in force with its statistics at exit.
TEST_F(Daemon, RunsWithItsOwnAllocatorDecaySettings) {
  ::setenv("MALLOC_CONF", "stats_print:true", 1);
  auto p = start(config());
  ::unsetenv("MALLOC_CONF");
  metrics_address();
  p->signal(SIGTERM);
  ASSERT_EQ(p->wait(5s).value_or(-1), 0) << p->stderr_text();
  const auto err = p->stderr_text();
  if (err.find("Begin jemalloc statistics") == std::string::npos) {
    GTEST_SKIP() << "outpostd is not linked with jemalloc (a sanitizer build)";
  }
  EXPECT_NE(err.find("opt.dirty_decay_ms: 1000 "), std::string::npos);
  EXPECT_NE(err.find("opt.muzzy_decay_ms: 0 "), std::string::npos);
}

TEST_F(Daemon, StopsOnSigintAndRestartsOnTheSameStore) {
  for (int round = 0; round < 2; ++round) {
    auto p = start(config());
    metrics_address();
    p->signal(SIGINT);
    auto code = p->wait(5s);
    ASSERT_TRUE(code);
    EXPECT_EQ(*code, 0) << p->stderr_text();
  }
}

TEST_F(Daemon, ProcessMetricsAreRealFigures) {
  auto p = start(config());
  auto reply = transport::http_get(metrics_address(), "/metrics");
  ASSERT_TRUE(reply) << reply.error().message(); // a dead daemon fails here, not in a copy
  const auto& body = reply->body;
  const auto at = body.find("\nprocess_resident_memory_bytes ");
  ASSERT_NE(at, std::string::npos);
  const double rss = std::stod(body.substr(body.find(' ', at + 1) + 1));
  EXPECT_GT(rss, 1e6); // at least a MB ...
  EXPECT_LT(rss, 2e9); // ... and a plausible figure, not pages misread as bytes
}

TEST_F(Daemon, UnknownKeyExitsWithCode2NamingTheKey) {
  auto [code, err] = run_rejected(config("", "dirr = \"/tmp/x\""));
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("storage.dirr"), std::string::npos) << err;
  EXPECT_NE(err.find("unknown key"), std::string::npos) << err;
}

TEST_F(Daemon, UnknownSectionExitsWithCode2NamingIt) {
  auto [code, err] = run_rejected(config("[mqtt]\nport = 1883"));
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("mqtt"), std::string::npos) << err;
}

TEST_F(Daemon, BadValuesExitWithCode2NamingTheKey) {
  struct bad_case {
    std::string top, storage, key;
  };
  for (const auto& c : std::vector<bad_case>{
           {"", "durability = \"sometimes\"", "storage.durability"},
           {"", "max_size_bytes = -5", "storage.max_size_bytes"},
           {"", "max_size_bytes = \"big\"", "storage.max_size_bytes"},
           {"", "group_commit_us = 20000", "storage.group_commit_us"},
           {"", "checkpoint_interval_ms = 5000", "storage.checkpoint_interval_ms"},
           {"device_id = \"\"", "", "device_id"},
           {"[runtime]\nthreads = 100000", "", "runtime.threads"},
           {"[runtime]\nscheduler = \"fast\"", "", "runtime.scheduler"},
           {"[upstream]\nprotocol = \"mqtt\"", "", "upstream.protocol"},
           {"[upstream]\nconnection_string = \"HostName=h;DeviceId=other;SharedAccessKey=a2V5\"",
            "", "upstream.connection_string"},
           {"[upstream]\nconnection_string = \"HostName=h;DeviceId=edge1\"", "",
            "upstream.connection_string"},
           {"[upstream]\nconnection_string = \"HostName=h;DeviceId=edge1;ModuleId=m;"
            "SharedAccessKey=a2V5\"",
            "", "upstream.connection_string"},
           {"[endpoints.bus]\ntype = \"kafka\"", "", "endpoints.bus.type"},
           {"[endpoints.bus]\ntype = \"amqp\"\naddress = \"q\"", "", "endpoints.bus.url"},
           {"[endpoints.bus]\ntype = \"amqp\"\nurl = \"http://h\"\naddress = \"q\"", "",
            "endpoints.bus.url"},
           {"[endpoints.bus]\ntype = \"amqp\"\nurl = \"amqp://h:99999\"\naddress = \"q\"", "",
            "endpoints.bus.url"},
           {"[endpoints.bus]\ntype = \"amqp\"\nurl = \"amqp://h\"", "", "endpoints.bus.address"},
           {"[endpoints.bus]\ntype = \"amqp\"\nurl = \"amqp://h\"\naddress = \"q\"\nqos = 1", "",
            "endpoints.bus.qos"},
           {"[endpoints.\"a b\"]\ntype = \"amqp\"", "", "endpoints.a b"},
       }) {
    // A key given twice is a TOML error, so bad top-level values replace the default line.
    auto cfg = config(c.top, c.storage);
    if (c.key == "device_id") {
      write_file(cfg,
                 "device_id = \"\"\n[storage]\ndir = \"" + (dir_ / "data").string()
                     + "\"\n[listen]\nmqtt_tls = \"127.0.0.1:0\"\nhttps = \"\"\namqp_tls = \"\"\n");
    }
    auto [code, err] = run_rejected(cfg);
    EXPECT_EQ(code, 2) << c.key;
    EXPECT_NE(err.find(c.key), std::string::npos) << c.key << ": " << err;
  }
  write_file(dir_ / "c.toml", "[listen]\nmetrics = \"127.0.0.1:http\"\n[log]\nlevel = \"loud\"\n");
  auto [code, err] = run_rejected(dir_ / "c.toml");
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("listen.metrics"), std::string::npos) << err;
}

TEST_F(Daemon, MalformedTomlAndMissingFileExitWithCode2) {
  write_file(dir_ / "broken.toml", "hostname = \n");
  auto [code, err] = run_rejected(dir_ / "broken.toml");
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("broken.toml:1"), std::string::npos) << err;
  auto [code2, err2] = run_rejected(dir_ / "missing.toml");
  EXPECT_EQ(code2, 2);
  EXPECT_NE(err2.find("cannot read"), std::string::npos) << err2;
}

TEST_F(Daemon, AParentThatNeverAnswersDoesNotHoldUpTheStop) {
  // A "parent" whose kernel accepts connections that nobody ever reads: the TLS handshakes of
  // the upstream link and of the scope sync's HTTPS call hang until their time-outs (10 s).
  const int silent = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(silent, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(silent, 16), 0);
  socklen_t len = sizeof addr;
  ::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len);
  const auto parent = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto p =
      start(config("[upstream]\nconnection_string = \"HostName=parent.test;DeviceId=edge1;"
                   "SharedAccessKey=a2V5a2V5a2V5a2V5\"\nparent_hostname = \""
                   + parent + "\"\nparent_https = \"" + parent + "\""));
  metrics_address();
  std::this_thread::sleep_for(1500ms); // the first scope round is in its handshake by now
  const auto t0 = std::chrono::steady_clock::now();
  p->signal(SIGTERM);
  EXPECT_EQ(p->wait(8s).value_or(-1), 0) << p->stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s) << "the README promises a stop within 5 s";
  ::close(silent);
}

TEST_F(Daemon, StoreThatCannotOpenExitsWithCode1AndNoFallback) {
  // A second daemon on the same store: RocksDB's lock refuses it, and it must not fall back
  // to memory (IoT Edge's silent durability loss).
  auto first = start(config(), "first");
  metrics_address();
  auto second = start(config(), "second");
  auto code = second->wait(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  const auto err = second->stderr_text();
  EXPECT_NE(err.find("cannot open RocksDB"), std::string::npos) << err;
  EXPECT_NE(err.find("lock"), std::string::npos) << err;
  first->signal(SIGTERM);
  EXPECT_EQ(first->wait(5s).value_or(-1), 0);
}

TEST_F(Daemon, MetricsPortInUseExitsWithCode1) {
  auto first = start(config(), "first");
  const auto addr = metrics_address();
  // Same port, other storage dir.
  const auto other = dir_ / "other.toml";
  write_file(
      other,
      "[storage]\ndir = \"" + (dir_ / "other").string()
          + "\"\n[listen]\nmqtt_tls = \"127.0.0.1:0\"\nhttps = \"\"\namqp_tls = \"\"\nmetrics = \""
          + addr + "\"\n");
  auto second = start(other, "second");
  auto code = second->wait(10s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 1);
  EXPECT_NE(second->stderr_text().find("listen.metrics"), std::string::npos);
}

TEST_F(Daemon, CheckFlagValidatesWithoutStarting) {
  auto p = std::make_unique<process>(
      std::vector<std::string>{bin_path("outpostd"), "--check", "--config", config().string()},
      dir_ / "check.stderr");
  EXPECT_EQ(p->wait(5s).value_or(-1), 0);
  EXPECT_FALSE(fs::exists(dir_ / "data"));
}

TEST_F(Daemon, CliFindsTheDaemonThroughItsConfig) {
  const auto cfg = config();
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {bin_path("outpost"), "--config", cfg.string()});
    auto p = std::make_unique<process>(args, dir_ / "cli.stderr");
    std::string out;
    while (auto line = p->read_line(5s)) {
      out += *line + "\n";
    }
    return std::make_tuple(p->wait(5s).value_or(-1), out, p->stderr_text());
  };
  auto [down_code, down_out, down_err] = cli({"status"});
  EXPECT_EQ(down_code, 1);
  EXPECT_NE(down_err.find("not running"), std::string::npos) << down_err;

  auto d = start(cfg);
  metrics_address();
  auto [code, out, err] = cli({"status"});
  EXPECT_EQ(code, 0) << err;
  EXPECT_NE(out.find("edge1: running, healthy"), std::string::npos) << out;
  auto [mcode, mout, merr] = cli({"metrics", "--filter", "outpost_build_info"});
  EXPECT_EQ(mcode, 0) << merr;
  EXPECT_NE(mout.find("outpost_build_info{"), std::string::npos) << mout;
  EXPECT_EQ(mout.find("process_"), std::string::npos) << mout;
  auto [ccode, cout_, cerr] = cli({"check"});
  EXPECT_EQ(ccode, 0) << cerr;

  write_file(cfg, "[storage]\ndurability = \"never\"\n");
  auto [bcode, bout, berr] = cli({"check"});
  EXPECT_EQ(bcode, 2);
  EXPECT_NE(berr.find("storage.durability"), std::string::npos) << berr;
}

} // namespace
} // namespace outpost::test
