#include "storage/identity_store.hpp"

#include "storage/errc.hpp"
#include "storage/memory_kv_store.hpp"
#include "storage/twin_store.hpp"

#include <gtest/gtest.h>

#include "golden.hpp"

namespace outpost::storage {
namespace {

identity device(const std::string& id) {
  return {id, "", auth_type::sas, "cHJpbWFyeQ==", "c2Vjb25kYXJ5", true, 1700000000000};
}

TEST(IdentityStore, PersistsPutsAndRemovesAcrossReopen) {
  memory_kv_store kv;
  auto s = identity_store::open(kv);
  ASSERT_TRUE(s);
  ASSERT_TRUE(s->put(device("dev1")));
  auto mod = device("edge");
  mod.module_id = "filter";
  ASSERT_TRUE(s->put(mod));
  ASSERT_TRUE(s->put(device("edge")));
  auto reopened = identity_store::open(kv);
  ASSERT_TRUE(reopened);
  ASSERT_NE(reopened->find("edge/filter"), nullptr);
  EXPECT_EQ(*reopened->find("edge/filter"), mod);
  EXPECT_EQ(reopened->list().size(), 3u);
  // Removing a device removes its modules, and their twins with them.
  write_batch twins;
  twin_store::put(twins, "edge", 1700000000000, "{}");
  twin_store::put(twins, "edge/filter", 1700000000000, "{}");
  twin_store::put(twins, "dev1", 1700000000000, "{}");
  ASSERT_TRUE(kv.write(twins, write_mode::durable));
  EXPECT_EQ(reopened->remove("edge").value(), 2u);
  EXPECT_EQ(reopened->remove("nobody").value(), 0u);
  EXPECT_EQ(identity_store::open(kv)->list().size(), 1u);
  EXPECT_FALSE(twin_store::get(kv, "edge").value().has_value());
  EXPECT_FALSE(twin_store::get(kv, "edge/filter").value().has_value());
  EXPECT_TRUE(twin_store::get(kv, "dev1").value().has_value());
}

TEST(IdentityStore, DisableIsAPutOfTheChangedRecord) {
  memory_kv_store kv;
  auto s = identity_store::open(kv);
  auto d = device("dev1");
  ASSERT_TRUE(s->put(d));
  d.enabled = false;
  ASSERT_TRUE(s->put(d));
  EXPECT_FALSE(identity_store::open(kv)->find("dev1")->enabled);
}

TEST(IdentityStore, RecordsHaveAStableEncoding) {
  auto d = device("d");
  d.auth = auth_type::x509_thumbprint;
  const auto bytes = encode_identity(d);
  EXPECT_EQ(bytes.substr(0, 3), std::string("\x02\x01\x01", 3));
  EXPECT_EQ(decode_identity(bytes).value(), d);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode_identity(bytes.substr(0, n))) << n;
  }
  EXPECT_EQ(decode_identity(bytes + "x").error(), errc::corrupt_record);
}

TEST(IdentityStore, GoldenBytes) {
  identity i{"d", "m", auth_type::sas, "p", "s", true, 0x0102030405060708, true, "e"};
  const auto v = encode_identity(i);
  EXPECT_EQ(golden::hex(v),
            "02"               // format version
            "00"               // auth: sas
            "01"               // enabled
            "0102030405060708" // created ms
            "01"               // edge enabled
            "00000001"
            "64" // device
            "00000001"
            "6d" // module
            "00000001"
            "70" // primary
            "00000001"
            "73" // secondary
            "00000001"
            "65"); // parent
  EXPECT_EQ(decode_identity(v).value(), i);
  for (std::size_t n = 0; n < v.size(); ++n) {
    EXPECT_FALSE(decode_identity(v.substr(0, n))) << n;
  }
}

TEST(IdentityStore, VersionOneRecordsStillDecode) {
  // A record written before edge devices and parents existed.
  const auto v1 = golden::bytes(
      "01"
      "00"
      "01"
      "0102030405060708"
      "00000001"
      "64"
      "00000000"
      "00000001"
      "70"
      "00000001"
      "73");
  const auto i = decode_identity(v1);
  ASSERT_TRUE(i);
  EXPECT_EQ(i->device_id, "d");
  EXPECT_EQ(i->primary, "p");
  EXPECT_FALSE(i->edge_enabled);
  EXPECT_EQ(i->parent, "");
  EXPECT_EQ(decode_identity(encode_identity(*i)).value(), *i) << "rewritten as version 2";
}

TEST(IdentityStore, AParentMustBeAnEdgeDevice) {
  memory_kv_store kv;
  auto s = identity_store::open(kv);
  ASSERT_TRUE(s);
  const std::pair<std::string, std::string> keys{"a", "b"};
  identity_request edge{"gw", false, auth_type::sas, "", "", true, ""};
  auto gw = make_identity(edge, *s, "edge1", keys, 1);
  ASSERT_TRUE(gw);
  EXPECT_TRUE(gw->edge_enabled);
  ASSERT_TRUE(s->put(*gw));
  ASSERT_TRUE(s->put(*make_identity({"plain"}, *s, "edge1", keys, 1)));

  identity_request leaf{"leaf", false, auth_type::sas, "", "", false, "gw"};
  auto l = make_identity(leaf, *s, "edge1", keys, 1);
  ASSERT_TRUE(l);
  EXPECT_EQ(l->parent, "gw");
  leaf.parent = "edge1"; // this edge device itself
  EXPECT_EQ(make_identity(leaf, *s, "edge1", keys, 1)->parent, "edge1");
  leaf.parent = "nobody";
  EXPECT_EQ(make_identity(leaf, *s, "edge1", keys, 1).error(), errc::identity_not_found);
  leaf.parent = "plain";
  EXPECT_EQ(make_identity(leaf, *s, "edge1", keys, 1).error(), errc::invalid_identity)
      << "not an edge device";
  identity_request mod{"m", true, auth_type::sas, "", "", false, "gw"};
  EXPECT_EQ(make_identity(mod, *s, "edge1", keys, 1).error(), errc::invalid_identity)
      << "a module is in its device's scope";
  mod.parent.clear();
  mod.edge_enabled = true;
  EXPECT_EQ(make_identity(mod, *s, "edge1", keys, 1).error(), errc::invalid_identity);
}

TEST(IdentityStore, ChangesGoThroughTheGivenWriter) {
  memory_kv_store kv;
  std::vector<write_batch> seen;
  auto s = identity_store::open(kv, [&](const write_batch& b) -> result<void> {
    seen.push_back(b);
    return errc::disk_full;
  });
  ASSERT_TRUE(s);
  EXPECT_EQ(s->put(device("dev1")).error(), errc::disk_full);
  EXPECT_EQ(s->find("dev1"), nullptr) << "a change the writer refused is not visible";
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].ops()[0].key, "dev1");
  EXPECT_FALSE(*kv.get(column::identities, "dev1")) << "nothing written behind the writer";
}

TEST(IdentityStore, ValidatesIotHubIdentityIds) {
  EXPECT_TRUE(valid_identity_id("dev-1.a_b:c=d@e$f'g(h)i,j!k?l*m%n"));
  EXPECT_FALSE(valid_identity_id(""));
  EXPECT_FALSE(valid_identity_id("a/b"));
  EXPECT_FALSE(valid_identity_id("with space"));
  EXPECT_FALSE(valid_identity_id(std::string(129, 'a')));
  EXPECT_TRUE(valid_identity_id(std::string(128, 'a')));
}

TEST(MakeIdentity, GivesSasIdentitiesTheSuppliedKeysAndEdgeModulesTheEdgeDevice) {
  memory_kv_store kv;
  auto s = identity_store::open(kv);
  auto d = make_identity({"dev1"}, *s, "edge", {"k1", "k2"}, 5);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->id(), "dev1");
  EXPECT_EQ(d->primary, "k1");
  EXPECT_EQ(d->secondary, "k2");
  EXPECT_EQ(d->created_ms, 5);
  auto m = make_identity({"filter", true}, *s, "edge", {"k1", "k2"}, 5);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id(), "edge/filter");
}

TEST(MakeIdentity, RefusesDuplicatesBadIdsOrphanModulesAndBadThumbprints) {
  memory_kv_store kv;
  auto s = identity_store::open(kv);
  ASSERT_TRUE(s->put(*make_identity({"dev1"}, *s, "edge", {"a", "b"}, 1)));
  EXPECT_EQ(make_identity({"dev1"}, *s, "edge", {}, 1).error(), errc::identity_exists);
  EXPECT_EQ(make_identity({"bad id"}, *s, "edge", {}, 1).error(), errc::invalid_identity);
  EXPECT_EQ(make_identity({"ghost/m", true}, *s, "edge", {}, 1).error(), errc::identity_not_found);
  EXPECT_TRUE(make_identity({"dev1/m", true}, *s, "edge", {}, 1)); // a leaf's own module
  identity_request x509{"cam", false, auth_type::x509_thumbprint, "nothex", ""};
  EXPECT_EQ(make_identity(x509, *s, "edge", {}, 1).error(), errc::invalid_identity);
  x509.primary = std::string(64, 'A');
  auto ok = make_identity(x509, *s, "edge", {"unused", "unused"}, 1);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->primary, std::string(64, 'A'));
}

} // namespace
} // namespace outpost::storage
