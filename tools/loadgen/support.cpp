#include "tools/loadgen/support.hpp"

#include "protocols/iothub/sas.hpp"
#include "protocols/transport/crypto.hpp"

#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

namespace outpost::loadgen {

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string expand(std::string tmpl, const std::string& key, const std::string& value) {
  const std::string needle = "{" + key + "}";
  for (auto pos = tmpl.find(needle); pos != std::string::npos;
       pos = tmpl.find(needle, pos + value.size())) {
    tmpl.replace(pos, needle.size(), value);
  }
  return tmpl;
}

std::string client_id(const options& o, int n) {
  return expand(o.id_template, "n", std::to_string(n));
}

credential_source::credential_source(const options& o) : o_(o) {
  if (o.iothub_keys.empty()) {
    return;
  }
  std::ifstream in(o.iothub_keys);
  if (!in) {
    throw std::runtime_error("cannot read --iothub-keys file " + o.iothub_keys);
  }
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    std::string id;
    std::string key;
    if (!(fields >> id >> key)) {
      throw std::runtime_error(o.iothub_keys + ":" + std::to_string(number)
                               + ": expected \"client_id key\"");
    }
    keys_[id] = key;
  }
}

credentials credential_source::for_client(const std::string& id) const {
  credentials c;
  if (!o_.iothub_keys.empty()) {
    auto k = keys_.find(id);
    if (k == keys_.end()) {
      throw std::runtime_error("no key for client id \"" + id + "\" in " + o_.iothub_keys);
    }
    // Client id `d` (device) or `d/m` (module): the SAS resource is <hub>/devices/d[/modules/m].
    std::string resource = o_.hub_hostname + "/devices/";
    if (auto slash = id.find('/'); slash != std::string::npos) {
      resource += id.substr(0, slash) + "/modules/" + id.substr(slash + 1);
    } else {
      resource += id;
    }
    const auto expiry = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count()
                        + o_.sas_ttl_s;
    c.username = o_.hub_hostname + "/" + id + "/?api-version=2021-04-12";
    c.password = iothub::make_sas_token(resource, k->second, expiry, transport::hmac_sha256);
    if (c.password->empty()) {
      throw std::runtime_error("the key of \"" + id + "\" is not base64");
    }
    return c;
  }
  if (!o_.username_template.empty()) {
    c.username = expand(o_.username_template, "id", id);
    if (!o_.password.empty()) {
      c.password = o_.password;
    }
  }
  return c;
}

proc_sample sample_process(int pid) {
  proc_sample s;
  if (pid <= 0) {
    return s;
  }
  const auto base = "/proc/" + std::to_string(pid);
  std::ifstream stat(base + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) {
    return s;
  }
  // After "pid (comm)" come fields 3..: state ppid pgrp session tty tpgid flags minflt cminflt
  // majflt cmajflt utime(14) stime(15).
  std::istringstream fields(text.substr(paren + 1));
  std::string field;
  std::int64_t utime = 0;
  std::int64_t stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) {
      utime = std::stoll(field);
    } else if (i == 15) {
      stime = std::stoll(field);
    }
  }
  const auto tick = sysconf(_SC_CLK_TCK);
  s.cpu_us = (utime + stime) * 1'000'000 / (tick > 0 ? tick : 100);
  std::ifstream status(base + "/status");
  std::string line;
  while (std::getline(status, line)) {
    auto value = [&line] {
      return std::stoll(line.substr(line.find(':') + 1));
    };
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_kib = value();
    } else if (line.rfind("VmHWM:", 0) == 0) {
      s.hwm_kib = value();
    }
  }
  s.ok = true;
  return s;
}

std::int64_t system_busy_us() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  stat >> cpu; // the "cpu" line sums all CPUs
  std::int64_t busy = 0;
  std::int64_t v = 0;
  // user nice system idle iowait irq softirq steal guest guest_nice (guests are in user).
  for (int i = 0; i < 8 && stat >> v; ++i) {
    if (i != 3 && i != 4) {
      busy += v;
    }
  }
  const auto tick = sysconf(_SC_CLK_TCK);
  return busy * 1'000'000 / (tick > 0 ? tick : 100);
}

std::int64_t self_cpu_us() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto us = [](const timeval& tv) {
    return static_cast<std::int64_t>(tv.tv_sec) * 1'000'000 + tv.tv_usec;
  };
  return us(ru.ru_utime) + us(ru.ru_stime);
}

std::uint64_t percentile(const std::vector<std::uint64_t>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  rank = std::max<std::size_t>(rank, 1);
  return sorted[std::min(rank, sorted.size()) - 1];
}

std::uint64_t raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    if (rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
      getrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur;
  }
  return 0;
}

} // namespace outpost::loadgen
