#include "protocols/mqtt/topic.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace outpost::mqtt {
namespace {

TEST(MqttTopicName, AcceptsPlainAndIotHubTopics) {
  for (const char* topic : {"a", "/", "//", "a/b/c", "/finance", "sport/", "$SYS/broker",
                            "devices/dev1/messages/events/%24.mid=1&k=v",
                            "$iothub/twin/GET/?$rid=1", "\xE2\x82\xAC/\xEF\xBB\xBF", " "}) {
    EXPECT_TRUE(valid_topic_name(topic)) << topic;
  }
}

TEST(MqttTopicName, RejectsWildcardsEmptyNulAndBadUtf8) {
  for (const std::string& topic :
       {std::string("a/+"), std::string("#"), std::string("a/#"), std::string("+"),
        std::string("a+"), std::string(""), std::string("a\0b", 3), std::string("\xC0\x80"),
        std::string("\xED\xA0\x80")}) {
    EXPECT_FALSE(valid_topic_name(topic)) << topic;
  }
}

TEST(MqttTopicName, AcceptsUpTo65535Bytes) {
  EXPECT_TRUE(valid_topic_name(std::string(max_topic_bytes, 'a')));
  EXPECT_FALSE(valid_topic_name(std::string(max_topic_bytes + 1, 'a')));
}

TEST(MqttTopicFilter, AcceptsWellPlacedWildcards) {
  for (const char* filter :
       {"#", "+", "+/+", "/+", "+/", "a/#", "a/+/c", "+/tennis/#", "sport/tennis/player1/#",
        "$SYS/#", "$iothub/twin/res/#", "devices/dev1/messages/devicebound/#", "a//#", "/", "a"}) {
    EXPECT_TRUE(valid_topic_filter(filter)) << filter;
  }
}

TEST(MqttTopicFilter, RejectsMisplacedWildcards) {
  // §4.7.1.2 and §4.7.1.3 examples, and neighbours.
  for (const char* filter : {"sport/tennis#", "sport/tennis/#/ranking", "#/", "##", "a#", "#a",
                             "sport+", "+sport", "a/+b", "a/b+/c", "++", "+#", ""}) {
    EXPECT_FALSE(valid_topic_filter(filter)) << filter;
  }
}

TEST(MqttTopicFilter, RejectsNulBadUtf8AndOversize) {
  EXPECT_FALSE(valid_topic_filter(std::string("a/\0", 3)));
  EXPECT_FALSE(valid_topic_filter("\xF4\x90\x80\x80"));
  EXPECT_TRUE(valid_topic_filter(std::string(max_topic_bytes - 2, 'a') + "/#"));
  EXPECT_FALSE(valid_topic_filter(std::string(max_topic_bytes + 1, 'a')));
}

TEST(MqttTopicMatch, MatchesMultiLevelWildcardAsInSpecExamples) {
  // §4.7.1.2
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1"));
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
  EXPECT_TRUE(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
  EXPECT_TRUE(topic_matches("sport/#", "sport"));
  EXPECT_TRUE(topic_matches("#", "sport/tennis"));
  EXPECT_TRUE(topic_matches("#", "/"));
  EXPECT_FALSE(topic_matches("sport/tennis/player1/#", "sport/tennis/player2"));
  EXPECT_FALSE(topic_matches("sport/tennis/#", "sport"));
}

TEST(MqttTopicMatch, MatchesSingleLevelWildcardAsInSpecExamples) {
  // §4.7.1.3
  EXPECT_TRUE(topic_matches("sport/tennis/+", "sport/tennis/player1"));
  EXPECT_TRUE(topic_matches("sport/tennis/+", "sport/tennis/player2"));
  EXPECT_FALSE(topic_matches("sport/tennis/+", "sport/tennis/player1/ranking"));
  EXPECT_FALSE(topic_matches("sport/+", "sport"));
  EXPECT_TRUE(topic_matches("sport/+", "sport/"));
  EXPECT_TRUE(topic_matches("+/+", "/finance"));
  EXPECT_TRUE(topic_matches("/+", "/finance"));
  EXPECT_FALSE(topic_matches("+", "/finance"));
  EXPECT_TRUE(topic_matches("+", "finance"));
  EXPECT_TRUE(topic_matches("+/tennis/#", "sport/tennis/player1"));
  EXPECT_TRUE(topic_matches("a/+/c", "a//c"));
}

TEST(MqttTopicMatch, DoesNotMatchDollarTopicsWithLeadingWildcards) {
  // §4.7.2 [MQTT-4.7.2-1]
  EXPECT_FALSE(topic_matches("#", "$SYS/monitor/Clients"));
  EXPECT_FALSE(topic_matches("+/monitor/Clients", "$SYS/monitor/Clients"));
  EXPECT_TRUE(topic_matches("$SYS/#", "$SYS/monitor/Clients"));
  EXPECT_TRUE(topic_matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
  EXPECT_TRUE(topic_matches("$iothub/twin/res/#", "$iothub/twin/res/200/?$rid=1"));
  EXPECT_FALSE(topic_matches("#", "$iothub/methods/POST/m/?$rid=1"));
}

TEST(MqttTopicMatch, ComparesLevelsExactlyWithoutNormalising) {
  // [MQTT-4.7.3-4]: case and trailing separators matter.
  EXPECT_TRUE(topic_matches("a/b", "a/b"));
  EXPECT_FALSE(topic_matches("a/b", "A/b"));
  EXPECT_FALSE(topic_matches("a/b", "a/b/"));
  EXPECT_FALSE(topic_matches("a/b/", "a/b"));
  EXPECT_FALSE(topic_matches("a/b", "a/bc"));
  EXPECT_FALSE(topic_matches("a/bc", "a/b"));
  EXPECT_FALSE(topic_matches("a", "a/b"));
  EXPECT_TRUE(topic_matches("/", "/"));
  EXPECT_FALSE(topic_matches("", "a"));
  EXPECT_FALSE(topic_matches("a", ""));
}

TEST(MqttTopicMatch, MatchesIotHubSubscriptions) {
  EXPECT_TRUE(topic_matches("devices/dev1/messages/devicebound/#",
                            "devices/dev1/messages/devicebound/%24.mid=1&k=v"));
  EXPECT_TRUE(topic_matches("devices/edge1/modules/modB/#",
                            "devices/edge1/modules/modB/inputs/input1/%24.cdid=edge1"));
  EXPECT_TRUE(topic_matches("$iothub/methods/POST/#", "$iothub/methods/POST/echo/?$rid=1"));
  EXPECT_FALSE(
      topic_matches("devices/dev1/messages/devicebound/#", "devices/dev2/messages/devicebound/"));
}

} // namespace
} // namespace outpost::mqtt
