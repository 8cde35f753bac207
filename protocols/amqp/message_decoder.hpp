#pragma once

#include "routing/model/message.hpp"

#include <string_view>

namespace outpost::amqp {

/// IoT Hub's inbound mapping (`from_amqp`) read straight from a delivery's bytes, without
/// Proton's message object: the hub's telemetry path, where Proton's decode and its C++
/// accessors cost more than the rest of the message's handling (issue 11's benchmark).
///
/// It takes the messages the SDKs send (sections header, annotations, properties, application
/// properties with simple values, one Data section or an amqp-value string/binary/null, footer,
/// each with its numeric descriptor) and maps them exactly as `from_amqp` maps Proton's decoding
/// of the same bytes (a differential test and fuzz target check that). Anything else, valid or
/// not, is `other`: the caller then decodes with Proton and `from_amqp`, so the two paths never
/// differ in what they accept. Pure; every length is checked against the input.
class message_decoder {
public:
  enum class status : unsigned char { ok, other };

  /// Maps `bytes` (one whole message) into `out` (cleared first) when `ok`.
  static status decode(std::string_view bytes, routing::message& out);
};

} // namespace outpost::amqp
