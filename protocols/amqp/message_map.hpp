#pragma once

#include "protocols/common/result.hpp"
#include "routing/model/message.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace proton {
class message;
}

namespace outpost::amqp {

/// IoT Hub's AMQP message mapping (facts §4.4, wire §3.4-3.5), both ways, in one place.
///
/// In (client → hub): message-id and correlation-id of any AMQP type the SDKs send (string,
/// uuid, ulong, binary) become their string forms (uuid canonical lower case, ulong decimal,
/// binary its bytes when they are UTF-8 text, else lower-case hex) and `amqp_id_types`
/// remembers the types; content-type/-encoding, `to`,
/// user-id, absolute-expiry-time (ISO 8601 ms), application properties (non-string values in
/// their text form; `iothub-outputname`, `iothub-message-schema`, `iothub-creation-time-utc`,
/// `iothub-operation` and `iothub-ack` become system properties), annotations `dt-subject` and
/// `iothub-interface-id`. The body is the Data section (or an amqp-value string or binary).
/// Errors: `std::errc::bad_message` for a body of another kind (a list, a map, ...).
result<routing::message> from_amqp(const proton::message& in);

/// The messages of one delivery in IoT Hub's batched format (`AmqpBatchedMessageFormat`,
/// message-format 0x80013700): `payload` is the outer message's sections; each Data section
/// is one encoded message, mapped as `from_amqp` maps it; the other sections are ignored, as
/// edgeHub ignores them. At most `max_messages`. Errors (`std::errc::bad_message`): no Data
/// section, more than `max_messages`, or any section or inner message that does not decode.
result<std::vector<routing::message>> from_amqp_batch(std::string_view payload,
                                                      std::size_t max_messages = 1000);

/// Out (hub → client): the reverse, ids in the types they came in (a string id from MQTT stays a
/// string), a Data body, and the annotations IoT Hub adds: `x-opt-input-name` (module input),
/// `iothub-connection-device-id`/`-module-id`, `iothub-enqueuedtime`, `iothub-deliverycount`,
/// `x-opt-sequence-number`, `x-opt-lock-token` (= `lock_token`, also the delivery tag).
struct outbound_stamp {
  std::uint64_t sequence_number = 0;
  std::uint32_t delivery_count = 0;
  std::string lock_token; ///< a uuid string, or empty for none
};
proton::message to_amqp(const routing::message& in, const outbound_stamp& stamp);

/// Client → hub (a child edge's upstream link sending on behalf of its clients): the format
/// `from_amqp` reads, so the parent gets the message as its sender wrote it: ids in their
/// types, content type and encoding, `to`, user-id, expiry, application properties, the
/// system properties IoT Hub carries as application properties (`iothub-outputname` for a
/// module's output, schema, creation time, operation) and the `dt-subject`/
/// `iothub-interface-id` annotations; a Data body. The connection ids, enqueued time and input
/// name are the parent's to stamp, not sent.
proton::message to_amqp_telemetry(const routing::message& in);

/// ISO 8601 UTC ("2026-12-04T20:30:00.123Z", fraction optional) to ms since the epoch.
result<std::int64_t> parse_iso8601_ms(const std::string& text);

} // namespace outpost::amqp
