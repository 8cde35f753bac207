#pragma once

#include "protocols/common/result.hpp"
#include "protocols/iothub/errc.hpp"
#include "protocols/iothub/identity.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::iothub {

/// HMAC-SHA256 of `data` under `key`, as the raw 32-byte digest. Injected so this library
/// stays free of OpenSSL; the adapter (or a test) supplies it.
using hmac_sha256_fn = std::function<std::string(std::string_view key, std::string_view data)>;

/// A parsed SAS token (facts §3.2). Value type.
struct sas_token {
  std::string resource;         ///< `sr` as sent (still URL-encoded): what was signed
  std::string resource_decoded; ///< `sr` URL-decoded once: `<host>/devices/<d>[/modules/<m>]`
  std::string signature;        ///< `sig` URL-decoded: base64 text
  std::int64_t expiry = 0;      ///< `se`: seconds since the Unix epoch
  std::string key_name;         ///< `skn`, URL-decoded; empty for device and module tokens
};

/// Parses `SharedAccessSignature sr=..&sig=..&se=..[&skn=..]`, fields in any order, names
/// case-insensitive, unknown fields ignored (edgeHub's SharedAccessSignature.Parse). `sr`,
/// `sig` and `se` are required and non-empty; `se` is a plain decimal number (no sign, no
/// leading zero) so that it re-prints exactly as it was signed. Errors: `errc::bad_sas_token`.
result<sas_token> parse_sas_token(std::string_view password);

/// What a token is verified against. Views must outlive the `verify_sas_token` call.
struct sas_check {
  std::string_view hub_hostname;        ///< the IoT hub's name (the SDKs put it in `sr`)
  std::string_view edge_hostname;       ///< this gateway's name; empty = only the hub's name counts
  const client_identity& who;           ///< the identity the client id names
  std::int64_t now_seconds;             ///< seconds since the Unix epoch
  std::vector<std::string> keys_base64; ///< primary, secondary (empty or non-base64 skipped)
  /// Grace after `se`. Facts §3.2 says "se in the past ⇒ reject" (0, the default); edgeHub's
  /// SharedAccessSignature.IsExpired allows 300 s (MaxClockSkew).
  std::int64_t clock_skew_seconds = 0;
};

/// Verifies `token` for `check.who` (facts §3.2, edgeHub DeviceScopeTokenAuthenticator):
/// 1. not expired (`se + clock_skew_seconds >= now_seconds`), else `errc::sas_expired`;
/// 2. `sr` decodes to `<host>/devices/<d>` or `<host>/devices/<d>/modules/<m>` whose host
///    equals the hub or the edge hostname and whose ids equal `who`'s (both ASCII
///    case-insensitively, as edgeHub); a device-level `sr` is accepted for that device's
///    modules; else `errc::sas_wrong_audience`;
/// 3. `sig` equals base64(HMAC-SHA256(base64dec(key), sr-as-sent + "\n" + se)) for the
///    primary or the secondary key (constant-time comparison), else
///    `errc::sas_signature_mismatch`.
result<void> verify_sas_token(const sas_token& token, const sas_check& check,
                              const hmac_sha256_fn& hmac);

/// What a service token (a shared access policy's, as `azure-iothub` sends) is checked against.
struct service_sas_check {
  std::string_view hub_hostname;  ///< the IoT hub's name
  std::string_view edge_hostname; ///< this gateway's name; empty = only the hub's name counts
  std::string_view policy_name;   ///< e.g. "iothubowner"
  std::string_view key_base64;    ///< the policy's key
  std::int64_t now_seconds;
};

/// Verifies a service token: `skn` names the policy (ASCII case-insensitively), else
/// `errc::sas_wrong_audience` (a device or module token has no `skn`: it never passes); not
/// expired, else `errc::sas_expired`; `sr` decodes to the hub's or the edge's host name,
/// optionally followed by `/` and a path, else `errc::sas_wrong_audience`; `sig` is the
/// policy key's HMAC over sr-as-sent + "\n" + se, else `errc::sas_signature_mismatch`.
result<void> verify_service_token(const sas_token& token, const service_sas_check& check,
                                  const hmac_sha256_fn& hmac);

/// Builds a token the way the Azure IoT SDKs do (azure-sdk-wire.md §1):
/// `SharedAccessSignature sr=<enc(resource_uri)>&sig=<enc(b64(hmac))>&se=<expiry>` with
/// strict URL encoding. For tests, tools and the load generator. Returns an empty string when
/// `key_base64` is not valid base64.
std::string make_sas_token(std::string_view resource_uri, std::string_view key_base64,
                           std::int64_t expiry, const hmac_sha256_fn& hmac);

} // namespace outpost::iothub
