// Issue 8, item 6: the store holds every identity key and the workload master key, and the
// certs folder the CA's private key. No other local user may read them.

#include "tests/security/daemon_fixture.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace outpost::test {
namespace {

namespace fs = std::filesystem;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

/// Every path under `dir` (and `dir` itself) with a group or other permission bit.
std::vector<std::string> readable_by_others(const fs::path& dir) {
  std::vector<std::string> out;
  if ((mode_of(dir) & 077) != 0) {
    out.push_back(dir.string());
  }
  for (const auto& e : fs::recursive_directory_iterator{dir}) {
    if (!e.is_symlink() && (mode_of(e.path()) & 077) != 0) {
      out.push_back(e.path().string());
    }
  }
  return out;
}

class SecretsAtRest : public daemon_fixture {};

TEST_F(SecretsAtRest, SecretsAtRestAreNotReadableByOtherUsers) {
  start();
  add_identity("device", "dev1"); // a key in the store
  add_identity("module", "modA");
  for (const char* secret : {"db", "certs"}) {
    ASSERT_TRUE(fs::is_directory(data_ / secret)) << secret;
    EXPECT_EQ(mode_of(data_ / secret), 0700u) << secret;
    const auto loose = readable_by_others(data_ / secret);
    EXPECT_TRUE(loose.empty()) << loose.size() << " paths open to others, first " << loose[0];
  }
  // The storage folder and run/ are traversable (modules reach their socket by name), not
  // listable.
  EXPECT_EQ(mode_of(data_), 0711u);
  EXPECT_EQ(mode_of(data_ / "run"), 0711u);
  auto ok = cli({"check"});
  EXPECT_NE(ok.out.find("\u2713 permissions: "), std::string::npos) << ok.out;

  // An operator (or an older version) loosens the database folder and one of its files.
  ASSERT_EQ(::chmod((data_ / "db").c_str(), 0755), 0);
  ASSERT_EQ(::chmod((data_ / "db" / "CURRENT").c_str(), 0644), 0);
  auto flagged = cli({"check"});
  EXPECT_EQ(flagged.code, 1) << flagged.out;
  EXPECT_NE(flagged.out.find("\u2717 permissions: " + (data_ / "db").string() + " is 0755"),
            std::string::npos)
      << flagged.out;
  EXPECT_NE(flagged.out.find("chmod 700 " + (data_ / "db").string()), std::string::npos)
      << flagged.out;
  EXPECT_NE(flagged.out.find((data_ / "db" / "CURRENT").string() + " is 0644"), std::string::npos)
      << flagged.out;

  // The next start tightens both.
  stop();
  start();
  EXPECT_EQ(mode_of(data_ / "db"), 0700u);
  EXPECT_EQ(mode_of(data_ / "db" / "CURRENT"), 0600u);
  EXPECT_TRUE(readable_by_others(data_ / "db").empty());
  EXPECT_NE(daemon_->stderr_text().find("was 755"), std::string::npos) << daemon_->stderr_text();
  auto fixed = cli({"check"});
  EXPECT_NE(fixed.out.find("\u2713 permissions: "), std::string::npos) << fixed.out;
  EXPECT_EQ(fixed.out.find("\u2717 permissions: "), std::string::npos) << fixed.out;
}

} // namespace
} // namespace outpost::test
