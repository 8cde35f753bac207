#pragma once

#include "tools/loadgen/options.hpp"

namespace outpost::loadgen {

/// The fan-in test: `publishers` connections publish to their topic (closed loop or at a fixed
/// total rate), one subscriber receives and PUBACKs. Prints one JSON line with the counts,
/// throughput and latency percentiles; returns the process exit code (0, or 1 after an error,
/// which the JSON names in "error").
int run_load(const options& o);

} // namespace outpost::loadgen
