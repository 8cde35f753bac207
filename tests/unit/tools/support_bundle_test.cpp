#include "tools/cli/redact.hpp"
#include "tools/cli/tar_gz.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace outpost::cli {
namespace {

TEST(Redact, ConnectionStringsSasSignaturesUserInfoAndNamedSecrets) {
  const std::string in =
      "connection_string = \"HostName=h;DeviceId=e;SharedAccessKey=c2VjcmV0a2V5\"\n"
      "Authorization: SharedAccessSignature sr=h%2Fdevices%2Fd&sig=AbC%2Bdef%3D&se=17\n"
      "url = \"amqp://guest:hunter2@127.0.0.1:5672\"\n"
      "{\"primaryKey\":\"cHJpbWFyeQ==\", \"secondaryKey\": \"c2Vjb25k\", \"name\": \"leaf\"}\n"
      "password = \"pw\"\ntoken: \"tkn\"\n"
      "key = \"/etc/outpost/key.pem\"\n"
      "HostName=h;DeviceId=d;SharedAccessKey=abc;GatewayHostName=g";
  const auto out = redact(in);
  for (const char* secret : {"c2VjcmV0a2V5", "AbC%2Bdef%3D", "hunter2", "cHJpbWFyeQ==", "c2Vjb25k",
                             "\"pw\"", "tkn", "=abc;"}) {
    EXPECT_EQ(out.find(secret), std::string::npos) << secret << " in:\n" << out;
  }
  // A connection string is a secret whole; what support needs stays: names, hosts, users and
  // paths.
  for (const char* kept : {"amqp://guest:", "127.0.0.1:5672", "\"name\": \"leaf\"",
                           "/etc/outpost/key.pem", "GatewayHostName=g", "se=17"}) {
    EXPECT_NE(out.find(kept), std::string::npos) << kept << " lost:\n" << out;
  }
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), std::count(in.begin(), in.end(), '\n'));
}

TEST(Redact, PrivateKeyBlocksGoWhole) {
  const auto out = redact(
      "a\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\nAoGCCqGSM\n"
      "-----END EC PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nMIIB\n");
  EXPECT_EQ(out.find("MHcCAQEEI"), std::string::npos);
  EXPECT_EQ(out.find("AoGCCqGSM"), std::string::npos);
  EXPECT_NE(out.find("MIIB"), std::string::npos); // certificates are public
}

TEST(TarGz, DebiansTarReadsItBack) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("outpost-targz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string big(70000, 'x');
  big[69999] = 'y';
  const auto bytes =
      tar_gz({{"b/one.txt", "hello\n"}, {"b/two/big.log", big}, {"b/empty", ""}}, 1'700'000'000);
  { std::ofstream{dir / "a.tar.gz", std::ios::binary} << bytes; }
  const auto cmd = "tar -xzf " + (dir / "a.tar.gz").string() + " -C " + dir.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  auto read = [&](const char* p) {
    std::ifstream in{dir / p, std::ios::binary};
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  EXPECT_EQ(read("b/one.txt"), "hello\n");
  EXPECT_EQ(read("b/two/big.log"), big);
  EXPECT_TRUE(std::filesystem::exists(dir / "b/empty"));
  std::filesystem::remove_all(dir);
}

} // namespace
} // namespace outpost::cli
