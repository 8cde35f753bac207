#pragma once

#include "supervisor/config/config.hpp"

#include <string>

namespace outpost::cli {

/// `outpost support-bundle [--since T] [--output FILE]` (like `iotedge support-bundle`): a
/// .tar.gz with outpostd's log and every module's (since T), the output of `outpost check` and
/// `outpost list`, the configuration, the deployment and the runtime status, the identities
/// (no keys), the metrics and the store's statistics. Every file passes `redact` first: no
/// key, SAS signature, connection string, password or private key leaves the machine. Works
/// with outpostd down too (then the bundle says so and holds what the disk has). `self` is
/// this executable, run again for `check` and `list`.
int run_support_bundle(const app::daemon_config& cfg, const std::string& config_path,
                       const std::string& since, std::string output, const std::string& self);

} // namespace outpost::cli
