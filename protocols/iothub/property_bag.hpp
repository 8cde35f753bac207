#pragma once

#include "protocols/common/result.hpp"
#include "protocols/iothub/errc.hpp"
#include "routing/model/message.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::iothub {

/// The system property a bag key names on the way in (`$.mid`, `$.on`, `ack`, ...; facts §3.5
/// direction "in"), if any. `$.cdid`/`$.cmid` are outbound only: inbound they are plain
/// application properties (the hub stamps the real ones from the authenticated client).
std::optional<routing::system_property> inbound_system_property(std::string_view key) noexcept;

/// At most this many key/value pairs in one bag (repeats included); more is
/// `errc::too_many_properties`. IoT Hub caps a message's properties by size (its whole message
/// is 256 KiB); a count bound keeps one publish from costing more than a few microseconds.
inline constexpr std::size_t max_bag_properties = 256;

/// Decodes a topic property bag `k1=v1&k2&k3=v3` into `into` (facts §3.5, the tokenizer of
/// ProtocolGateway's UrlEncodedDictionarySerializer that edgeHub uses): keys and values are
/// percent-decoded (`$` raw or `%24`, `+` stays `+`), `?` characters are removed before
/// decoding, a key without `=` or with an empty value gets an empty value, the last value of a
/// repeated key wins (keeping the first one's position), system keys go to
/// `into.system_properties`, all others to `into.properties` in arrival order. One trailing
/// `/` is allowed. Errors (`errc::bad_property_bag`): an empty key (`=v`, `&&`, a leading or
/// trailing `&`), a raw `=` inside a value, a `/` before the end; `errc::too_many_properties` past
/// `max_bag_properties` pairs. `into` may then hold the pairs before the error. Linear in the
/// bag's length.
result<void> decode_property_bag(std::string_view bag, routing::message& into);

/// The bag edgeHub puts after an outbound topic (facts §3.5 direction "out", azure-sdk-wire.md
/// §2.4): system properties `$.mid $.cid $.to $.uid $.exp $.ct $.ce $.schema $.ctime $.sub
/// iothub-operation ack`, then application properties (first occurrence of a name; names
/// clashing with an emitted system key are dropped, as edgeHub's dictionary overwrites them),
/// then, when `outbound_to_module`, `$.cdid` and `$.cmid` of the original sender. Every key and
/// value is percent-encoded (`encoding.hpp`), so `/`, `&`, `=` never appear raw. Empty when the
/// message has nothing to send.
std::string encode_property_bag(const routing::message& m, bool outbound_to_module);

} // namespace outpost::iothub
