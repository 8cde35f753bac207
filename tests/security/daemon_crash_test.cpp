// Issue 8, "also must show": a daemon-level crash test. 20 trials of SIGKILL at a random
// moment while 100 publishers send durable QoS 1 messages: after the restart every PUBACKed
// message is delivered to the module input it was routed to (duplicates are counted, they are
// allowed: at-least-once), and no module process of the killed daemon is left running (nor
// doubled by the restarted one).

#include "protocols/transport/crypto.hpp"
#include "tests/security/daemon_fixture.hpp"

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <dirent.h>
#include <sys/stat.h>

namespace outpost::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int publishers = 100;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

/// Processes whose environment mentions `marker` (the module's workload URI holds the test's
/// temp dir): the module, however it was started and whatever it exec'd.
int processes_with(const std::string& marker, bool kill = false) {
  int n = 0;
  DIR* proc = ::opendir("/proc");
  if (!proc) {
    return -1;
  }
  while (auto* e = ::readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') {
      continue;
    }
    std::ifstream in{std::string{"/proc/"} + e->d_name + "/environ", std::ios::binary};
    const std::string env((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (env.find(marker) != std::string::npos) {
      struct stat st {};
      // A zombie keeps its environ readable for a moment; count live processes only.
      std::ifstream stat_file{std::string{"/proc/"} + e->d_name + "/stat"};
      std::string text((std::istreambuf_iterator<char>(stat_file)),
                       std::istreambuf_iterator<char>());
      const auto close = text.rfind(')');
      if (close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z') {
        ++n;
        if (kill) {
          ::kill(std::atoi(e->d_name), SIGKILL);
        }
      }
      (void)st;
    }
  }
  ::closedir(proc);
  return n;
}

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

class DaemonCrash : public daemon_fixture {
protected:
  void TearDown() override {
    daemon_fixture::TearDown();
    processes_with(dir_.string(), true); // orphans of a failed run must not outlive the test
  }

  void SetUp() override {
    daemon_fixture::SetUp();
    const auto bin = dir_ / "bin";
    fs::create_directories(bin);
    ::chmod(bin.c_str(), 0755);
    const auto script = bin / "probe.sh";
    const std::string text = "#!/bin/sh\nexec sleep 100000\n"; // one process per copy
    write_file(script, text);
    ::chmod(script.c_str(), 0755);
    const auto digest = "sha256:" + lower(transport::hex_upper(transport::sha256(text)));
    manifest_ = R"json({"modulesContent": {
  "$edgeAgent": {"properties.desired": {"schemaVersion": "1.1",
    "runtime": {"type": "docker", "settings": {"minDockerVersion": "v1.25"}},
    "systemModules": {
      "edgeAgent": {"type": "docker", "settings": {"image": "mcr.microsoft.com/azureiotedge-agent:1.5", "createOptions": "{}"}},
      "edgeHub": {"type": "docker", "status": "running", "restartPolicy": "always",
                  "settings": {"image": "mcr.microsoft.com/azureiotedge-hub:1.5", "createOptions": "{}"}}},
    "modules": {"probe": {"version": "1.0", "type": "process", "status": "running",
                          "restartPolicy": "always",
                          "settings": {"path": ")json"
                + script.string() + R"json(", "digest": ")json" + digest + R"json("}}}}},
  "$edgeHub": {"properties.desired": {"schemaVersion": "1.1",
    "routes": {"toB": "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO BrokeredEndpoint(\"/modules/modB/inputs/in1\")"},
    "storeAndForwardConfiguration": {"timeToLiveSecs": 7200}}}}})json";
    agent_extra_ = "stop_grace_secs = 1\ncool_off_secs = 1";
    start();
    for (int i = 0; i < publishers; ++i) {
      add_identity("device", "dev" + std::to_string(i));
    }
    add_identity("module", "modB");
  }

  /// Every publisher sends QoS 1 messages one at a time until its connection dies; what was
  /// PUBACKed lands in `acked` ("dev<i>:<trial>:<seq>").
  void load(int trial, std::set<std::string>& acked, std::atomic<bool>& stop) {
    std::mutex mutex;
    std::vector<std::thread> threads;
    for (int i = 0; i < publishers; ++i) {
      threads.emplace_back([&, i] {
        const auto id = "dev" + std::to_string(i);
        try {
          mqtt_test_client c{mqtt_};
          c.send(hello(id, token(id)));
          auto ack = c.receive(5s);
          if (!ack || !std::holds_alternative<mqtt::connack>(*ack)) {
            return;
          }
          for (std::uint32_t seq = 1; !stop.load(); ++seq) {
            const auto body = id + ":" + std::to_string(trial) + ":" + std::to_string(seq);
            const auto pid = static_cast<std::uint16_t>(seq % 65535 + 1);
            c.send(
                mqtt::publish{false, 1, false, "devices/" + id + "/messages/events/", pid, body});
            auto p = c.receive(5s);
            if (!p || !std::holds_alternative<mqtt::puback>(*p)
                || std::get<mqtt::puback>(*p).packet_id != pid) {
              return;
            }
            std::lock_guard<std::mutex> lock{mutex};
            acked.insert(body);
          }
        } catch (const std::exception&) {
          // the daemon went away while connecting
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
  }

  /// Reads modB's input until every message of `expected` arrived and nothing more comes for
  /// 300 ms; returns how many deliveries repeated a message.
  std::size_t drain(const std::set<std::string>& expected, std::set<std::string>& seen) {
    auto mod = connected(device_id_ + "/modB");
    mod->send(mqtt::subscribe{1, {{"devices/" + device_id_ + "/modules/modB/#", 1}}});
    std::size_t duplicates = 0;
    std::size_t missing = expected.size();
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto p = mod->receive(missing ? 5000ms : 300ms);
      if (!p) {
        break;
      }
      if (auto* pub = std::get_if<mqtt::publish>(&*p)) {
        mod->send(mqtt::puback{pub->packet_id});
        if (!seen.insert(pub->payload).second) {
          ++duplicates;
        } else if (expected.count(pub->payload)) {
          --missing;
        }
      }
    }
    return duplicates;
  }
};

TEST_F(DaemonCrash, SigkillUnderDurableLoadLosesNoPubackedMessageAndLeavesNoModule) {
  const int trials =
      std::getenv("OUTPOST_CRASH_TRIALS") ? std::atoi(std::getenv("OUTPOST_CRASH_TRIALS")) : 20;
  const auto seed = static_cast<unsigned>(std::random_device{}());
  std::mt19937 rng{seed};
  std::uniform_int_distribution<int> when{200, 2000};
  const auto marker = dir_.string(); // in each module's IOTEDGE_WORKLOADURI
  std::size_t total_acked = 0;
  std::size_t total_duplicates = 0;
  std::set<std::string> seen;
  for (int trial = 0; trial < trials; ++trial) {
    SCOPED_TRACE("trial " + std::to_string(trial) + " (seed " + std::to_string(seed) + ")");
    ASSERT_TRUE(wait_until([&] { return processes_with(marker) == 1; }, 15s))
        << "exactly one copy of the module runs (" << processes_with(marker) << ")";
    std::set<std::string> acked;
    std::atomic<bool> stop{false};
    std::thread loader{[&] {
      load(trial, acked, stop);
    }};
    const auto kill_at = std::chrono::milliseconds{when(rng)};
    std::this_thread::sleep_for(kill_at);
    daemon_->signal(SIGKILL);
    ASSERT_TRUE(daemon_->wait(5s));
    stop = true;
    loader.join();
    daemon_.reset();
    EXPECT_TRUE(wait_until([&] { return processes_with(marker) == 0; }, 2s))
        << processes_with(marker) << " module processes outlived the killed daemon";
    start();
    const auto duplicates = drain(acked, seen);
    std::size_t lost = 0;
    for (const auto& m : acked) {
      lost += seen.count(m) ? 0 : 1;
    }
    EXPECT_EQ(lost, 0u) << "of " << acked.size() << " PUBACKed messages, killed at "
                        << kill_at.count() << " ms";
    total_acked += acked.size();
    total_duplicates += duplicates;
  }
  std::cout << "[ crash ] " << trials << " trials, " << total_acked
            << " PUBACKed messages, 0 lost expected, " << total_duplicates
            << " duplicates delivered, seed " << seed << "\n";
  EXPECT_GT(total_acked, static_cast<std::size_t>(trials) * 10) << "the load must be real";
}

} // namespace
} // namespace outpost::test
