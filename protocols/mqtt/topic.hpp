#pragma once

#include <cstddef>
#include <string_view>

namespace outpost::mqtt {

/// The longest topic name or filter: its length travels in two bytes ([MQTT-4.7.3-3]).
inline constexpr std::size_t max_topic_bytes = 65535;

/// True when `topic` may be the Topic Name of a PUBLISH (§4.7): 1..65535 bytes of valid
/// MQTT UTF-8 (§1.5.3) without the wildcards '+' and '#' ([MQTT-4.7.1-1], [MQTT-4.7.3-1..3]).
bool valid_topic_name(std::string_view topic) noexcept;

/// True when `filter` may be a Topic Filter (§4.7.1): 1..65535 bytes of valid MQTT UTF-8;
/// '#' only as the whole last level ([MQTT-4.7.1-2]); '+' only as a whole level
/// ([MQTT-4.7.1-3]).
bool valid_topic_filter(std::string_view filter) noexcept;

/// True when the topic name `topic` matches the topic filter `filter` (§4.7).
///
/// Levels are compared byte for byte, without normalisation ([MQTT-4.7.3-4]); '+' matches
/// exactly one level (possibly empty), '#' the rest including the parent level ("a/#" matches
/// "a"); filters starting with a wildcard never match topics starting with '$'
/// ([MQTT-4.7.2-1]). Both arguments are expected to be valid (see above); for others the result
/// is false or unspecified, never undefined. Allocation-free.
bool topic_matches(std::string_view filter, std::string_view topic) noexcept;

} // namespace outpost::mqtt
