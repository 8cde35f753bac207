#include "supervisor/config/data_dir.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>

#include <sys/stat.h>

namespace outpost::app {

namespace {

namespace fs = std::filesystem;

constexpr unsigned traversable = 0711; ///< others may pass through by name, not list
constexpr unsigned private_dir = 0700;
constexpr unsigned private_file = 0600;

/// Group/other bits `mode` has beyond `wanted`: what makes it looser.
unsigned excess(unsigned mode, unsigned wanted) {
  return mode & 077 & ~wanted;
}

/// Calls `visit(path, wanted, folder, mode)` for each path of the table that exists; symlinks
/// are neither followed nor changed.
void walk(const std::string& storage_dir,
          const std::function<void(const std::string&, unsigned, bool, unsigned)>& visit) {
  auto one = [&](const fs::path& p, unsigned wanted_dir, unsigned wanted_file) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || S_ISLNK(st.st_mode)) {
      return;
    }
    const bool folder = S_ISDIR(st.st_mode);
    visit(p.string(), folder ? wanted_dir : wanted_file, folder, st.st_mode & 07777);
  };
  const fs::path root{storage_dir};
  one(root, traversable, traversable);
  one(root / "run", traversable, traversable);
  for (const char* secret : {"db", "certs"}) {
    const auto dir = root / secret;
    one(dir, private_dir, private_file);
    std::error_code ec;
    for (fs::recursive_directory_iterator it{dir, ec}, end; !ec && it != end; it.increment(ec)) {
      one(it->path(), private_dir, private_file);
    }
  }
}

} // namespace

bool secure_data_dir(const std::string& storage_dir, std::vector<loose_path>& tightened,
                     std::string& why) {
  std::error_code ec;
  fs::create_directories(fs::path{storage_dir} / "run", ec);
  if (ec) {
    why = storage_dir + ": " + ec.message();
    return false;
  }
  bool ok = true;
  walk(storage_dir, [&](const std::string& path, unsigned wanted, bool folder, unsigned mode) {
    // The storage folder and run/ must also stay traversable (x for group and others).
    const unsigned target =
        wanted == traversable ? (mode & ~077u) | traversable : mode & ~excess(mode, wanted);
    if (target == mode) {
      return;
    }
    if (::chmod(path.c_str(), target) != 0) {
      why = path + ": chmod: " + std::strerror(errno);
      ok = false;
      return;
    }
    if (excess(mode, wanted) != 0) {
      tightened.push_back({path, mode & 0777, wanted, folder});
    }
  });
  return ok;
}

std::vector<loose_path> loose_data_paths(const std::string& storage_dir) {
  std::vector<loose_path> out;
  walk(storage_dir, [&](const std::string& path, unsigned wanted, bool folder, unsigned mode) {
    if (excess(mode, wanted) != 0) {
      out.push_back({path, mode & 0777, wanted, folder});
    }
  });
  return out;
}

} // namespace outpost::app
