// On-behalf-of authentication (IoT Hub's gateway scope, facts §7.1): a child edge's token,
// signed with the child's own keys, for an identity in its scope, with the auth-chain.

#include "actors/hub/authenticator.hpp"

#include "protocols/iothub/sas.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/tls_context.hpp"

#include <gtest/gtest.h>

namespace outpost::actors {
namespace {

constexpr std::int64_t now_s = 1'800'000'000;
const std::string edge_key = "ZWRnZS1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY=";
const std::string other_key = "b3RoZXIta2V5LTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU=";
const std::string leaf_key = "bGVhZi1rZXktMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY=";

storage::identity device(std::string id, std::string key, bool edge, std::string parent) {
  storage::identity i;
  i.device_id = std::move(id);
  i.primary = std::move(key);
  i.edge_enabled = edge;
  i.parent = std::move(parent);
  return i;
}

class OnBehalfOf : public ::testing::Test {
protected:
  OnBehalfOf() {
    add(device("edgeA", edge_key, true, ""));
    add(device("edgeB", other_key, true, ""));
    add(device("nested", leaf_key, true, "edgeA")); // an edge below edgeA
    add(device("leafA", leaf_key, false, "edgeA"));
    add(device("leafN", leaf_key, false, "nested"));
    add(device("leafB", leaf_key, false, "edgeB"));
    add(device("plain", leaf_key, false, ""));
    auto m = device("edgeA", leaf_key, false, "");
    m.module_id = "filter";
    add(m);
  }
  void add(storage::identity i) { table.emplace(i.id(), std::move(i)); }

  static std::string token(const std::string& resource, const std::string& key,
                           std::int64_t expiry = now_s + 3600) {
    return iothub::make_sas_token(
        "hub.example/devices/" + resource, key, expiry,
        [](std::string_view k, std::string_view d) { return transport::hmac_sha256(k, d); });
  }
  auth_result check(const std::string& who, const std::string& tok, std::string_view chain) {
    auto id = iothub::parse_client_id(who);
    EXPECT_TRUE(id);
    return authenticate_identity(*id, tok, table, {"hub.example", "edge.local", now_s},
                                 std::nullopt, chain);
  }

  identity_table table;
};

TEST_F(OnBehalfOf, AnEdgeVouchesForADeviceWhoseParentItIs) {
  const auto r = check("leafA", token("leafA", edge_key), "leafA;edgeA");
  EXPECT_EQ(r.connack_code, 0) << r.reason;
  EXPECT_EQ(r.expires_s, now_s + 3600);
}

TEST_F(OnBehalfOf, AnEdgeVouchesForItsOwnModulesAndItself) {
  EXPECT_EQ(check("edgeA/filter", token("edgeA/modules/filter", edge_key), "edgeA").connack_code,
            0);
  EXPECT_EQ(check("edgeA", token("edgeA", edge_key), "edgeA").connack_code, 0);
}

TEST_F(OnBehalfOf, ANestedChainIsFollowedOneParentAtATime) {
  EXPECT_EQ(check("leafN", token("leafN", edge_key), "leafN;nested;edgeA").connack_code, 0);
  // Skipping the middle edge is not a chain.
  EXPECT_NE(check("leafN", token("leafN", edge_key), "leafN;edgeA").connack_code, 0);
}

TEST_F(OnBehalfOf, AnotherEdgesDeviceIsRefusedWithTheReason) {
  auto r = check("leafB", token("leafB", edge_key), "leafB;edgeA");
  EXPECT_EQ(r.connack_code, 5);
  EXPECT_EQ(r.reason, "leafB is not in the scope of edgeA");
  // Signed with the wrong edge's key for a chain that names the right one.
  r = check("leafB", token("leafB", edge_key), "leafB;edgeB");
  EXPECT_EQ(r.connack_code, 5);
  EXPECT_NE(r.reason.find("on behalf of leafB"), std::string::npos) << r.reason;
  // A device in no scope, and another edge's module.
  EXPECT_NE(check("plain", token("plain", edge_key), "plain;edgeA").connack_code, 0);
  EXPECT_NE(
      check("edgeA/filter", token("edgeA/modules/filter", other_key), "edgeA;edgeB").connack_code,
      0);
}

TEST_F(OnBehalfOf, OnlyAnEnabledEdgeDeviceMaySign) {
  // leafA is a device, not an edge: it cannot vouch for anyone, not even with its own key.
  EXPECT_NE(check("leafA", token("leafA", leaf_key), "leafA").connack_code, 0);
  table["edgeA"].enabled = false;
  EXPECT_NE(check("leafA", token("leafA", edge_key), "leafA;edgeA").connack_code, 0);
  table["edgeA"].enabled = true;
  table["edgeA"].edge_enabled = false;
  EXPECT_NE(check("leafA", token("leafA", edge_key), "leafA;edgeA").connack_code, 0);
}

TEST_F(OnBehalfOf, MalformedChainsAndTokensAreRefused) {
  for (const char* chain :
       {";", "leafA;", ";edgeA", "edgeA;leafA", "leafA;;edgeA", "a;b;c;d;e;f;g"}) {
    EXPECT_NE(check("leafA", token("leafA", edge_key), chain).connack_code, 0) << chain;
  }
  EXPECT_NE(check("leafA", token("leafA", edge_key, now_s - 1), "leafA;edgeA").connack_code, 0);
  EXPECT_NE(check("leafA", token("leafB", edge_key), "leafA;edgeA").connack_code, 0);
  EXPECT_NE(check("leafA", "SharedAccessSignature junk", "leafA;edgeA").connack_code, 0);
  // A removed identity is refused whoever vouches for it.
  table.erase("leafA");
  EXPECT_NE(check("leafA", token("leafA", edge_key), "leafA;edgeA").connack_code, 0);
}

} // namespace
} // namespace outpost::actors
