// Issue 13, item 4: the status page is served by the metrics listener, which nobody
// authenticates to. It must hand out no identity key and no configured password, load no
// script from elsewhere, run no inline script, and change nothing (read-only).

#include "protocols/transport/http_client.hpp"
#include "tests/security/daemon_fixture.hpp"

#include <gtest/gtest.h>

#include <string>

namespace outpost::test {
namespace {

class StatusPage : public daemon_fixture {};

TEST_F(StatusPage, TheUnauthenticatedListenerShowsNoSecretAndRunsNoForeignOrInlineScript) {
  // A broker password in the configuration (the broker is not there: the page shows the
  // endpoint's queue and errors, never its URL's user info).
  config_extra_ =
      "[endpoints.bus]\ntype = \"amqp\"\nurl = \"amqp://edge:pw-0f9e8d7c@127.0.0.1:1\"\n"
      "address = \"/queue/q\"\n";
  start();
  const auto device_key = add_identity("device", "leaf1");
  const auto module_key = add_identity("module", "m1");
  ASSERT_FALSE(device_key.empty());
  ASSERT_FALSE(module_key.empty());

  const auto html = scrape("/");
  ASSERT_NE(html.find("<script src=\"status.js\""), std::string::npos) << html;
  EXPECT_EQ(html.find("<script>"), std::string::npos) << "no inline script";
  EXPECT_EQ(html.find("http://"), std::string::npos) << "nothing from elsewhere";
  EXPECT_EQ(html.find("https://"), std::string::npos) << "nothing from elsewhere";
  for (const char* path : {"/", "/status.js", "/status.css", "/status.json"}) {
    const auto body = scrape(path);
    ASSERT_FALSE(body.empty()) << path;
    EXPECT_EQ(body.find(device_key), std::string::npos) << path << " shows a device key";
    EXPECT_EQ(body.find(module_key), std::string::npos) << path << " shows a module key";
    EXPECT_EQ(body.find("pw-0f9e8d7c"), std::string::npos) << path << " shows the password";
  }
  // Read-only: nothing but GET is answered as a page.
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    auto r = transport::http_call(metrics_, method, "/status.json", "{}");
    ASSERT_TRUE(r) << method;
    EXPECT_EQ(r->status, 405u) << method;
  }
}

} // namespace
} // namespace outpost::test
