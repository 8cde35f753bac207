// The twin document model (protocols/iothub/twin): versions, merge patches, $metadata,
// IoT Hub's limits and error bodies, the device and service views, and save/load.

#include "protocols/iothub/twin.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

using outpost::iothub::hub_error;
using outpost::iothub::twin;
using outpost::iothub::twin_limits;
using json = nlohmann::json;

namespace {

constexpr const char* t1 = "2026-12-04T10:00:00.0000000Z";
constexpr const char* t2 = "2026-12-04T10:00:05.0000000Z";

json device(const twin& t) {
  return json::parse(t.device_json());
}

json service(const twin& t) {
  return json::parse(t.service_json("dev1", ""));
}

std::string patch_desired_ok(twin& t, const std::string& patch, const char* now = t1) {
  std::string pushed;
  auto e = t.patch_desired(patch, now, pushed);
  EXPECT_FALSE(e) << (e ? e->message : "");
  return pushed;
}

} // namespace

TEST(Twin, NewTwinIsWhatTheSdkExpectsFromGet) {
  twin t;
  // azure-sdk-wire §2.5: GET needs desired and reported objects, each with $version.
  EXPECT_EQ(device(t), json::parse(R"({"desired":{"$version":1},"reported":{"$version":1}})"));
  EXPECT_EQ(t.version(), 1);
  EXPECT_EQ(t.etag(), "AAAAAAAAAAE="); // base64 of the big-endian version, as IoT Hub shows it
}

TEST(Twin, ReportedPatchMergesDeletesAndCountsVersions) {
  twin t;
  ASSERT_FALSE(t.patch_reported(R"({"fw":"1.0","nested":{"a":1,"b":2}})", t1));
  EXPECT_EQ(t.reported_version(), 2);
  ASSERT_FALSE(t.patch_reported(R"({"nested":{"b":null,"c":3},"fw":null})", t2));
  EXPECT_EQ(t.reported_version(), 3);
  EXPECT_EQ(t.version(), 3);
  EXPECT_EQ(device(t)["reported"], json::parse(R"({"nested":{"a":1,"c":3},"$version":3})"));
  EXPECT_EQ(t.desired_version(), 1) << "a reported patch leaves desired alone";
}

TEST(Twin, MetadataStampsEveryTouchedNode) {
  twin t;
  ASSERT_FALSE(t.patch_reported(R"({"nested":{"a":1,"b":2},"x":true})", t1));
  ASSERT_FALSE(t.patch_reported(R"({"nested":{"b":5}})", t2));
  const auto meta = service(t)["properties"]["reported"]["$metadata"];
  EXPECT_EQ(meta["$lastUpdated"], t2);
  EXPECT_EQ(meta["x"]["$lastUpdated"], t1);
  EXPECT_EQ(meta["nested"]["$lastUpdated"], t2);
  EXPECT_EQ(meta["nested"]["a"]["$lastUpdated"], t1);
  EXPECT_EQ(meta["nested"]["b"]["$lastUpdated"], t2);
  EXPECT_FALSE(meta["nested"]["b"].contains("$lastUpdatedVersion")) << "only desired has it";
  ASSERT_FALSE(t.patch_reported(R"({"x":null})", t2));
  EXPECT_FALSE(service(t)["properties"]["reported"]["$metadata"].contains("x"));
}

TEST(Twin, DesiredPatchIsPushedWithItsVersion) {
  twin t;
  const auto pushed = patch_desired_ok(t, R"({"interval":5,"mode":{"fast":true}})");
  EXPECT_EQ(json::parse(pushed),
            json::parse(R"({"interval":5,"mode":{"fast":true},"$version":2})"));
  const auto desired = service(t)["properties"]["desired"];
  EXPECT_EQ(desired["$version"], 2);
  EXPECT_EQ(desired["$metadata"]["interval"]["$lastUpdatedVersion"], 2);
  EXPECT_EQ(desired["$metadata"]["$lastUpdatedVersion"], 2);
  EXPECT_EQ(json::parse(t.desired_json()),
            json::parse(R"({"interval":5,"mode":{"fast":true},"$version":2})"));
}

TEST(Twin, ServiceUpdateWritesTagsAndDesiredButNotReported) {
  twin t;
  std::string pushed;
  ASSERT_FALSE(
      t.update(R"({"tags":{"site":"north"},"properties":{"desired":{"x":1}}})", t1, pushed));
  EXPECT_EQ(json::parse(pushed), json::parse(R"({"x":1,"$version":2})"));
  auto s = service(t);
  EXPECT_EQ(s["tags"], json::parse(R"({"site":"north"})"));
  EXPECT_EQ(s["deviceId"], "dev1");
  EXPECT_FALSE(s.contains("moduleId"));
  EXPECT_EQ(s["version"], 3) << "tags and desired are two changes";
  EXPECT_EQ(s["etag"], t.etag());

  ASSERT_FALSE(t.update(R"({"tags":{"site":"south"}})", t2, pushed));
  EXPECT_TRUE(pushed.empty()) << "nothing to push when desired did not change";
  EXPECT_EQ(t.desired_version(), 2);

  auto e = t.update(R"({"properties":{"reported":{"x":1}}})", t2, pushed);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(e->code, 400004);
}

TEST(Twin, ReplaceEmptiesWhatTheBodyLeavesOut) {
  twin t;
  patch_desired_ok(t, R"({"a":1,"b":2})");
  std::string pushed;
  ASSERT_FALSE(t.replace(R"({"properties":{"desired":{"c":3,"$version":9}}})", t2, pushed));
  EXPECT_EQ(json::parse(pushed), json::parse(R"({"c":3,"$version":3})"));
  EXPECT_EQ(device(t)["desired"], json::parse(R"({"c":3,"$version":3})"));
  EXPECT_EQ(service(t)["tags"], json::object());
}

TEST(Twin, RefusedPatchesChangeNothingAndSayWhy) {
  twin t;
  ASSERT_FALSE(t.patch_reported(R"({"keep":1})", t1));
  const auto before = t.save();
  struct bad {
    const char* patch;
    const char* says;
  };
  const std::string deep = R"({"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":1}}}}}}}}}}})";
  const std::string long_string = R"({"s":")" + std::string(4097, 'x') + R"("})";
  const std::string long_name = "{\"" + std::string(1025, 'n') + "\":1}";
  for (const auto& [patch, says] :
       {bad{"not json", "not valid JSON"}, bad{"[1,2]", "must be a JSON object"},
        bad{R"({"a.b":1})", "character"}, bad{R"({"$version":1})", "character"},
        bad{R"({"a b":1})", "character"}, bad{R"({"a#":1})", "character"},
        bad{"{\"a\\u0001\":1}", "character"}, bad{R"({"":1})", "empty"},
        bad{R"({"big":4503599627370496})", "range"}, bad{R"({"small":-4503599627370497})", "range"},
        bad{R"({"arr":[1,null]})", "null"}, bad{deep.c_str(), "nested deeper"},
        bad{long_string.c_str(), "string value longer"}, bad{long_name.c_str(), "name longer"}}) {
    auto e = t.patch_reported(patch, t2);
    ASSERT_TRUE(e) << patch;
    EXPECT_EQ(e->status, 400) << patch;
    EXPECT_EQ(e->code, 400004) << patch;
    EXPECT_NE(e->message.find(says), std::string::npos) << patch << " -> " << e->message;
    EXPECT_EQ(t.save(), before) << patch;
  }
}

TEST(Twin, DepthTenIsAllowedElevenIsNot) {
  twin t;
  // Ten levels of properties: the section's own keys are level 1.
  EXPECT_FALSE(
      t.patch_reported(R"({"1":{"2":{"3":{"4":{"5":{"6":{"7":{"8":{"9":{"10":1}}}}}}}}}})", t1));
  EXPECT_TRUE(t.patch_reported(
      R"({"1":{"2":{"3":{"4":{"5":{"6":{"7":{"8":{"9":{"10":{"11":1}}}}}}}}}}})", t1));
}

TEST(Twin, SectionsAreCappedAt32KiB) {
  twin t;
  twin_limits limits;
  std::string chunk(4000, 'v');
  for (int i = 0; i < 8; ++i) {
    const auto patch = R"({"k)" + std::to_string(i) + R"(":")" + chunk + R"("})";
    ASSERT_FALSE(t.patch_reported(patch, t1, limits)) << i;
  }
  const auto before = t.save();
  auto e = t.patch_reported(R"({"k8":")" + chunk + R"("})", t1, limits);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("32768 bytes"), std::string::npos) << e->message;
  EXPECT_EQ(t.save(), before);
  // Deleting makes room again.
  EXPECT_FALSE(t.patch_reported(R"({"k0":null,"k8":")" + chunk + R"("})", t1, limits));
}

TEST(Twin, ErrorBodyIsWhatTheSdkRecognises) {
  const hub_error e{400, 400004, "bad \"key\""};
  EXPECT_EQ(json::parse(e.body()), json::parse(R"({"errorCode":400004,"message":"bad \"key\""})"));
}

TEST(Twin, SaveAndLoadRoundTrip) {
  twin t;
  ASSERT_FALSE(t.patch_reported(R"({"r":{"x":1.5}})", t1));
  patch_desired_ok(t, R"({"d":"v"})", t2);
  std::string pushed;
  ASSERT_FALSE(t.update(R"({"tags":{"t":[1,2]}})", t2, pushed));
  auto loaded = twin::load(t.save());
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->save(), t.save());
  EXPECT_EQ(loaded->service_json("d", "m"), t.service_json("d", "m"));
  EXPECT_EQ(loaded->version(), 4);
}

TEST(Twin, SavedFormatIsStable) {
  // Golden bytes: the store keeps this document; a change of format needs a new `format`.
  twin t;
  ASSERT_FALSE(t.patch_reported(R"({"a":1})", t1));
  EXPECT_EQ(t.save(),
            R"({"desired":{"m":{},"p":{},"v":1},"format":1,"reported":{"m":{"$lastUpdated":")"
            R"(2026-12-04T10:00:00.0000000Z","a":{"$lastUpdated":"2026-12-04T10:00:00.0000000Z"}},)"
            R"("p":{"a":1},"v":2},"tags":{},"version":2})");
}

TEST(Twin, LoadRefusesWhatSaveDidNotWrite) {
  for (const char* s : {"", "{}", "[]", "null", R"({"format":2,"version":1,"tags":{}})",
                        R"({"format":1,"version":1,"tags":{},"desired":{"p":{},"m":{},"v":1}})",
                        R"({"format":1,"version":"1","tags":{},"desired":{},"reported":{}})"}) {
    EXPECT_FALSE(twin::load(s)) << s;
  }
}

TEST(Twin, CopiesAreIndependent) {
  twin a;
  twin b = a;
  ASSERT_FALSE(b.patch_reported(R"({"x":1})", t1));
  EXPECT_EQ(a.reported_version(), 1);
  EXPECT_EQ(b.reported_version(), 2);
  a = b;
  EXPECT_EQ(a.save(), b.save());
}

namespace outpost::iothub {
namespace {

TEST(MergePatchBetween, DeletesWhatIsGoneAddsAndChangesTheRestAndIgnoresVersions) {
  EXPECT_EQ(merge_patch_between(R"({"a":1,"b":{"x":1,"y":2},"c":3,"$version":4})",
                                R"({"a":1,"b":{"x":1,"z":3},"d":[1],"$version":9})"),
            std::optional<std::string>{R"({"b":{"y":null,"z":3},"c":null,"d":[1]})"});
  EXPECT_EQ(merge_patch_between(R"({"a":1,"$version":4})", R"({"a":1,"$version":5})"),
            std::nullopt);
  EXPECT_EQ(merge_patch_between(R"({"a":{"x":1}})", R"({"a":5})"),
            std::optional<std::string>{R"({"a":5})"});
  EXPECT_EQ(merge_patch_between("[1]", "{}"), std::nullopt);
  EXPECT_EQ(merge_patch_between("{", "{}"), std::nullopt);
}

} // namespace
} // namespace outpost::iothub
