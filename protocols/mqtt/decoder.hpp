#pragma once

#include "protocols/common/result.hpp"
#include "protocols/mqtt/errc.hpp"
#include "protocols/mqtt/packets.hpp"

#include <string_view>

namespace outpost::mqtt {

/// Decodes one whole frame, as delimited by `split_frame`, into a packet.
///
/// Strict MQTT 3.1.1: reserved flag bits per packet type (§2.2.2); the remaining length must
/// match both the frame and the packet's content exactly; UTF-8 strings are validated (§1.5.3);
/// only protocol "MQTT" level 4 (anything else is `errc::unsupported_protocol`, so the session
/// can answer CONNACK 1, §3.1.2.2); CONNECT flags are consistent (§3.1.2.3-9); topic names and
/// filters follow §4.7; packet ids are non-zero where present (§2.3.1); QoS 3 is
/// `errc::invalid_qos`. A QoS 2 PUBLISH decodes: the session decides what to do with it.
/// Never throws (noexcept: only an allocation failure would end the process) and never reads
/// outside `frame`, whatever its bytes (fuzzed). Copies topic and payload into the packet;
/// `frame` can be released afterwards. Pure; any thread may call it.
result<packet> decode(std::string_view frame) noexcept;

/// True when `s` is a valid MQTT string body (§1.5.3): well-formed UTF-8 (RFC 3629: no overlong
/// forms, no surrogates U+D800..U+DFFF, nothing above U+10FFFF) without U+0000. U+FEFF is kept
/// as is ([MQTT-1.5.3-3]). The 65535-byte limit is the caller's (it comes from the length field).
bool valid_utf8(std::string_view s) noexcept;

} // namespace outpost::mqtt
