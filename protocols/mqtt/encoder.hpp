#pragma once

#include "protocols/mqtt/packets.hpp"

#include <cstddef>
#include <string>

namespace outpost::mqtt {

/// Appends the MQTT 3.1.1 wire bytes of `p` to `out` (client and server packets alike).
///
/// Writes the fields as given, minimal remaining-length encoding (§2.2.3), and reserves the
/// frame's size once. A PUBLISH with QoS 0 carries no packet identifier ([MQTT-2.3.1-5]), so
/// its `packet_id` is not written. Preconditions (not checked in release builds): strings and
/// binary fields are at most 65535 bytes, the frame at most 1 + 4 + 268435455 bytes, QoS
/// values 0..2. The per-type overloads avoid building a `packet` (no copy of a payload).
/// Pure; any thread may call it on its own `out`.
void encode(const packet& p, std::string& out);
void encode(const connect& p, std::string& out);
void encode(const connack& p, std::string& out);
void encode(const publish& p, std::string& out);
void encode(const puback& p, std::string& out);
void encode(const pubrec& p, std::string& out);
void encode(const pubrel& p, std::string& out);
void encode(const pubcomp& p, std::string& out);
void encode(const subscribe& p, std::string& out);
void encode(const suback& p, std::string& out);
void encode(const unsubscribe& p, std::string& out);
void encode(const unsuback& p, std::string& out);
void encode(const pingreq& p, std::string& out);
void encode(const pingresp& p, std::string& out);
void encode(const disconnect& p, std::string& out);

/// The number of bytes `encode(p, out)` appends (fixed header included).
std::size_t encoded_size(const packet& p) noexcept;

} // namespace outpost::mqtt
