// Issue 10: the HTTPS listener faces the network and holds the registry's keys. Each test is an
// attempt through it with a token that must not open it: a device's own SAS, a module of
// another edge device, a module off the method routes or posing as another module, a forged,
// expired or foreign-policy service token, and oversized or unauthenticated bulk.
#include "protocols/iothub/sas.hpp"
#include "protocols/transport/crypto.hpp"
#include "tests/security/daemon_fixture.hpp"
#include "tests/support/tls_http.hpp"

#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

namespace outpost::test {
namespace {

using namespace std::chrono_literals;

std::int64_t in_an_hour() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count()
         + 3600;
}

std::string service_token(const std::string& key, std::int64_t expiry,
                          const std::string& policy = "iothubowner") {
  return iothub::make_sas_token(
             "localhost", key, expiry,
             [](std::string_view k, std::string_view d) { return transport::hmac_sha256(k, d); })
         + "&skn=" + policy;
}

class ServiceApi : public daemon_fixture {
protected:
  void SetUp() override {
    daemon_fixture::SetUp();
    start();
    ASSERT_FALSE(https_.empty());
    port_ = static_cast<unsigned short>(std::stoi(https_.substr(https_.rfind(':') + 1)));
    const auto ca = cli({"ca"});
    ASSERT_EQ(ca.code, 0) << ca.err;
    ca_ = (dir_ / "ca.pem").string();
    std::ofstream{ca_} << ca.out;
    const auto cs = cli({"service", "connection-string"});
    ASSERT_EQ(cs.code, 0) << cs.err;
    const auto at = cs.out.find("SharedAccessKey=");
    ASSERT_NE(at, std::string::npos) << cs.out;
    service_key_ = cs.out.substr(at + 16);
    while (!service_key_.empty() && service_key_.back() == '\n') {
      service_key_.pop_back();
    }
    add_identity("device", "dev1");
  }

  tls_http_response call(const std::string& method, const std::string& target,
                         const std::string& authorization, const std::string& body = {},
                         std::vector<std::string> headers = {}) {
    if (!authorization.empty()) {
      headers.push_back("Authorization: " + authorization);
    }
    headers.emplace_back("Content-Type: application/json");
    return tls_request(port_, ca_, method, target, headers, body);
  }

  static constexpr const char* method_body =
      R"({"methodName":"reboot","payload":{},"responseTimeoutInSeconds":1,"connectTimeoutInSeconds":0})";

  unsigned short port_ = 0;
  std::string ca_;
  std::string service_key_;
};

TEST_F(ServiceApi, TheServiceTokenOpensIt) {
  const auto r = call("GET", "/devices/dev1?api-version=2021-04-12",
                      service_token(service_key_, in_an_hour()));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"primaryKey\":\"" + keys_["dev1"] + "\""), std::string::npos) << r.body;
}

TEST_F(ServiceApi, ADevicesOwnSasGets401Everywhere) {
  const auto device = token("dev1");
  for (const auto& [method, target] :
       std::vector<std::pair<std::string, std::string>>{{"GET", "/devices/dev1"},
                                                        {"GET", "/devices"},
                                                        {"GET", "/twins/dev1"},
                                                        {"PUT", "/devices/evil"},
                                                        {"POST", "/twins/dev1/methods"}}) {
    const auto r = call(method, target, device, method == "GET" ? "" : method_body);
    EXPECT_EQ(r.status, 401) << method << " " << target << ": " << r.body;
    EXPECT_NE(r.body.find("IotHubUnauthorizedAccess"), std::string::npos) << r.body;
  }
}

TEST_F(ServiceApi, AModuleOfAnotherEdgeDeviceGets401OnMethods) {
  add_identity("device", "edge2");
  add_identity("module", "edge2/modA"); // a real key, of a module of another device
  const auto r = call("POST", "/twins/dev1/methods", token("edge2/modA"), method_body,
                      {"x-ms-edge-moduleId: edge2/modA"});
  EXPECT_EQ(r.status, 401) << r.body;
  EXPECT_NE(r.body.find("Only modules on the same device"), std::string::npos) << r.body;
}

TEST_F(ServiceApi, AModuleCannotPoseAsAnotherNorLeaveTheMethodRoutes) {
  add_identity("module", "modA");
  add_identity("module", "modB");
  // modA's token, claiming to be modB.
  auto r = call("POST", "/twins/dev1/methods", token("edge1/modA"), method_body,
                {"x-ms-edge-moduleId: edge1/modB"});
  EXPECT_EQ(r.status, 401) << r.body;
  // Its own identity, on the registry and the twins: not for modules.
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/devices/dev1"}, {"GET", "/twins/dev1"}, {"PATCH", "/twins/dev1"}}) {
    r = call(method, target, token("edge1/modA"), method == "GET" ? "" : "{}",
             {"x-ms-edge-moduleId: edge1/modA"});
    EXPECT_EQ(r.status, 401) << method << " " << target << ": " << r.body;
  }
  // Disabled: its token no longer calls methods.
  ASSERT_EQ(cli({"identity", "disable", "edge1/modA"}).code, 0);
  r = call("POST", "/twins/dev1/methods", token("edge1/modA"), method_body,
           {"x-ms-edge-moduleId: edge1/modA"});
  EXPECT_EQ(r.status, 401) << r.body;
  // modB, enabled, with its own token, gets through to the method router: dev1 is not online.
  r = call("POST", "/twins/dev1/methods", token("edge1/modB"), method_body,
           {"x-ms-edge-moduleId: edge1/modB"});
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_NE(r.body.find("404103"), std::string::npos) << r.body;
}

TEST_F(ServiceApi, ForgedExpiredOrForeignPolicyServiceTokensGet401) {
  const std::string wrong_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
  for (const auto& t :
       {service_token(wrong_key, in_an_hour()), service_token(service_key_, in_an_hour() - 7200),
        service_token(service_key_, in_an_hour(), "registryRead"),
        std::string{"SharedAccessSignature garbage"}, std::string{}}) {
    const auto r = call("GET", "/devices/dev1", t);
    EXPECT_EQ(r.status, 401) << t << ": " << r.body;
    EXPECT_EQ(r.body.find(keys_["dev1"]), std::string::npos) << "a key leaked: " << r.body;
  }
}

TEST_F(ServiceApi, AnOversizedBodyIs413AndTheListenerServesTheNext) {
  // A 2 MiB body announced: refused from its Content-Length, before a byte of it is read.
  const auto big = tls_exchange(port_, ca_,
                                {"PUT /devices/big HTTP/1.1\r\nHost: localhost\r\n"
                                 "Content-Length: 2097152\r\n\r\n"
                                 + std::string(1024, 'x')});
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big.substr(0, 200);
  const auto next = call("GET", "/devices", service_token(service_key_, in_an_hour()));
  EXPECT_EQ(next.status, 200) << next.body;
}

TEST_F(ServiceApi, PendingMethodCallsHoldNoThreadAndDoNotStallTheApis) {
  // dev1 listens for methods and never answers: every call waits out its 3 s.
  auto device = connected("dev1");
  device->send(mqtt::subscribe{1, {{"$iothub/methods/POST/#", 0}}});
  ASSERT_TRUE(device->receive(5s));
  const auto service = service_token(service_key_, in_an_hour());
  const std::string body =
      R"({"methodName":"slow","payload":{},"responseTimeoutInSeconds":3,"connectTimeoutInSeconds":0})";
  // More calls than the HTTP handler pool has threads (4).
  constexpr int calls = 12;
  std::vector<std::thread> callers;
  std::vector<int> statuses(calls, 0);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < calls; ++i) {
    callers.emplace_back(
        [&, i] { statuses[i] = call("POST", "/twins/dev1/methods", service, body).status; });
  }
  std::this_thread::sleep_for(500ms); // all of them pending now
  const auto asked = std::chrono::steady_clock::now();
  const auto listed = call("GET", "/devices", service);
  const auto list_took = std::chrono::steady_clock::now() - asked;
  const auto cli_asked = std::chrono::steady_clock::now();
  const auto ids = cli({"identity", "list"});
  const auto cli_took = std::chrono::steady_clock::now() - cli_asked;
  for (auto& t : callers) {
    t.join();
  }
  const auto all_took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(listed.status, 200) << listed.body;
  EXPECT_LT(list_took, 1s) << "the service API waited for the pending calls";
  EXPECT_EQ(ids.code, 0) << ids.err;
  EXPECT_LT(cli_took, 2s) << "the admin API waited for the pending calls";
  for (int i = 0; i < calls; ++i) {
    EXPECT_EQ(statuses[i], 504) << "call " << i;
  }
  // Side by side, not four at a time: 12 calls of 3 s end together.
  EXPECT_LT(all_took, 6s);
}

TEST_F(ServiceApi, RegistryBodiesOfTheWrongShapeGet400AndChangeNothing) {
  const auto service = service_token(service_key_, in_an_hour());
  for (const std::string body :
       {R"({"status": 5})", R"({"authentication": "sas"})",
        R"({"authentication": {"type": "sas", "symmetricKey": "k"}})",
        R"({"authentication": {"type": "selfSigned", "x509Thumbprint": 7}})",
        R"({"authentication": {"type": "sas", "symmetricKey": {"primaryKey": "c2hvcnQ="}}})",
        R"({"deviceId": "other"})", "[1,2]", "{"}) {
    const auto r = call("PUT", "/devices/shape", service, body);
    EXPECT_EQ(r.status, 400) << body << ": " << r.body;
    EXPECT_NE(r.body.find("ArgumentInvalid"), std::string::npos) << r.body;
  }
  EXPECT_EQ(call("GET", "/devices/shape", service).status, 404);
}

TEST_F(ServiceApi, ALeakedServiceKeyStopsWorkingWhenRotatedAlsoAfterARestart) {
  const auto old_token = service_token(service_key_, in_an_hour());
  ASSERT_EQ(call("GET", "/devices", old_token).status, 200);
  const auto rotated = cli({"service", "rotate-key"});
  ASSERT_EQ(rotated.code, 0) << rotated.err;
  const auto at = rotated.out.find("SharedAccessKey=");
  ASSERT_NE(at, std::string::npos) << rotated.out;
  auto fresh = rotated.out.substr(at + 16);
  while (!fresh.empty() && fresh.back() == '\n') {
    fresh.pop_back();
  }
  ASSERT_NE(fresh, service_key_);
  EXPECT_EQ(call("GET", "/devices", old_token).status, 401);
  EXPECT_EQ(call("GET", "/devices", service_token(fresh, in_an_hour())).status, 200);
  // The new key is the stored one: a restart keeps it, and the old one stays refused.
  stop();
  start();
  port_ = static_cast<unsigned short>(std::stoi(https_.substr(https_.rfind(':') + 1)));
  EXPECT_EQ(call("GET", "/devices", old_token).status, 401);
  EXPECT_EQ(call("GET", "/devices", service_token(fresh, in_an_hour())).status, 200);
  const auto shown = cli({"service", "connection-string"});
  EXPECT_NE(shown.out.find(fresh), std::string::npos) << shown.out;
}

} // namespace
} // namespace outpost::test
