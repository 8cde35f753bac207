#pragma once

#include <string>
#include <vector>

namespace outpost::app {

/// The modes of `<storage.dir>` (ARCHITECTURE.md §7, "Secrets at rest"), shared by outpostd
/// (which sets them) and `outpost check` (which flags what is looser):
///
/// - `<storage.dir>` 0711: modules under other uids reach `run/workload/` by name, list nothing;
/// - `<storage.dir>/run` 0711: the same;
/// - `<storage.dir>/db` and `<storage.dir>/certs` 0700, every file below them 0600: identity
///   keys, the workload master key, private keys.
///
/// outpostd's umask is 077, so everything else it creates is 0700/0600 unless chmod'ed.
struct loose_path {
  std::string path;
  unsigned mode = 0;   ///< what it has (permission bits)
  unsigned wanted = 0; ///< what it should have at most
  bool folder = false;
};

/// Creates `<storage.dir>` and `run/` and gives every path of the table its mode, tightening
/// what an older version left looser (`tightened` lists those). False with `why` when the
/// folder cannot be created or a mode cannot be set.
bool secure_data_dir(const std::string& storage_dir, std::vector<loose_path>& tightened,
                     std::string& why);

/// The paths of the table (and the files below db/ and certs/) that are looser than it says.
std::vector<loose_path> loose_data_paths(const std::string& storage_dir);

} // namespace outpost::app
