#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace outpost::app {

/// outpostd's own log: stderr (journald under systemd) and the last `ring_lines` lines in
/// memory, which `GET /logs/outpostd` on the admin socket serves (`outpost support-bundle`).
/// Lines carry UTC timestamps ("2026-12-05T05:19:52.759+00:00 info ...").
void setup_daemon_logging(const std::string& level, std::size_t ring_lines = 5000);

/// The kept lines, oldest first: the last `tail` (0 = all), those at or after `since_ms`
/// (ms since the epoch; 0 = all).
std::vector<std::string> daemon_log_lines(std::size_t tail, std::int64_t since_ms);

} // namespace outpost::app
