#include "supervisor/runtime/confinement.hpp"

#include "supervisor/runtime/process_host.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace outpost::supervisor {

namespace {

namespace fs = std::filesystem;

/// FNV-1a: a stable starting point per module name (std::hash may differ between builds).
std::uint32_t fnv1a(const std::string& s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h = (h ^ c) * 16777619u;
  }
  return h;
}

/// The session id (field 6 of /proc/<pid>/stat) of `pid`, or -1.
pid_t session_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!std::getline(in, text)) {
    return -1;
  }
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    return -1;
  }
  std::istringstream rest{text.substr(close + 2)};
  std::string state;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t sid = -1;
  rest >> state >> ppid >> pgrp >> sid;
  return sid;
}

/// Still running (a zombie has ended: only its parent's wait is missing).
bool alive(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (!std::getline(in, text)) {
    return false;
  }
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z'
         && text[close + 2] != 'X';
}

bool cgroup_populated(const std::string& dir) {
  std::ifstream in{dir + "/cgroup.procs"};
  std::string line;
  return static_cast<bool>(std::getline(in, line)) && !line.empty();
}

} // namespace

bool system_id_taken(std::uint32_t id) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* pr = nullptr;
  if (::getpwuid_r(id, &pw, buf.data(), buf.size(), &pr) == 0 && pr != nullptr) {
    return true;
  }
  group gr{};
  group* gp = nullptr;
  return ::getgrgid_r(id, &gr, buf.data(), buf.size(), &gp) == 0 && gp != nullptr;
}

std::optional<std::uint32_t> allocate_module_uid(const std::string& name, std::uint32_t min,
                                                 std::uint32_t max,
                                                 const std::function<bool(std::uint32_t)>& taken) {
  if (max < min) {
    return std::nullopt;
  }
  const std::uint64_t size = std::uint64_t{max} - min + 1;
  const std::uint64_t start = fnv1a(name) % size;
  for (std::uint64_t i = 0; i < size; ++i) {
    const auto uid = static_cast<std::uint32_t>(min + (start + i) % size);
    if (!taken(uid) && !system_id_taken(uid)) {
      return uid;
    }
  }
  return std::nullopt;
}

std::optional<module_credentials> resolve_user(const std::string& user, std::string& why) {
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* pr = nullptr;
  const bool numeric = !user.empty() && user.find_first_not_of("0123456789") == std::string::npos;
  if (numeric) {
    ::getpwuid_r(static_cast<uid_t>(std::stoul(user)), &pw, buf.data(), buf.size(), &pr);
  } else {
    ::getpwnam_r(user.c_str(), &pw, buf.data(), buf.size(), &pr);
  }
  if (pr == nullptr) {
    if (numeric) { // a bare number is fine: uid = gid = that number
      const auto id = static_cast<std::int64_t>(std::stoul(user));
      return module_credentials{id, id};
    }
    why = "settings.user: no user '" + user + "' on this system";
    return std::nullopt;
  }
  return module_credentials{static_cast<std::int64_t>(pw.pw_uid),
                            static_cast<std::int64_t>(pw.pw_gid)};
}

std::string cgroup2_mount() {
  std::ifstream in{"/proc/self/mountinfo"};
  for (std::string line; std::getline(in, line);) {
    // "36 25 0:31 / /sys/fs/cgroup rw,... - cgroup2 cgroup2 rw"
    const auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) {
      continue;
    }
    std::istringstream f{line};
    std::string id, parent, dev, root, mount;
    f >> id >> parent >> dev >> root >> mount;
    return mount;
  }
  return {};
}

std::string prepare_cgroup(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return "cannot create " + dir + ": " + ec.message();
  }
  if (::access((dir + "/cgroup.procs").c_str(), W_OK) != 0) {
    return dir + "/cgroup.procs is not writable: " + std::strerror(errno);
  }
  return {};
}

void remove_empty_cgroups(const std::string& dir) {
  if (dir.empty()) {
    return;
  }
  std::error_code ec;
  for (const auto& e : fs::directory_iterator{dir, ec}) {
    if (e.is_directory()) {
      ::rmdir(e.path().c_str());
    }
  }
  ::rmdir(dir.c_str());
}

std::string prepare_private_dir(const std::string& dir, const module_credentials& who) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return "cannot create " + dir + ": " + ec.message();
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return dir + " is not a folder";
  }
  if (who.uid >= 0
      && ::lchown(dir.c_str(), static_cast<uid_t>(who.uid), static_cast<gid_t>(who.gid)) != 0) {
    return "cannot give " + dir + " to uid " + std::to_string(who.uid) + ": "
           + std::strerror(errno);
  }
  if (::chmod(dir.c_str(), 0700) != 0) {
    return "cannot chmod " + dir + ": " + std::strerror(errno);
  }
  return {};
}

void record_started(const std::string& run_dir, const std::string& name, pid_t pid) {
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  const auto file = run_dir + "/" + name + ".pid";
  std::ofstream out{file + ".tmp", std::ios::trunc};
  out << pid << " " << process_start_time(pid) << "\n";
  out.close();
  fs::rename(file + ".tmp", file, ec);
}

void forget_started(const std::string& run_dir, const std::string& name) {
  std::error_code ec;
  fs::remove(run_dir + "/" + name + ".pid", ec);
}

std::vector<std::string> end_leftovers(const std::string& run_dir, const std::string& cgroup_dir,
                                       int wait_ms) {
  std::vector<std::string> killed;
  std::vector<pid_t> sessions;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator{run_dir, ec}) {
    if (e.path().extension() != ".pid") {
      continue;
    }
    std::ifstream in{e.path()};
    pid_t pid = 0;
    std::uint64_t start = 0;
    in >> pid >> start;
    // Ours only if the same process still runs: pid and start time together.
    if (pid > 1 && start != 0 && process_start_time(pid) == start) {
      ::kill(-pid, SIGKILL); // its session's first process group
      ::kill(pid, SIGKILL);
      sessions.push_back(pid);
      killed.push_back(e.path().stem().string() + " " + std::to_string(pid));
    }
    fs::remove(e.path(), ec);
  }
  if (!sessions.empty()) { // the rest of each session (groups its children made)
    for (const auto& p : fs::directory_iterator{"/proc", ec}) {
      const auto name = p.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      const auto pid = static_cast<pid_t>(std::stol(name));
      const auto sid = session_of(pid);
      for (auto s : sessions) {
        if (sid == s && pid != ::getpid()) {
          ::kill(pid, SIGKILL);
        }
      }
    }
  }
  std::vector<std::string> groups;
  if (!cgroup_dir.empty()) {
    for (const auto& e : fs::directory_iterator{cgroup_dir, ec}) {
      if (e.is_directory() && cgroup_populated(e.path().string())) {
        const int fd = ::open((e.path().string() + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
          [[maybe_unused]] auto n = ::write(fd, "1", 1);
          ::close(fd);
        }
        groups.push_back(e.path().string());
        killed.push_back(e.path().filename().string() + " (cgroup)");
      }
    }
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    bool left = false;
    for (auto s : sessions) {
      left = left || alive(s);
    }
    for (const auto& g : groups) {
      left = left || cgroup_populated(g);
    }
    if (!left || std::chrono::steady_clock::now() >= until) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return killed;
}

} // namespace outpost::supervisor
