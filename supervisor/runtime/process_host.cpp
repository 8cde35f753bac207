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
#include <future>
#include <list>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
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
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
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
  std::string cgroup; ///< the module's cgroup folder, "" = none
};

/// Kills what is left in a cgroup v2 folder (cgroup.kill, Linux 5.14).
void kill_cgroup(const std::string& dir) {
  if (dir.empty()) {
    return;
  }
  const int fd = ::open((dir + "/cgroup.kill").c_str(), O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    [[maybe_unused]] auto n = ::write(fd, "1", 1);
    ::close(fd);
  }
}

/// Everything the child needs, prepared before the fork: between fork and exec it makes only
/// async-signal-safe system calls on these.
struct child_plan {
  std::vector<char*> argv;
  std::vector<char*> envp;
  const char* path = nullptr;
  int exec_fd = -1; ///< >= 10, or -1: execve(path)
  bool script = false;
  int devnull = -1; ///< >= 10
  int out = -1;     ///< write end of the log pipe, >= 10
  int report = -1;  ///< write end of the error pipe (CLOEXEC), >= 10
  bool set_ids = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const char* cwd = nullptr;
  const char* cgroup_procs = nullptr;
  pid_t parent = 0;
};

/// The stage at which the child failed, with errno, for the parent's message.
enum child_stage : int {
  stage_setsid = 1,
  stage_cgroup,
  stage_fds,
  stage_groups,
  stage_gid,
  stage_uid,
  stage_pdeathsig,
  stage_no_new_privs,
  stage_chdir,
  stage_exec
};

const char* stage_name(int stage) {
  switch (stage) {
    case stage_setsid:
      return "setsid";
    case stage_cgroup:
      return "joining its cgroup";
    case stage_fds:
      return "setting up descriptors";
    case stage_groups:
      return "setgroups";
    case stage_gid:
      return "setresgid";
    case stage_uid:
      return "setresuid";
    case stage_pdeathsig:
      return "PR_SET_PDEATHSIG";
    case stage_no_new_privs:
      return "PR_SET_NO_NEW_PRIVS";
    case stage_chdir:
      return "chdir to its working folder";
    default:
      return "exec";
  }
}

[[noreturn]] void child_fail(int stage) {
  const int msg[2] = {stage, errno};
  [[maybe_unused]] auto n = ::write(4, msg, sizeof msg);
  ::_exit(127);
}

/// Runs in the forked child: async-signal-safe calls only, raw system calls for the
/// credentials (the child has one thread; glibc's setxid broadcast is not for it).
[[noreturn]] void child_main(const child_plan& p) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    ::sigaction(sig, &dfl, nullptr); // fails harmlessly for SIGKILL, SIGSTOP, glibc's own
  }
  // Descriptors first, so that every later failure can be reported on fd 4.
  if (::dup2(p.report, 4) < 0 || ::fcntl(4, F_SETFD, FD_CLOEXEC) < 0) {
    ::_exit(127);
  }
  if (::dup2(p.devnull, 0) < 0 || ::dup2(p.out, 1) < 0 || ::dup2(p.out, 2) < 0) {
    child_fail(stage_fds);
  }
  if (p.exec_fd >= 0) {
    // dup2 clears close-on-exec: a script's interpreter opens /dev/fd/3; a binary keeps none.
    if (::dup2(p.exec_fd, 3) < 0 || (!p.script && ::fcntl(3, F_SETFD, FD_CLOEXEC) < 0)) {
      child_fail(stage_fds);
    }
  }
  // No socket, store file or pipe of the daemon reaches the module (fd 4 closes at exec).
  if (p.exec_fd < 0) {
    ::close(3);
  }
  if (::syscall(SYS_close_range, 5u, ~0u, 0u) != 0) {
    for (int fd = 5; fd < 4096; ++fd) {
      ::close(fd);
    }
  }
  if (::setsid() < 0) {
    child_fail(stage_setsid);
  }
  if (p.cgroup_procs) {
    const int fd = ::open(p.cgroup_procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) {
      child_fail(stage_cgroup);
    }
    ::close(fd);
  }
  if (p.set_ids) {
    if (::syscall(SYS_setgroups, 0, nullptr) != 0) {
      child_fail(stage_groups);
    }
    if (::syscall(SYS_setresgid, p.gid, p.gid, p.gid) != 0) {
      child_fail(stage_gid);
    }
    if (::syscall(SYS_setresuid, p.uid, p.uid, p.uid) != 0) {
      child_fail(stage_uid);
    }
  }
  // After the credentials change (which clears it): SIGKILL when outpostd's forking thread,
  // the host's, goes; if outpostd is already gone, do not start at all.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
    child_fail(stage_pdeathsig);
  }
  if (::getppid() != p.parent) {
    ::_exit(127);
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    child_fail(stage_no_new_privs);
  }
  if (p.cwd && ::chdir(p.cwd) != 0) {
    child_fail(stage_chdir);
  }
  // outpostd blocks SIGTERM/SIGINT for its signal thread: the module must not inherit that.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  if (p.exec_fd >= 0) {
    ::syscall(SYS_execveat, 3, "", p.argv.data(), p.envp.data(), AT_EMPTY_PATH);
  } else {
    ::execve(p.path, p.argv.data(), p.envp.data());
  }
  child_fail(stage_exec);
}

/// `fd` moved to a number >= 10 (close-on-exec), so that the child's dup2 onto 0..4 never
/// overwrites a source; the original is closed.
int high_fd(int fd) {
  if (fd < 0 || fd >= 10) {
    return fd;
  }
  const int h = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  ::close(fd);
  return h;
}

} // namespace

struct process_host::impl {
  explicit impl(log_limits l) : limits(l), wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    thread = std::thread([this] { run(); });
  }

  /// A spawn() from another thread, carried out on the host's thread.
  struct job {
    const spawn_spec* spec;
    exit_fn* on_exit;
    std::string* why;
    result<pid_t> out = std::make_error_code(std::errc::operation_canceled);
    std::promise<void> done;
  };

  ~impl() {
    {
      std::lock_guard<std::mutex> lock{mutex};
      stopping = true;
      for (auto* j : jobs) {
        *j->why = "outpostd is stopping";
        j->done.set_value();
      }
      jobs.clear();
      for (auto& c : children) {
        if (!c.reaped) {
          ::kill(-c.pid, SIGKILL);
          kill_cgroup(c.cgroup);
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
      std::vector<job*> todo;
      {
        std::lock_guard<std::mutex> lock{mutex};
        todo.swap(jobs);
      }
      for (auto* j : todo) {
        j->out = do_spawn(*j->spec, std::move(*j->on_exit), *j->why);
        j->done.set_value();
      }
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
          kill_cgroup(c->cgroup); // what the module left behind goes with it
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

  result<pid_t> do_spawn(const spawn_spec& spec, exit_fn on_exit, std::string& why);

  log_limits limits;
  int wake;
  mutable std::mutex mutex;
  std::list<child> children; // stable addresses for `who`
  std::vector<job*> jobs;    // spawns for the host's thread
  bool stopping = false;
  std::thread thread;
};

process_host::process_host(log_limits limits) : impl_(std::make_unique<impl>(limits)) {}

process_host::~process_host() = default;

result<pid_t> process_host::spawn(const spawn_spec& spec, exit_fn on_exit, std::string& why) {
  if (std::this_thread::get_id() == impl_->thread.get_id()) {
    return impl_->do_spawn(spec, std::move(on_exit), why); // from an exit callback
  }
  // The host's thread forks: a child's parent-death signal fires when the thread that forked
  // it ends, and this one lives as long as the host.
  impl::job j{&spec, &on_exit, &why};
  auto done = j.done.get_future();
  {
    std::lock_guard<std::mutex> lock{impl_->mutex};
    if (impl_->stopping) {
      why = "outpostd is stopping";
      return std::make_error_code(std::errc::operation_canceled);
    }
    impl_->jobs.push_back(&j);
  }
  impl_->poke();
  done.wait();
  return j.out;
}

result<pid_t> process_host::impl::do_spawn(const spawn_spec& spec, exit_fn on_exit,
                                           std::string& why) {
  auto fail = [&](const std::string& what, int err) -> result<pid_t> {
    why = errno_text(what.c_str(), err);
    return std::error_code{err, std::generic_category()};
  };
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    return fail("pipe", errno);
  }
  int r[2];
  if (::pipe2(r, O_CLOEXEC) != 0) {
    const int err = errno;
    ::close(p[0]);
    ::close(p[1]);
    return fail("pipe", err);
  }
  child_plan plan;
  plan.out = high_fd(p[1]);
  plan.report = high_fd(r[1]);
  plan.devnull = high_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  int exec_copy = -1;
  if (spec.exec_fd >= 0) {
    exec_copy = ::fcntl(spec.exec_fd, F_DUPFD_CLOEXEC, 10);
  }
  auto close_child_ends = [&] {
    for (int fd : {plan.out, plan.report, plan.devnull, exec_copy}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  };
  if (plan.out < 0 || plan.report < 0 || plan.devnull < 0 || (spec.exec_fd >= 0 && exec_copy < 0)) {
    const int err = errno;
    close_child_ends();
    ::close(p[0]);
    ::close(r[0]);
    return fail("descriptors for " + spec.path, err);
  }
  plan.exec_fd = exec_copy;
  plan.script = spec.script;
  plan.path = spec.path.c_str();
  plan.argv.push_back(const_cast<char*>(spec.path.c_str()));
  for (const auto& a : spec.args) {
    plan.argv.push_back(const_cast<char*>(a.c_str()));
  }
  plan.argv.push_back(nullptr);
  for (const auto& e : spec.env) {
    plan.envp.push_back(const_cast<char*>(e.c_str()));
  }
  plan.envp.push_back(nullptr);
  plan.set_ids = spec.uid >= 0 && spec.gid >= 0;
  plan.uid = static_cast<uid_t>(spec.uid);
  plan.gid = static_cast<gid_t>(spec.gid);
  plan.cwd = spec.working_dir.empty() ? nullptr : spec.working_dir.c_str();
  const auto procs = spec.cgroup.empty() ? std::string{} : spec.cgroup + "/cgroup.procs";
  plan.cgroup_procs = procs.empty() ? nullptr : procs.c_str();
  plan.parent = ::getpid();
  auto log = std::make_unique<log_writer>(spec.log_path, limits);

  std::unique_lock<std::mutex> lock{mutex}; // the child is registered before it is polled
  if (stopping) {                           // nobody would kill or reap it
    lock.unlock();
    close_child_ends();
    ::close(p[0]);
    ::close(r[0]);
    return fail("cannot start " + spec.path, ECANCELED);
  }
  const pid_t pid = ::fork();
  if (pid == 0) {
    child_main(plan);
  }
  const int fork_err = errno;
  close_child_ends();
  if (pid < 0) {
    ::close(p[0]);
    ::close(r[0]);
    return fail("fork", fork_err);
  }
  // The report pipe's write end closes at exec (EOF: started) or carries {stage, errno}.
  int msg[2] = {0, 0};
  ssize_t got = 0;
  do {
    got = ::read(r[0], msg, sizeof msg);
  } while (got < 0 && errno == EINTR);
  ::close(r[0]);
  if (got > 0) {
    ::waitpid(pid, nullptr, 0);
    ::close(p[0]);
    const int err = got == sizeof msg ? msg[1] : EIO;
    const std::string what = msg[0] == stage_exec
                                 ? "cannot start " + spec.path
                                 : "cannot start " + spec.path + ": " + stage_name(msg[0]);
    return fail(what, err);
  }
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    const int err = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ::close(p[0]);
    return fail("pidfd_open", err);
  }
  ::fcntl(p[0], F_SETFL, ::fcntl(p[0], F_GETFL) | O_NONBLOCK);
  child c;
  c.pid = pid;
  c.pidfd = pidfd;
  c.out = p[0];
  c.log = std::move(log);
  c.on_exit = std::move(on_exit);
  c.cgroup = spec.cgroup;
  children.push_back(std::move(c));
  lock.unlock();
  poke();
  return pid;
}

void process_host::signal(pid_t pid, int sig) {
  std::lock_guard<std::mutex> lock{impl_->mutex};
  for (const auto& c : impl_->children) {
    if (c.pid == pid && !c.reaped) { // never a recycled pid: only our live children
      ::kill(-pid, sig);
      if (sig == SIGKILL) {
        kill_cgroup(c.cgroup); // also what left the session
      }
    }
  }
}

std::size_t process_host::running() const {
  std::lock_guard<std::mutex> lock{impl_->mutex};
  return static_cast<std::size_t>(std::count_if(impl_->children.begin(), impl_->children.end(),
                                                [](const child& c) { return !c.reaped; }));
}

namespace {

std::string hex_digest(EVP_MD_CTX* ctx) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

/// Owned by root or by outpostd's uid: nobody else can have changed it.
bool trusted_owner(const struct stat& st) {
  return st.st_uid == 0 || st.st_uid == ::geteuid();
}

} // namespace

std::string fd_digest(int fd) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  char buf[65536];
  off_t at = 0;
  for (;;) {
    const auto n = ::pread(fd, buf, sizeof buf, at);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return {};
    }
    if (n == 0) {
      break;
    }
    EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(n));
    at += n;
  }
  return hex_digest(ctx.get());
}

std::string file_digest(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return {};
  }
  auto d = fd_digest(fd);
  ::close(fd);
  return d;
}

int open_verified(const std::string& path, const std::string& digest, bool& script,
                  std::string& why) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    why = errno_text(path.c_str(), errno);
    return -1;
  }
  auto refuse = [&](std::string text) {
    ::close(fd);
    why = std::move(text);
    return -1;
  };
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return refuse(errno_text(path.c_str(), errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return refuse(path + " is not a regular file");
  }
  if ((st.st_mode & 0111) == 0) {
    return refuse(path + " is not executable");
  }
  if (st.st_mode & S_IWOTH) {
    return refuse(path + " is writable by everyone (chmod o-w): anyone could replace the module");
  }
  if (st.st_mode & S_IWGRP) {
    return refuse(path + " is writable by its group (chmod g-w): they could replace the module");
  }
  if (!trusted_owner(st)) {
    return refuse(path + " is owned by uid " + std::to_string(st.st_uid)
                  + ", not by root or outpostd's user: its owner could replace the module");
  }
  const auto dir = fs::path{path}.parent_path().string();
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) {
    return refuse(errno_text(dir.c_str(), errno));
  }
  if (dst.st_mode & S_IWOTH) {
    return refuse("the folder " + dir
                  + " is writable by everyone: anyone could replace the module");
  }
  if (dst.st_mode & S_IWGRP) {
    return refuse("the folder " + dir + " is writable by its group: they could replace the module");
  }
  if (!trusted_owner(dst)) {
    return refuse("the folder " + dir + " is owned by uid " + std::to_string(dst.st_uid)
                  + ", not by root or outpostd's user: its owner could replace the module");
  }
  // The content that is hashed is the content that runs: this descriptor is executed.
  const auto actual = fd_digest(fd);
  if (actual.empty()) {
    return refuse("cannot read " + path);
  }
  if (actual != digest) {
    return refuse(path + " has digest " + actual + ", the deployment says " + digest);
  }
  char head[2] = {0, 0};
  script = ::pread(fd, head, 2, 0) == 2 && head[0] == '#' && head[1] == '!';
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::string verify_executable(const std::string& path, const std::string& digest) {
  bool script = false;
  std::string why;
  const int fd = open_verified(path, digest, script, why);
  if (fd >= 0) {
    ::close(fd);
  }
  return why;
}

std::uint64_t process_start_time(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  if (pid <= 0 || !std::getline(in, text)) {
    return 0;
  }
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    return 0;
  }
  // After ") ": state is field 3; starttime is field 22.
  std::size_t at = close + 2;
  for (int field = 3; field < 22 && at != std::string::npos; ++field) {
    at = text.find(' ', at);
    if (at != std::string::npos) {
      ++at;
    }
  }
  return at == std::string::npos ? 0 : std::strtoull(text.c_str() + at, nullptr, 10);
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
