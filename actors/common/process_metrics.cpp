#include "actors/common/process_metrics.hpp"

#include <fstream>
#include <sstream>
#include <string>

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

namespace outpost::actors {

namespace {

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type,
                                double value) {
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return {name, help, type, {m}};
}

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (auto* e = ::readdir(d)) {
      n += e->d_name[0] != '.';
    }
    ::closedir(d);
    n -= n > 0; // the descriptor opendir itself holds
  }
  return n;
}

double boot_time_seconds() {
  std::ifstream in{"/proc/stat"};
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

} // namespace

std::vector<prometheus::MetricFamily> process_metrics::Collect() const {
  using prometheus::MetricType;
  std::ifstream in{"/proc/self/stat"};
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // proc(5) numbers the fields from 1; after the parenthesised command name (which may
  // contain spaces) comes field 3, so f[n] is field n.
  std::istringstream fields{stat.substr(stat.rfind(')') + 2)};
  std::vector<std::string> f{"", "", ""}; // pid and comm are not in the stream
  for (std::string s; fields >> s;) {
    f.push_back(s);
  }
  if (f.size() < 25) {
    return {};
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  const double cpu = (std::stod(f[14]) + std::stod(f[15])) / ticks;
  const double start = boot_time_seconds() + std::stod(f[22]) / ticks;
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  return {
      family("process_cpu_seconds_total", "User and system CPU time in seconds",
             MetricType::Counter, cpu),
      family("process_resident_memory_bytes", "Resident memory in bytes", MetricType::Gauge,
             std::stod(f[24]) * page),
      family("process_virtual_memory_bytes", "Virtual memory in bytes", MetricType::Gauge,
             std::stod(f[23])),
      family("process_open_fds", "Open file descriptors", MetricType::Gauge,
             static_cast<double>(open_fds())),
      family("process_max_fds", "Limit of open file descriptors", MetricType::Gauge,
             static_cast<double>(lim.rlim_cur)),
      family("process_start_time_seconds", "Start time since the epoch in seconds",
             MetricType::Gauge, start),
  };
}

} // namespace outpost::actors
