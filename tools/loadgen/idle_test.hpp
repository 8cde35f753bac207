#pragma once

#include "tools/loadgen/options.hpp"

namespace outpost::loadgen {

/// Opens `idle_connections` connections (TLS with `tls`), `connect_parallel` handshakes at a
/// time, each CONNECTing as its own client id; holds them for `hold_s` seconds. Prints one JSON
/// line: connected, failed, connects/s, connect latency, and with `broker_pid` the broker's RSS
/// before and while holding them (KiB per connection). Returns the process exit code.
int run_idle(const options& o);

} // namespace outpost::loadgen
