#include "protocols/iothub/sas.hpp"

#include "protocols/common/decimal.hpp"
#include "protocols/iothub/detail/text.hpp"
#include "protocols/iothub/encoding.hpp"

#include <optional>

namespace outpost::iothub {
namespace {

constexpr std::string_view sas_prefix = "SharedAccessSignature ";
constexpr std::size_t max_expiry_digits = 18; // fits std::int64_t with room for the skew

/// Raw `sr`/`sig`/`se`/`skn` values of a token; unset when absent.
struct sas_fields {
  std::optional<std::string_view> sr;
  std::optional<std::string_view> sig;
  std::optional<std::string_view> se;
  std::optional<std::string_view> skn;

  /// The slot for field `name` (case-insensitive), or null for an unknown field.
  std::optional<std::string_view>* slot(std::string_view name) noexcept {
    if (detail::iequals(name, "sr")) {
      return &sr;
    }
    if (detail::iequals(name, "sig")) {
      return &sig;
    }
    if (detail::iequals(name, "se")) {
      return &se;
    }
    return detail::iequals(name, "skn") ? &skn : nullptr;
  }
};

/// Splits the `&`-joined `name=value` fields; a field without `=` or a repeated field fails.
std::optional<sas_fields> split_fields(std::string_view text) {
  sas_fields fields;
  for (const std::string_view field : detail::split(text, '&')) {
    if (field.empty()) {
      continue;
    }
    const auto eq = field.find('=');
    if (eq == std::string_view::npos) {
      return std::nullopt;
    }
    auto* slot = fields.slot(field.substr(0, eq));
    if (slot != nullptr && *slot) {
      return std::nullopt;
    }
    if (slot != nullptr) {
      *slot = field.substr(eq + 1);
    }
  }
  return fields;
}

/// A canonical non-negative decimal number of at most 18 digits.
std::optional<std::int64_t> parse_expiry(std::string_view text) {
  if (text.size() > max_expiry_digits || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  return parse_decimal<std::int64_t>(text);
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false; // the length of a base64 HMAC is no secret
  }
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

std::string string_to_sign(std::string_view encoded_resource, std::int64_t expiry) {
  std::string s{encoded_resource};
  s += '\n';
  s += std::to_string(expiry);
  return s;
}

/// Checks the host and ids of `sr` (decoded once; ids decoded again, as edgeHub does).
bool audience_matches(std::string_view resource, const sas_check& check) {
  const auto parts = detail::split(detail::trim(resource), '/');
  if (parts.size() != 3 && parts.size() != 5) {
    return false;
  }
  const std::string_view host = parts[0];
  const bool host_ok =
      !host.empty()
      && (detail::iequals(host, check.hub_hostname) || detail::iequals(host, check.edge_hostname));
  if (!host_ok || !detail::iequals(parts[1], "devices")
      || !detail::iequals(percent_decode(parts[2]), check.who.device_id)) {
    return false;
  }
  if (parts.size() == 3) {
    return true; // a device-level token also authenticates the device's modules
  }
  return detail::iequals(parts[3], "modules") && check.who.is_module()
         && detail::iequals(percent_decode(parts[4]), check.who.module_id);
}

bool signed_by_any_key(const sas_token& token, const sas_check& check, const hmac_sha256_fn& hmac) {
  const std::string to_sign = string_to_sign(token.resource, token.expiry);
  bool match = false;
  for (const std::string& key_base64 : check.keys_base64) {
    const auto key = base64_decode(key_base64);
    if (!key || key->empty()) {
      continue;
    }
    // Both keys are always tried, so timing does not tell which one matched.
    match = constant_time_equal(base64_encode(hmac(*key, to_sign)), token.signature) || match;
  }
  return match;
}

} // namespace

result<sas_token> parse_sas_token(std::string_view password) {
  if (!detail::starts_with(password, sas_prefix)) {
    return errc::bad_sas_token;
  }
  const std::string_view rest = password.substr(sas_prefix.size());
  for (const char c : rest) {
    if (detail::is_space(c)) {
      return errc::bad_sas_token; // edgeHub splits on white space and wants two parts
    }
  }
  const auto fields = split_fields(rest);
  if (!fields || !fields->sr || !fields->sig || !fields->se || fields->sr->empty()) {
    return errc::bad_sas_token;
  }
  sas_token token;
  token.resource = std::string{*fields->sr};
  token.resource_decoded = percent_decode(*fields->sr);
  token.signature = percent_decode(*fields->sig);
  token.key_name = fields->skn ? percent_decode(*fields->skn) : std::string{};
  const auto expiry = parse_expiry(percent_decode(*fields->se));
  if (token.signature.empty() || !expiry) {
    return errc::bad_sas_token;
  }
  token.expiry = *expiry;
  return token;
}

result<void> verify_sas_token(const sas_token& token, const sas_check& check,
                              const hmac_sha256_fn& hmac) {
  if (token.expiry + check.clock_skew_seconds < check.now_seconds) {
    return errc::sas_expired;
  }
  if (!audience_matches(token.resource_decoded, check)) {
    return errc::sas_wrong_audience;
  }
  if (!signed_by_any_key(token, check, hmac)) {
    return errc::sas_signature_mismatch;
  }
  return ok();
}

result<void> verify_service_token(const sas_token& token, const service_sas_check& check,
                                  const hmac_sha256_fn& hmac) {
  if (token.key_name.empty() || !detail::iequals(token.key_name, check.policy_name)) {
    return errc::sas_wrong_audience;
  }
  if (token.expiry < check.now_seconds) {
    return errc::sas_expired;
  }
  const std::string_view sr = token.resource_decoded;
  const auto host = sr.substr(0, sr.find('/'));
  if (!detail::iequals(host, check.hub_hostname)
      && (check.edge_hostname.empty() || !detail::iequals(host, check.edge_hostname))) {
    return errc::sas_wrong_audience;
  }
  const client_identity nobody;
  const sas_check keys{check.hub_hostname,
                       check.edge_hostname,
                       nobody,
                       check.now_seconds,
                       {std::string{check.key_base64}}};
  if (!signed_by_any_key(token, keys, hmac)) {
    return errc::sas_signature_mismatch;
  }
  return ok();
}

std::string make_sas_token(std::string_view resource_uri, std::string_view key_base64,
                           std::int64_t expiry, const hmac_sha256_fn& hmac) {
  const auto key = base64_decode(key_base64);
  if (!key) {
    return {};
  }
  const std::string sr = percent_encode(resource_uri);
  const std::string sig = base64_encode(hmac(*key, string_to_sign(sr, expiry)));
  return std::string{sas_prefix} + "sr=" + sr + "&sig=" + percent_encode(sig)
         + "&se=" + std::to_string(expiry);
}

} // namespace outpost::iothub
