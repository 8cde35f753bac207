// The agent's records (storage/agent_store.hpp): golden bytes, every prefix rejected, the
// records of earlier versions still read, and the start-up load.

#include "storage/agent_store.hpp"

#include "storage/memory_kv_store.hpp"

#include <gtest/gtest.h>

#include "golden.hpp"

namespace outpost::storage {
namespace {

using golden::bytes;
using golden::hex;
namespace ar = agent_records;

template <typename Decode>
void expect_prefixes_rejected(const std::string& v, Decode decode) {
  for (std::size_t n = 0; n < v.size(); ++n) {
    EXPECT_FALSE(decode(v.substr(0, n))) << "prefix of " << n << " bytes of " << hex(v);
  }
  EXPECT_FALSE(decode(v + "x")) << "a trailing byte";
}

TEST(AgentRecords, Keys) {
  EXPECT_EQ(ar::state_key("filter"), "state/filter");
  EXPECT_EQ(ar::uid_key("filter"), "uid/filter");
  EXPECT_EQ(ar::deployment_key, "deployment");
  EXPECT_EQ(ar::reported_key, "reported");
  EXPECT_EQ(ar::master_key_key, "master_key");
}

TEST(AgentRecords, TextGoldenBytes) {
  const auto v = ar::encode_text("{}");
  EXPECT_EQ(hex(v),
            "01"
            "00000002"
            "7b7d");
  EXPECT_EQ(ar::decode_text(v), "{}");
  expect_prefixes_rejected(v, [](std::string_view p) { return ar::decode_text(p); });
  EXPECT_EQ(ar::decode_text("{\"modulesContent\": {}}"), "{\"modulesContent\": {}}")
      << "before version 1 the manifest was stored bare";
}

TEST(AgentRecords, RestartGoldenBytes) {
  const restart_record r{3, 0x0102030405};
  const auto v = ar::encode_restart(r);
  EXPECT_EQ(hex(v),
            "01"
            "00000003"
            "0000000102030405");
  EXPECT_EQ(ar::decode_restart(v), r);
  expect_prefixes_rejected(v, [](std::string_view p) { return ar::decode_restart(p); });
  // Before version 1: nlohmann-json's dump() of {"restartCount", "lastRestartMs"}.
  EXPECT_EQ(ar::decode_restart(R"({"lastRestartMs":1700000000000,"restartCount":4})"),
            (restart_record{4, 1700000000000}));
  EXPECT_FALSE(ar::decode_restart(R"({"lastRestartMs":17,"restartCount":4)"));
  EXPECT_FALSE(ar::decode_restart(R"({"lastRestartMs":-1,"restartCount":4})"));
}

TEST(AgentRecords, UidGoldenBytes) {
  const auto v = ar::encode_uid(60001);
  EXPECT_EQ(hex(v),
            "01"
            "0000ea61");
  EXPECT_EQ(ar::decode_uid(v), 60001u);
  expect_prefixes_rejected(v, [](std::string_view p) { return ar::decode_uid(p); });
  EXPECT_EQ(ar::decode_uid("60001"), 60001u) << "before version 1: decimal text";
  EXPECT_FALSE(ar::decode_uid("60001x"));
  EXPECT_FALSE(ar::decode_uid("99999999999"));
}

TEST(AgentRecords, MasterKeyIsExactlyThirtyTwoBytes) {
  const std::string key(32, '\x5a');
  EXPECT_EQ(ar::decode_master_key(key), key);
  expect_prefixes_rejected(key, [](std::string_view p) { return ar::decode_master_key(p); });
}

TEST(AgentStore, LoadsWhatTheBatchesWrote) {
  memory_kv_store kv;
  for (auto b : {agent_batches::deployment("{\"m\":1}"), agent_batches::reported("{}"),
                 agent_batches::restart("a", {2, 99}), agent_batches::restart("b", {1, 5}),
                 agent_batches::uid("a", 60001), agent_batches::master_key(std::string(32, 'k')),
                 agent_batches::forget_restart("b")}) {
    ASSERT_TRUE(kv.write(b, write_mode::durable));
  }
  write_batch legacy; // records of an earlier version, and one that cannot be read
  legacy.put(column::agent, "uid/old", "60002");
  legacy.put(column::agent, "state/old", R"({"lastRestartMs":7,"restartCount":1})");
  legacy.put(column::agent, "uid/bad", bytes("01 00"));
  ASSERT_TRUE(kv.write(legacy, write_mode::durable));
  auto set = load_agent_records(kv);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->deployment, "{\"m\":1}");
  EXPECT_EQ(set->master_key, std::string(32, 'k'));
  EXPECT_EQ(set->restarts,
            (std::map<std::string, restart_record>{{"a", {2, 99}}, {"old", {1, 7}}}));
  EXPECT_EQ(set->uids, (std::map<std::string, std::uint32_t>{{"a", 60001}, {"old", 60002}}));
}

} // namespace
} // namespace outpost::storage
