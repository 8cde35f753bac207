#include "protocols/mqtt/topic.hpp"

#include "protocols/mqtt/decoder.hpp"

#include <algorithm>

namespace outpost::mqtt {
namespace {

// MQTT 3.1.1 §4.7.3: what topic names and filters have in common.
bool valid_topic_string(std::string_view s) noexcept {
  return !s.empty() && s.size() <= max_topic_bytes && valid_utf8(s);
}

// MQTT 3.1.1 §4.7.1.2-3: a wildcard at `i` fills its whole level; '#' is also the last byte.
bool wildcard_well_placed(std::string_view filter, std::size_t i) noexcept {
  const bool starts_level = i == 0 || filter[i - 1] == '/';
  const bool is_last = i + 1 == filter.size();
  const bool ends_level = is_last || filter[i + 1] == '/';
  return starts_level && ends_level && (filter[i] == '+' || is_last);
}

std::size_t level_end(std::string_view s, std::size_t from) noexcept {
  return std::min(s.find('/', from), s.size());
}

} // namespace

bool valid_topic_name(std::string_view topic) noexcept {
  return valid_topic_string(topic) && topic.find_first_of("+#") == std::string_view::npos;
}

bool valid_topic_filter(std::string_view filter) noexcept {
  if (!valid_topic_string(filter)) {
    return false;
  }
  for (std::size_t i = filter.find_first_of("+#"); i != std::string_view::npos;
       i = filter.find_first_of("+#", i + 1)) {
    if (!wildcard_well_placed(filter, i)) {
      return false;
    }
  }
  return true;
}

bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
  if (filter.empty() || topic.empty()) {
    return false;
  }
  if (topic.front() == '$' && (filter.front() == '+' || filter.front() == '#')) {
    return false; // [MQTT-4.7.2-1]
  }
  std::size_t f = 0;
  std::size_t t = 0;
  for (;;) {
    const std::size_t f_end = level_end(filter, f);
    const std::string_view f_level = filter.substr(f, f_end - f);
    if (f_level == "#") {
      return true; // §4.7.1.2: this level and every level below it
    }
    const std::size_t t_end = level_end(topic, t);
    if (f_level != "+" && f_level != topic.substr(t, t_end - t)) {
      return false;
    }
    const bool f_last = f_end == filter.size();
    const bool t_last = t_end == topic.size();
    if (f_last || t_last) {
      // "sport/#" also matches the parent level "sport" (§4.7.1.2).
      return t_last && (f_last || filter.substr(f_end) == "/#");
    }
    f = f_end + 1;
    t = t_end + 1;
  }
}

} // namespace outpost::mqtt
