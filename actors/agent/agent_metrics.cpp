#include "actors/agent/agent_metrics.hpp"

#include <prometheus/registry.h>

#include <fstream>
#include <sstream>

#include <sys/statvfs.h>
#include <unistd.h>

namespace outpost::actors {

namespace {

prometheus::Summary::Quantiles quantiles() {
  return {{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}};
}

/// Resident bytes of `pid` (statm), or -1.
double rss_bytes(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/statm"};
  long pages = 0;
  long resident = 0;
  if (!(in >> pages >> resident)) {
    return -1;
  }
  return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

/// utime + stime of `pid` in clock ticks, or 0.
std::uint64_t cpu_ticks(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  std::getline(in, text);
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  std::istringstream rest{text.substr(close + 2)};
  std::string field;
  std::uint64_t utime = 0;
  std::uint64_t stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) {
      utime = std::stoull(field);
    } else if (i == 15) {
      stime = std::stoull(field);
    }
  }
  return utime + stime;
}

/// MemTotal and MemAvailable in bytes.
std::pair<double, double> host_memory() {
  std::ifstream in{"/proc/meminfo"};
  double total = 0;
  double available = 0;
  for (std::string key; in >> key;) {
    double kib = 0;
    std::string unit;
    in >> kib >> unit;
    if (key == "MemTotal:") {
      total = kib * 1024;
    } else if (key == "MemAvailable:") {
      available = kib * 1024;
    }
  }
  return {total, available};
}

} // namespace

agent_metrics::agent_metrics(prometheus::Registry& r, std::string storage_dir)
    : starts_(prometheus::BuildCounter()
                  .Name("edgeAgent_module_start_total")
                  .Help("Modules started by the agent")
                  .Register(r)),
      stops_(prometheus::BuildCounter()
                 .Name("edgeAgent_module_stop_total")
                 .Help("Modules stopped by the agent")
                 .Register(r)),
      latency_(prometheus::BuildSummary()
                   .Name("edgeAgent_command_latency_seconds")
                   .Help("Time the agent took to carry out a command")
                   .Register(r)),
      running_correctly_(prometheus::BuildGauge()
                             .Name("edgeAgent_total_time_running_correctly_seconds")
                             .Help("Time a module ran while it was meant to")
                             .Register(r)),
      expected_running_(prometheus::BuildGauge()
                            .Name("edgeAgent_total_time_expected_running_seconds")
                            .Help("Time a module was meant to run")
                            .Register(r)),
      used_memory_(prometheus::BuildGauge()
                       .Name("edgeAgent_used_memory_bytes")
                       .Help("Resident memory of a module (host: used memory)")
                       .Register(r)),
      total_memory_(prometheus::BuildGauge()
                        .Name("edgeAgent_total_memory_bytes")
                        .Help("Memory of the host")
                        .Register(r)),
      used_cpu_(prometheus::BuildSummary()
                    .Name("edgeAgent_used_cpu_percent")
                    .Help("CPU used by a module, percent of one core")
                    .Register(r)),
      disk_available_(prometheus::BuildGauge()
                          .Name("edgeAgent_available_disk_space_bytes")
                          .Help("Free space on the storage folder's file system")
                          .Register(r)),
      disk_total_(prometheus::BuildGauge()
                      .Name("edgeAgent_total_disk_space_bytes")
                      .Help("Size of the storage folder's file system")
                      .Register(r)),
      storage_dir_(std::move(storage_dir)) {}

void agent_metrics::module_started(const std::string& name, const std::string& version,
                                   std::int64_t ms) {
  starts_.Add({{"module_name", name}, {"module_version", version}}).Increment();
  latency_.Add({{"command", "start"}}, quantiles()).Observe(static_cast<double>(ms) / 1000.0);
}

void agent_metrics::module_stopped(const std::string& name, const std::string& version,
                                   std::int64_t ms) {
  stops_.Add({{"module_name", name}, {"module_version", version}}).Increment();
  latency_.Add({{"command", "stop"}}, quantiles()).Observe(static_cast<double>(ms) / 1000.0);
}

void agent_metrics::observe(const agent_view_data& view, std::int64_t now_ms) {
  const auto elapsed = last_observed_ms_ == 0 ? 0 : now_ms - last_observed_ms_;
  last_observed_ms_ = now_ms;
  for (const auto& [name, m] : view.modules) {
    auto& expected = expected_running_.Add({{"module_name", name}});
    auto& correct = running_correctly_.Add({{"module_name", name}});
    if (m.desired_status == "running" && elapsed > 0) {
      expected.Increment(static_cast<double>(elapsed) / 1000.0);
      if (m.runtime_status == "running") {
        correct.Increment(static_cast<double>(elapsed) / 1000.0);
      }
    }
  }
  if (now_ms - last_resources_ms_ < 1000) {
    return; // /proc once a second at most
  }
  const auto dt = last_resources_ms_ == 0 ? 0 : now_ms - last_resources_ms_;
  last_resources_ms_ = now_ms;
  const auto hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (const auto& [name, m] : view.modules) {
    if (m.pid == 0) {
      continue;
    }
    if (const auto rss = rss_bytes(m.pid); rss >= 0) {
      used_memory_.Add({{"module_name", name}}).Set(rss);
    }
    const auto ticks = cpu_ticks(m.pid);
    auto& prev = cpu_[name];
    if (dt > 0 && prev.at_ms != 0 && ticks >= prev.ticks) {
      const double cpu_s = static_cast<double>(ticks - prev.ticks) / hz;
      used_cpu_.Add({{"module_name", name}}, quantiles())
          .Observe(100.0 * cpu_s / (static_cast<double>(now_ms - prev.at_ms) / 1000.0));
    }
    prev = {ticks, now_ms};
  }
  const auto [total, available] = host_memory();
  used_memory_.Add({{"module_name", "host"}}).Set(total - available);
  total_memory_.Add({{"module_name", "host"}}).Set(total);
  struct statvfs fs {};
  if (::statvfs(storage_dir_.c_str(), &fs) == 0) {
    const prometheus::Labels labels{
        {"disk_name", storage_dir_}, {"disk_filesystem", ""}, {"disk_filetype", ""}};
    disk_available_.Add(labels).Set(static_cast<double>(fs.f_bavail) * fs.f_frsize);
    disk_total_.Add(labels).Set(static_cast<double>(fs.f_blocks) * fs.f_frsize);
  }
}

} // namespace outpost::actors
