#include "actors/hub/authenticator.hpp"

#include "protocols/iothub/sas.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/stream_server.hpp"

namespace outpost::actors {

namespace {

auth_result refused(std::uint8_t code, std::string reason) {
  return {code, std::move(reason), {}, 0};
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i]))
        != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

auth_result check_sas(const std::string& password, const storage::identity& id,
                      const identity_table& identities, const iothub::client_identity& who,
                      const auth_settings& settings) {
  if (id.auth != storage::auth_type::sas) {
    return refused(5, "identity uses X.509");
  }
  auto token = iothub::parse_sas_token(password);
  if (!token) {
    return refused(4, "malformed SAS token");
  }
  // A device-level token (no /modules/ in sr) is signed with the device's keys.
  const storage::identity* signer = &id;
  if (who.is_module() && token->resource_decoded.find("/modules/") == std::string::npos) {
    auto dev = identities.find(who.device_id);
    if (dev == identities.end() || !dev->second.enabled) {
      return refused(5, "device of the module not registered or disabled");
    }
    signer = &dev->second;
  }
  iothub::sas_check check{settings.hub_hostname,
                          settings.edge_hostname,
                          who,
                          settings.now_seconds,
                          {signer->primary, signer->secondary}};
  auto ok = iothub::verify_sas_token(*token, check, [](std::string_view k, std::string_view d) {
    return transport::hmac_sha256(k, d);
  });
  if (!ok) {
    return refused(5, ok.error().message());
  }
  return {0, "", who, token->expiry};
}

auth_result check_certificate(const std::optional<transport::peer_certificate>& cert,
                              const storage::identity& id, const iothub::client_identity& who) {
  if (!cert) {
    return refused(4, "no password and no client certificate");
  }
  switch (id.auth) {
    case storage::auth_type::sas:
      return refused(5, "identity uses SAS keys");
    case storage::auth_type::x509_thumbprint:
      if (iequals(cert->thumbprint, id.primary)
          || (!id.secondary.empty() && iequals(cert->thumbprint, id.secondary))) {
        return {0, "", who, 0};
      }
      return refused(5, "certificate thumbprint does not match");
    case storage::auth_type::x509_ca:
      if (cert->chain_verified && cert->subject_cn == who.device_id) {
        return {0, "", who, 0};
      }
      return refused(5, "certificate not issued by the trusted CA for this device");
  }
  return refused(5, "unknown authentication type");
}

} // namespace

auth_result authenticate_identity(const iothub::client_identity& who, const std::string& token,
                                  const identity_table& identities, const auth_settings& settings,
                                  const std::optional<transport::peer_certificate>& cert) {
  auto id = identities.find(who.id());
  if (id == identities.end()) {
    return refused(5, "identity not registered");
  }
  if (!id->second.enabled) {
    return refused(5, "identity disabled");
  }
  if (!token.empty()) {
    return check_sas(token, id->second, identities, who, settings);
  }
  return check_certificate(cert, id->second, who);
}

auth_result authenticate(const mqtt::connect& c, const identity_table& identities,
                         const auth_settings& settings,
                         const std::optional<transport::peer_certificate>& cert) {
  auto who = iothub::parse_client_id(c.client_id);
  if (!who) {
    return refused(2, "bad client id");
  }
  if (!c.username) {
    return refused(4, "no username");
  }
  auto user = iothub::parse_username(*c.username);
  if (!user) {
    return refused(4, "bad username");
  }
  if (user->who != *who) {
    return refused(5, "username names another identity than the client id");
  }
  return authenticate_identity(*who, c.password ? *c.password : std::string{}, identities, settings,
                               cert);
}

} // namespace outpost::actors
