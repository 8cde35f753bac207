#include "actors/app/daemon_log.hpp"

#include "protocols/common/iso_time.hpp"

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace outpost::app {

namespace {

std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt>& ring() {
  static std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> r;
  return r;
}

} // namespace

void setup_daemon_logging(const std::string& level, std::size_t ring_lines) {
  auto err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  ring() = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(ring_lines);
  auto logger = std::make_shared<spdlog::logger>("outpostd", spdlog::sinks_init_list{err, ring()});
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::vector<std::string> daemon_log_lines(std::size_t tail, std::int64_t since_ms) {
  auto r = ring();
  if (!r) {
    return {};
  }
  auto lines = r->last_formatted();
  if (since_ms > 0) {
    // The lines start with the same UTC form up to the milliseconds: they compare as text.
    const auto from = iso8601_ms(since_ms).substr(0, 23); // without the 'Z'

    std::vector<std::string> kept;
    for (auto& l : lines) {
      if (l.compare(0, from.size(), from) >= 0) {
        kept.push_back(std::move(l));
      }
    }
    lines = std::move(kept);
  }
  for (auto& l : lines) {
    while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) {
      l.pop_back();
    }
  }
  if (tail != 0 && lines.size() > tail) {
    lines.erase(lines.begin(), lines.end() - static_cast<std::ptrdiff_t>(tail));
  }
  return lines;
}

} // namespace outpost::app
