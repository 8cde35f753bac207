#include "actors/hub/authenticator.hpp"

#include "protocols/iothub/sas.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/stream_server.hpp"

#include <vector>

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

/// `"a;b;c"` split on `;`; empty when any part is empty or there are too many.
std::vector<std::string_view> split_chain(std::string_view chain) {
  std::vector<std::string_view> out;
  while (out.size() <= max_auth_chain) {
    const auto semi = chain.find(';');
    const auto part = chain.substr(0, semi);
    if (part.empty()) {
      return {};
    }
    out.push_back(part);
    if (semi == std::string_view::npos) {
      return out.size() <= max_auth_chain ? out : std::vector<std::string_view>{};
    }
    chain.remove_prefix(semi + 1);
  }
  return {};
}

/// IoT Hub's on-behalf-of check (authenticator.hpp): the chain leads from `who`'s device up to
/// the signing edge, one parent at a time, and the token verifies with the signer's keys.
auth_result check_on_behalf(const iothub::client_identity& who, const std::string& token,
                            std::string_view auth_chain, const identity_table& identities,
                            const auth_settings& settings) {
  const auto chain = split_chain(auth_chain);
  if (chain.empty()) {
    return refused(5, "malformed auth-chain");
  }
  if (chain.front() != who.device_id) {
    return refused(5, "the auth-chain does not start with the identity's device");
  }
  auto signer = identities.find(chain.back());
  if (signer == identities.end() || !signer->second.module_id.empty()) {
    return refused(5, "the auth-chain's edge device is not registered");
  }
  if (!signer->second.enabled || !signer->second.edge_enabled) {
    return refused(5, "the auth-chain's last device is not an enabled edge device");
  }
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    auto dev = identities.find(chain[i]);
    if (dev == identities.end() || !dev->second.enabled) {
      return refused(5, "a device of the auth-chain is not registered or disabled");
    }
    if (dev->second.parent != chain[i + 1]) {
      return refused(
          5, std::string{chain[i]} + " is not in the scope of " + std::string{chain[i + 1]});
    }
  }
  if (signer->second.auth != storage::auth_type::sas) {
    return refused(5, "the edge device does not use SAS keys");
  }
  auto parsed = iothub::parse_sas_token(token);
  if (!parsed) {
    return refused(4, "malformed SAS token");
  }
  iothub::sas_check check{settings.hub_hostname,
                          settings.edge_hostname,
                          who,
                          settings.now_seconds,
                          {signer->second.primary, signer->second.secondary}};
  auto ok = iothub::verify_sas_token(*parsed, check, [](std::string_view k, std::string_view d) {
    return transport::hmac_sha256(k, d);
  });
  if (!ok) {
    return refused(5, "on behalf of " + who.id() + ": " + ok.error().message());
  }
  return {0, "", who, parsed->expiry};
}

} // namespace

auth_result authenticate_identity(const iothub::client_identity& who, const std::string& token,
                                  const identity_table& identities, const auth_settings& settings,
                                  const std::optional<transport::peer_certificate>& cert,
                                  std::string_view auth_chain) {
  if (!auth_chain.empty() && (who.module_id == "$edgeAgent" || who.module_id == "$edgeHub")) {
    // An edge device's runtime modules exist with it (IoT Hub creates them with the device):
    // the child's own link reads its deployment through their twins.
    return check_on_behalf(who, token, auth_chain, identities, settings);
  }
  auto id = identities.find(who.id());
  if (id == identities.end()) {
    return refused(5, "identity not registered");
  }
  if (!id->second.enabled) {
    return refused(5, "identity disabled");
  }
  if (!auth_chain.empty()) {
    return check_on_behalf(who, token, auth_chain, identities, settings);
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
