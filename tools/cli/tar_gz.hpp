#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace outpost::cli {

/// One file of an archive: its path inside it (relative, '/'-separated, < 100 bytes) and bytes.
struct archive_file {
  std::string path;
  std::string content;
};

/// A gzip-compressed POSIX ustar archive of `files` (mode 0600, owner 0, `mtime` seconds since
/// the epoch), as `tar xzf` reads it. Pure.
std::string tar_gz(const std::vector<archive_file>& files, std::int64_t mtime);

} // namespace outpost::cli
