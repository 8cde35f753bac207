#include "tests/support/process.hpp"

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace outpost::test {

namespace fs = std::filesystem;

fs::path make_temp_dir(const std::string& tag) {
  std::random_device rd;
  auto dir = fs::temp_directory_path()
             / ("outpost-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void remove_temp_dir(const fs::path& dir, bool keep) {
  std::error_code ec;
  if (!keep) {
    fs::remove_all(dir, ec);
    return;
  }
  for (fs::recursive_directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename() == "outpost.reserve") {
      fs::remove(it->path(), ec);
    }
  }
}

std::string bin_path(const std::string& name) {
  // OUTPOST_TEST_BIN_DIR runs the same tests against other binaries (e.g. an older commit's,
  // to see a security test fail where the attack still works).
  if (const char* dir = std::getenv("OUTPOST_TEST_BIN_DIR"); dir && *dir) {
    return std::string{dir} + "/" + name;
  }
  return std::string{OUTPOST_BIN_DIR} + "/" + name;
}

process::process(const std::vector<std::string>& argv, const fs::path& stderr_file)
    : stderr_file_(stderr_file) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    // Child: unblock signals a test runner may have blocked, wire stdout/stderr, exec.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::dup2(pipe_fds[1], 1);
    const int err = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  out_ = pipe_fds[0];
}

process::~process() {
  if (!status_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    ::waitpid(pid_, &st, 0);
  }
  if (out_ >= 0) {
    ::close(out_);
  }
}

void process::signal(int sig) {
  ::kill(pid_, sig);
}

std::optional<int> process::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) {
      status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status_;
}

std::optional<std::string> process::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto nl = pending_.find('\n'); nl != std::string::npos) {
      auto line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return std::nullopt;
    }
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char buf[65536];
    const auto n = ::read(out_, buf, sizeof buf);
    if (n <= 0) {
      return std::nullopt; // EOF: the child closed stdout (exited)
    }
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

std::string process::stderr_text() const {
  std::ifstream in{stderr_file_};
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<std::string> wait_for_file(const fs::path& file, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in{file};
    std::stringstream s;
    s << in.rdbuf();
    if (in && !s.str().empty()) {
      return s.str();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return std::nullopt;
}

std::optional<std::string> json_string(const std::string& json, const std::string& key) {
  const auto k = json.find("\"" + key + "\"");
  if (k == std::string::npos) {
    return std::nullopt;
  }
  const auto open = json.find('"', json.find(':', k) + 1);
  const auto close = json.find('"', open + 1);
  if (open == std::string::npos || close == std::string::npos) {
    return std::nullopt;
  }
  return json.substr(open + 1, close - open - 1);
}

void write_file(const fs::path& file, const std::string& text) {
  std::ofstream out{file, std::ios::trunc};
  out << text;
}

} // namespace outpost::test
