#include "supervisor/runtime/process_host.hpp"

#include "protocols/common/iso_time.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <list>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace outpost::supervisor {

namespace {

namespace fs = std::filesystem;

std::string errno_text(const char* what, int err) {
  return std::string{what} + ": " + std::strerror(err);
}

/// "2026-11-26T17:41:49.123Z" now.
std::string timestamp_now() {
  using namespace std::chrono;
  return iso8601_ms(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

/// Appends timestamped lines to a file and rotates it at its size cap.
class log_writer {
public:
  log_writer(std::string path, log_limits limits) : path_(std::move(path)), limits_(limits) {
    open();
  }
  ~log_writer() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  log_writer(const log_writer&) = delete;
  log_writer& operator=(const log_writer&) = delete;

  void line(std::string_view text) {
    std::string out = timestamp_now();
    out += ' ';
    out.append(text.data(), text.size());
    out += '\n';
    if (size_ > 0 && size_ + out.size() > limits_.max_bytes) {
      rotate();
    }
    if (fd_ < 0) {
      return; // the log folder is gone: the module keeps running, its output is lost
    }
    if (::write(fd_, out.data(), out.size()) > 0) {
      size_ += out.size();
    }
  }

private:
  void open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    struct stat st {};
    size_ = fd_ >= 0 && ::fstat(fd_, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
  }

  void rotate() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    std::error_code ec;
    fs::remove(path_ + "." + std::to_string(limits_.keep), ec);
    for (int i = limits_.keep - 1; i >= 1; --i) {
      fs::rename(path_ + "." + std::to_string(i), path_ + "." + std::to_string(i + 1), ec);
    }
    if (limits_.keep >= 1) {
      fs::rename(path_, path_ + ".1", ec);
    } else {
      fs::remove(path_, ec);
    }
    open();
  }

  std::string path_;
  log_limits limits_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
};

struct child {
  pid_t pid = -1;
  int pidfd = -1;
  int out = -1; ///< read end of the stdout/stderr pipe, -1 once at EOF
  std::unique_ptr<log_writer> log;
  std::string partial; ///< a line not yet ended
  process_host::exit_fn on_exit;
  bool reaped = false;
};

} // namespace

struct process_host::impl {
  explicit impl(log_limits l) : limits(l), wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    thread = std::thread([this] { run(); });
  }

  ~impl() {
    {
      std::lock_guard<std::mutex> lock{mutex};
      stopping = true;
      for (auto& c : children) {
        if (!c.reaped) {
          ::kill(-c.pid, SIGKILL);
        }
      }
    }
    poke();
    thread.join();
    for (auto& c : children) {
      close_child(c);
    }
    ::close(wake);
  }

  void poke() {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake, &one, sizeof one);
  }

  static void close_child(child& c) {
    if (c.out >= 0) {
      ::close(c.out);
      c.out = -1;
    }
    if (c.pidfd >= 0) {
      ::close(c.pidfd);
      c.pidfd = -1;
    }
  }

  /// Reads what the pipe has; false at EOF.
  static bool drain(child& c) {
    char buf[16384];
    for (;;) {
      const auto n = ::read(c.out, buf, sizeof buf);
      if (n > 0) {
        c.partial.append(buf, static_cast<std::size_t>(n));
        std::size_t start = 0;
        for (auto nl = c.partial.find('\n'); nl != std::string::npos;
             nl = c.partial.find('\n', start)) {
          c.log->line(std::string_view{c.partial}.substr(start, nl - start));
          start = nl + 1;
        }
        c.partial.erase(0, start);
        if (c.partial.size() > 64 * 1024) { // a very long line: cut it rather than grow
          c.log->line(c.partial);
          c.partial.clear();
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return true;
      }
      if (!c.partial.empty()) {
        c.log->line(c.partial);
        c.partial.clear();
      }
      return false; // EOF or error
    }
  }

  static int reap(child& c) {
    siginfo_t info{};
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(c.pidfd), &info, WEXITED) != 0) {
      return 255;
    }
    return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  }

  void run() {
    std::vector<pollfd> fds;
    std::vector<std::pair<child*, bool>> who; // (child, is pidfd) per fds[i > 0]
    for (;;) {
      fds.assign(1, pollfd{wake, POLLIN, 0});
      who.clear();
      {
        std::lock_guard<std::mutex> lock{mutex};
        if (stopping && std::all_of(children.begin(), children.end(), [](const child& c) {
              return c.reaped;
            })) {
          return;
        }
        for (auto& c : children) {
          if (c.out >= 0) {
            fds.push_back({c.out, POLLIN, 0});
            who.emplace_back(&c, false);
          }
          if (!c.reaped) {
            fds.push_back({c.pidfd, POLLIN, 0});
            who.emplace_back(&c, true);
          }
        }
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        continue; // EINTR
      }
      if (fds[0].revents) {
        std::uint64_t v;
        [[maybe_unused]] auto n = ::read(wake, &v, sizeof v);
      }
      std::vector<std::pair<exit_fn, std::pair<pid_t, int>>> exits;
      {
        std::lock_guard<std::mutex> lock{mutex};
        for (std::size_t i = 1; i < fds.size(); ++i) {
          if (!fds[i].revents) {
            continue;
          }
          auto& [c, is_pidfd] = who[i - 1];
          if (!is_pidfd) {
            if (!drain(*c)) {
              ::close(c->out);
              c->out = -1;
            }
            continue;
          }
          if (c->out >= 0 && !drain(*c)) { // the last words before the exit, in order
            ::close(c->out);
            c->out = -1;
          }
          c->reaped = true;
          exits.push_back({std::move(c->on_exit), {c->pid, reap(*c)}});
        }
        for (auto it = children.begin(); it != children.end();) {
          if (it->reaped && it->out < 0) {
            close_child(*it);
            it = children.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (auto& [fn, e] : exits) { // outside the lock: the callback may call spawn()
        if (fn) {
          fn(e.first, e.second);
        }
      }
    }
  }

  log_limits limits;
  int wake;
  mutable std::mutex mutex;
  std::list<child> children; // stable addresses for `who`
  bool stopping = false;
  std::thread thread;
};

process_host::process_host(log_limits limits) : impl_(std::make_unique<impl>(limits)) {}

process_host::~process_host() = default;

result<pid_t> process_host::spawn(const spawn_spec& spec, exit_fn on_exit, std::string& why) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    why = errno_text("pipe", errno);
    return std::error_code{errno, std::generic_category()};
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_adddup2(&fa, p[1], 2);
  if (!spec.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&fa, spec.working_dir.c_str());
  }
  posix_spawn_file_actions_addclosefrom_np(&fa, 3); // no socket or store file of the daemon
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  // The daemon blocks SIGTERM/SIGINT for its signal thread: the module must not inherit that.
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(spec.path.c_str()));
  for (const auto& a : spec.args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : spec.env) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);
  auto log = std::make_unique<log_writer>(spec.log_path, impl_->limits);
  pid_t pid = -1;
  std::lock_guard<std::mutex> lock{impl_->mutex}; // the child is registered before it is polled
  const int rc = ::posix_spawn(&pid, spec.path.c_str(), &fa, &at, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  ::close(p[1]);
  if (rc != 0) {
    ::close(p[0]);
    why = errno_text(("cannot start " + spec.path).c_str(), rc);
    return std::error_code{rc, std::generic_category()};
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int err = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(p[0]);
    why = errno_text("pidfd_open", err);
    return std::error_code{err, std::generic_category()};
  }
  ::fcntl(p[0], F_SETFL, ::fcntl(p[0], F_GETFL) | O_NONBLOCK);
  child c;
  c.pid = pid;
  c.pidfd = pidfd;
  c.out = p[0];
  c.log = std::move(log);
  c.on_exit = std::move(on_exit);
  impl_->children.push_back(std::move(c));
  impl_->poke();
  return pid;
}

void process_host::signal(pid_t pid, int sig) {
  std::lock_guard<std::mutex> lock{impl_->mutex};
  for (const auto& c : impl_->children) {
    if (c.pid == pid && !c.reaped) { // never a recycled pid: only our live children
      ::kill(-pid, sig);
    }
  }
}

std::size_t process_host::running() const {
  std::lock_guard<std::mutex> lock{impl_->mutex};
  return static_cast<std::size_t>(std::count_if(impl_->children.begin(), impl_->children.end(),
                                                [](const child& c) { return !c.reaped; }));
}

std::string file_digest(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    return {};
  }
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  char buf[65536];
  while (in) {
    in.read(buf, sizeof buf);
    EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(in.gcount()));
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string verify_executable(const std::string& path, const std::string& digest) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return errno_text(path.c_str(), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return path + " is not a regular file";
  }
  if ((st.st_mode & 0111) == 0) {
    return path + " is not executable";
  }
  if (st.st_mode & S_IWOTH) {
    return path + " is writable by everyone (chmod o-w): anyone could replace the module";
  }
  const auto dir = fs::path{path}.parent_path().string();
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) == 0 && (dst.st_mode & S_IWOTH) && !(dst.st_mode & S_ISVTX)) {
    return "the folder " + dir + " is writable by everyone: anyone could replace the module";
  }
  const auto actual = file_digest(path);
  if (actual.empty()) {
    return "cannot read " + path;
  }
  if (actual != digest) {
    return path + " has digest " + actual + ", the deployment says " + digest;
  }
  return {};
}

std::int64_t log_line_time_ms(const std::string& line) {
  std::tm tm{};
  int ms = 0;
  if (line.size() < 24 || line[10] != 'T' || line[23] != 'Z') {
    return -1;
  }
  if (!strptime(line.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) {
    return -1;
  }
  ms = std::atoi(line.substr(20, 3).c_str());
  return static_cast<std::int64_t>(timegm(&tm)) * 1000 + ms;
}

std::int64_t parse_since(const std::string& s, std::int64_t now_ms) {
  if (s.empty()) {
    return 0;
  }
  const auto digits = [](std::string_view v) {
    return !v.empty()
           && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (digits(s)) {
    return std::stoll(s) * 1000;
  }
  const char unit = s.back();
  if (digits(std::string_view{s}.substr(0, s.size() - 1))
      && std::string_view{"smhd"}.find(unit) != std::string_view::npos) {
    const std::int64_t secs = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
    return now_ms - std::stoll(s.substr(0, s.size() - 1)) * secs * 1000;
  }
  return log_line_time_ms(s.size() >= 19 ? s.substr(0, 19) + ".000Z" : s);
}

std::vector<std::string> read_log(const std::string& log_path, std::size_t tail,
                                  std::int64_t since_ms) {
  std::vector<std::string> files;
  for (int i = 99; i >= 1; --i) {
    const auto f = log_path + "." + std::to_string(i);
    if (fs::exists(f)) {
      files.push_back(f);
    }
  }
  files.push_back(log_path);
  std::deque<std::string> out;
  for (const auto& f : files) {
    std::ifstream in{f};
    for (std::string line; std::getline(in, line);) {
      if (since_ms > 0 && log_line_time_ms(line) < since_ms) {
        continue;
      }
      out.push_back(std::move(line));
      if (tail != 0 && out.size() > tail) {
        out.pop_front();
      }
    }
  }
  return {out.begin(), out.end()};
}

} // namespace outpost::supervisor
