#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace outpost::test {

/// A fresh empty directory under the system temp dir; removed by the caller (or left for
/// post-mortem when a test fails).
std::filesystem::path make_temp_dir(const std::string& tag);

/// Removes a test's temp dir, or, when `keep` (a failed test, left for post-mortem), only the
/// stores' disk reserves in it (`outpost.reserve`, up to 256 MiB each, which outpostd keeps
/// allocated across stops): a run with many failures must not fill the disk and make every
/// later daemon refuse appends as "disk full".
void remove_temp_dir(const std::filesystem::path& dir, bool keep);

/// Path of a binary built by this tree (build/bin/<name>), or in $OUTPOST_TEST_BIN_DIR if set.
std::string bin_path(const std::string& name);

/// A child process with stdout on a pipe and stderr in a file, for integration tests that
/// drive the real binaries. The destructor SIGKILLs and reaps a child still running.
class process {
public:
  process(const std::vector<std::string>& argv, const std::filesystem::path& stderr_file);
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  void signal(int sig);
  /// The exit code, 128 + signal if killed, or nullopt if still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  /// The next stdout line, or nullopt at EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  /// Everything the child wrote to stderr so far.
  std::string stderr_text() const;

private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string pending_;
  std::filesystem::path stderr_file_;
  std::optional<int> status_;
};

/// Polls until `file` exists and is non-empty; its content, or nullopt after `timeout`.
std::optional<std::string> wait_for_file(const std::filesystem::path& file,
                                         std::chrono::milliseconds timeout);

/// The string value of `"key": "value"` in a flat JSON object such as ports.json.
std::optional<std::string> json_string(const std::string& json, const std::string& key);

void write_file(const std::filesystem::path& file, const std::string& text);

} // namespace outpost::test
