#include "protocols/iothub/property_bag.hpp"

#include "protocols/iothub/encoding.hpp"

#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace outpost::iothub {
namespace {

using routing::system_property;

struct wire_name {
  std::string_view key;
  system_property property;
};

// Facts §3.5 (edgeHub SystemProperties.IncomingSystemPropertiesMap + $.sub).
constexpr wire_name inbound_names[] = {
    {"$.mid", system_property::message_id},
    {"$.cid", system_property::correlation_id},
    {"$.to", system_property::to},
    {"$.uid", system_property::user_id},
    {"$.exp", system_property::absolute_expiry_time},
    {"$.ct", system_property::content_type},
    {"$.ce", system_property::content_encoding},
    {"$.schema", system_property::message_schema},
    {"$.ctime", system_property::creation_time},
    {"$.on", system_property::output_name},
    {"$.ifid", system_property::interface_id},
    {"$.sub", system_property::component_name},
    {"iothub-operation", system_property::operation},
    {"ack", system_property::ack},
};

// Facts §3.5 direction "out", in the order they are written (before application properties).
constexpr wire_name outbound_names[] = {
    {"$.mid", system_property::message_id},
    {"$.cid", system_property::correlation_id},
    {"$.to", system_property::to},
    {"$.uid", system_property::user_id},
    {"$.exp", system_property::absolute_expiry_time},
    {"$.ct", system_property::content_type},
    {"$.ce", system_property::content_encoding},
    {"$.schema", system_property::message_schema},
    {"$.ctime", system_property::creation_time},
    {"$.sub", system_property::component_name},
    {"iothub-operation", system_property::operation},
    {"ack", system_property::ack},
};

// Written after the application properties (azure-sdk-wire.md §2.4 module input example).
constexpr wire_name sender_names[] = {
    {"$.cdid", system_property::connection_device_id},
    {"$.cmid", system_property::connection_module_id},
};

/// Raw `?` characters are dropped from tokens (UrlEncodedDictionarySerializer.CreateToken).
std::string unescape_token(std::string_view raw) {
  std::string without_question_marks;
  without_question_marks.reserve(raw.size());
  for (const char c : raw) {
    if (c != '?') {
      without_question_marks.push_back(c);
    }
  }
  return percent_decode(without_question_marks);
}

/// Where each application property already is, so a repeated key is found in O(1): a bag of n
/// keys decodes in O(n), not O(n^2) (16,000 keys once cost 0.43 s of a scheduler thread).
using property_index = std::unordered_map<std::string, std::size_t>;

void set_application_property(routing::message& m, property_index& index, std::string key,
                              std::string value) {
  if (auto i = index.find(key); i != index.end()) {
    m.properties[i->second].second = std::move(value);
    return;
  }
  index.emplace(key, m.properties.size());
  m.properties.emplace_back(std::move(key), std::move(value));
}

void add_pair(std::string_view raw_key, std::string_view raw_value, routing::message& into,
              property_index& index) {
  std::string key = unescape_token(raw_key);
  if (key.empty()) {
    return; // only '?' characters: nothing left to name
  }
  std::string value = unescape_token(raw_value);
  if (auto p = inbound_system_property(key)) {
    into.set(*p, std::move(value));
  } else {
    set_application_property(into, index, std::move(key), std::move(value));
  }
}

/// The ProtocolGateway tokenizer as a state machine, one function per state. `feed` returns
/// false on a syntax error; the end of the bag is fed as a final '&'.
class bag_tokenizer {
public:
  bag_tokenizer(std::string_view bag, routing::message& into) : bag_(bag), into_(into) {
    for (std::size_t i = 0; i < into_.properties.size(); ++i) {
      index_.emplace(into_.properties[i].first, i);
    }
  }

  bool run() {
    for (pos_ = 0; pos_ <= bag_.size(); ++pos_) {
      const char c = pos_ < bag_.size() ? bag_[pos_] : '&';
      if (c == '/' || !feed(c)) {
        return false; // '/' only ends a bag, and the caller strips the trailing one
      }
    }
    return state_ == state::ready_for_key;
  }

private:
  enum class state : std::uint8_t { ready_for_key, key, value };

  bool feed(char c) {
    switch (state_) {
      case state::ready_for_key:
        return on_ready_for_key(c);
      case state::key:
        return on_key(c);
      case state::value:
        return on_value(c);
    }
    return false;
  }

  bool on_ready_for_key(char c) {
    if (c == '=' || c == '&') {
      return false; // empty key: "=v", "&&", a leading or a trailing '&'
    }
    state_ = state::key;
    start_ = pos_;
    return true;
  }

  bool on_key(char c) {
    if (c == '=') {
      key_ = bag_.substr(start_, pos_ - start_);
      state_ = state::value;
      start_ = pos_ + 1;
    } else if (c == '&') {
      state_ = state::ready_for_key;
      return add(bag_.substr(start_, pos_ - start_), {});
    }
    return true;
  }

  bool on_value(char c) {
    if (c == '=') {
      return false; // a raw '=' inside a value
    }
    if (c == '&') {
      state_ = state::ready_for_key;
      return add(key_, bag_.substr(start_, pos_ - start_));
    }
    return true;
  }

  /// One more pair; false past `max_bag_properties`.
  bool add(std::string_view key, std::string_view value) {
    if (++pairs_ > max_bag_properties) {
      too_many_ = true;
      return false;
    }
    add_pair(key, value, into_, index_);
    return true;
  }

public:
  bool too_many() const noexcept { return too_many_; }

private:
  std::string_view bag_;
  routing::message& into_;
  property_index index_;
  std::size_t pairs_ = 0;
  bool too_many_ = false;
  state state_ = state::ready_for_key;
  std::size_t pos_ = 0;
  std::size_t start_ = 0;
  std::string_view key_;
};

using wire_pairs = std::vector<std::pair<std::string_view, std::string_view>>;

template <std::size_t N>
void add_system_pairs(const routing::message& m, const wire_name (&names)[N], wire_pairs& out) {
  for (const auto& n : names) {
    if (auto v = m.get(n.property)) {
      out.emplace_back(n.key, *v);
    }
  }
}

} // namespace

std::optional<system_property> inbound_system_property(std::string_view key) noexcept {
  for (const auto& n : inbound_names) {
    if (n.key == key) {
      return n.property;
    }
  }
  return std::nullopt;
}

result<void> decode_property_bag(std::string_view bag, routing::message& into) {
  if (!bag.empty() && bag.back() == '/') {
    bag.remove_suffix(1);
  }
  if (bag.empty()) {
    return ok();
  }
  bag_tokenizer tokens{bag, into};
  if (!tokens.run()) {
    return tokens.too_many() ? errc::too_many_properties : errc::bad_property_bag;
  }
  return ok();
}

std::string encode_property_bag(const routing::message& m, bool outbound_to_module) {
  wire_pairs system;
  add_system_pairs(m, outbound_names, system);
  wire_pairs sender;
  if (outbound_to_module) {
    add_system_pairs(m, sender_names, sender);
  }
  wire_pairs pairs = system;
  // Names already written: system and sender keys, then each application name once (a set,
  // so a message with many properties encodes in linear time).
  std::unordered_set<std::string_view> written;
  for (const auto& p : system) {
    written.insert(p.first);
  }
  for (const auto& p : sender) {
    written.insert(p.first);
  }
  for (const auto& [k, v] : m.properties) {
    if (written.insert(k).second) {
      pairs.emplace_back(k, v);
    }
  }
  pairs.insert(pairs.end(), sender.begin(), sender.end());
  std::string bag;
  for (const auto& [k, v] : pairs) {
    if (!bag.empty()) {
      bag += '&';
    }
    bag += percent_encode(k);
    bag += '=';
    bag += percent_encode(v);
  }
  return bag;
}

} // namespace outpost::iothub
