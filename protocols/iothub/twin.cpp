#include "protocols/iothub/twin.hpp"

#include "protocols/iothub/encoding.hpp"

#include <nlohmann/json.hpp>

#include <cmath>

namespace outpost::iothub {

namespace {

using json = nlohmann::json;

/// IoT Hub's safe integer range for twin values: what a double holds exactly.
constexpr std::int64_t max_safe = (std::int64_t{1} << 52) - 1;
constexpr std::int64_t min_safe = -(std::int64_t{1} << 52);

/// The format of `twin::save`; a document of another format is not loaded.
constexpr int save_format = 1;

struct section {
  json props = json::object();
  json meta = json::object();
  std::int64_t version = 1;
};

hub_error invalid(std::string message) {
  return hub_error{400, 400004, std::move(message)};
}

std::optional<json> parse_object(std::string_view text, std::string& why) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) {
    why = "the body is not valid JSON";
    return std::nullopt;
  }
  if (!doc.is_object()) {
    why = "the body must be a JSON object";
    return std::nullopt;
  }
  return doc;
}

/// Property names: IoT Hub excludes control characters (C0, DEL, C1), whitespace, '.', '$'
/// and '#' (edgeHub's validator adds '#'), and allows at most 1 KiB of UTF-8.
std::optional<std::string> bad_name(std::string_view name, const twin_limits& limits) {
  if (name.empty()) {
    return "a property name is empty";
  }
  if (name.size() > limits.max_name_bytes) {
    return "property name longer than " + std::to_string(limits.max_name_bytes) + " bytes";
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool c1 = c == 0xC2 && i + 1 < name.size()
                    && static_cast<unsigned char>(name[i + 1]) >= 0x80
                    && static_cast<unsigned char>(name[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1 || c == ' ' || c == '.' || c == '$' || c == '#') {
      return "property name '" + std::string{name.substr(0, 64)}
             + "' contains a character IoT Hub does not allow (control, space, '.', '$' or '#')";
    }
  }
  return std::nullopt;
}

/// Checks one value of a patch at nesting `depth` (the section's own keys are at depth 1).
std::optional<std::string> bad_value(const json& v, std::size_t depth, bool null_ok,
                                     const twin_limits& limits);

std::optional<std::string> bad_members(const json& obj, std::size_t depth, bool null_ok,
                                       const twin_limits& limits) {
  if (depth > limits.max_depth) {
    return "properties are nested deeper than " + std::to_string(limits.max_depth) + " levels";
  }
  for (const auto& [k, v] : obj.items()) {
    if (auto why = bad_name(k, limits)) {
      return why;
    }
    if (auto why = bad_value(v, depth, null_ok, limits)) {
      return why;
    }
  }
  return std::nullopt;
}

std::optional<std::string> bad_value(const json& v, std::size_t depth, bool null_ok,
                                     const twin_limits& limits) {
  switch (v.type()) {
    case json::value_t::null:
      if (!null_ok) {
        return "null is not allowed here (arrays and documents cannot hold null)";
      }
      return std::nullopt;
    case json::value_t::boolean:
      return std::nullopt;
    case json::value_t::number_integer:
      if (v.get<std::int64_t>() < min_safe || v.get<std::int64_t>() > max_safe) {
        return "integer outside IoT Hub's range -2^52..2^52-1";
      }
      return std::nullopt;
    case json::value_t::number_unsigned:
      if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(max_safe)) {
        return "integer outside IoT Hub's range -2^52..2^52-1";
      }
      return std::nullopt;
    case json::value_t::number_float:
      if (!std::isfinite(v.get<double>())) {
        return "a number is not finite";
      }
      return std::nullopt;
    case json::value_t::string:
      if (v.get_ref<const std::string&>().size() > limits.max_string_bytes) {
        return "string value longer than " + std::to_string(limits.max_string_bytes) + " bytes";
      }
      return std::nullopt;
    case json::value_t::object:
      return bad_members(v, depth + 1, null_ok, limits);
    case json::value_t::array:
      for (const auto& e : v) {
        if (auto why = bad_value(e, depth + 1, false, limits)) {
          return why;
        }
      }
      return std::nullopt;
    default:
      return "a value of a type IoT Hub does not allow";
  }
}

std::optional<hub_error> check_patch(const json& patch, bool null_ok, const twin_limits& limits) {
  if (auto why = bad_members(patch, 1, null_ok, limits)) {
    return invalid(*why);
  }
  return std::nullopt;
}

/// RFC 7396 merge of `patch` into `target`, stamping `meta` on every node it touches.
void merge(json& target, json& meta, const json& patch, std::string_view now,
           std::optional<std::int64_t> version) {
  for (const auto& [k, v] : patch.items()) {
    if (v.is_null()) {
      target.erase(k);
      meta.erase(k);
    } else if (v.is_object()) {
      auto& t = target[k];
      auto& m = meta[k];
      if (!t.is_object()) {
        t = json::object();
        m = json::object();
      }
      merge(t, m, v, now, version);
    } else {
      target[k] = v;
      auto& m = meta[k];
      m = json::object();
      m["$lastUpdated"] = now;
      if (version) {
        m["$lastUpdatedVersion"] = *version;
      }
    }
  }
  meta["$lastUpdated"] = now;
  if (version) {
    meta["$lastUpdatedVersion"] = *version;
  }
}

std::optional<hub_error> check_size(const json& props, const char* what,
                                    const twin_limits& limits) {
  if (props.dump().size() > limits.max_section_bytes) {
    return invalid(std::string{what} + " would exceed " + std::to_string(limits.max_section_bytes)
                   + " bytes");
  }
  return std::nullopt;
}

json section_json(const section& s, bool with_meta) {
  json out = s.props;
  if (with_meta) {
    out["$metadata"] = s.meta;
  }
  out["$version"] = s.version;
  return out;
}

json save_section(const section& s) {
  return json{{"p", s.props}, {"m", s.meta}, {"v", s.version}};
}

bool load_section(const json& j, section& s) {
  if (!j.is_object() || !j.contains("p") || !j["p"].is_object() || !j.contains("m")
      || !j["m"].is_object() || !j.contains("v") || !j["v"].is_number_integer()) {
    return false;
  }
  s.props = j["p"];
  s.meta = j["m"];
  s.version = j["v"].get<std::int64_t>();
  return true;
}

} // namespace

struct twin::impl {
  json tags = json::object();
  section desired;
  section reported;
  std::int64_t version = 1;

  /// Validates and applies a desired patch; fills `pushed`.
  std::optional<hub_error> patch_desired(const json& patch, std::string_view now,
                                         std::string& pushed, const twin_limits& limits) {
    if (auto e = check_patch(patch, true, limits)) {
      return e;
    }
    section next = desired;
    ++next.version;
    merge(next.props, next.meta, patch, now, next.version);
    if (auto e = check_size(next.props, "the desired properties", limits)) {
      return e;
    }
    desired = std::move(next);
    ++version;
    json out = patch;
    out["$version"] = desired.version;
    pushed = out.dump();
    return std::nullopt;
  }

  std::optional<hub_error> check_tags(const json& t, bool null_ok, const twin_limits& limits) {
    if (!t.is_object()) {
      return invalid("tags must be a JSON object");
    }
    return check_patch(t, null_ok, limits);
  }
};

twin::twin() : impl_(std::make_unique<impl>()) {}
twin::~twin() = default;
twin::twin(const twin& other) : impl_(std::make_unique<impl>(*other.impl_)) {}
twin& twin::operator=(const twin& other) {
  if (this != &other) {
    impl_ = std::make_unique<impl>(*other.impl_);
  }
  return *this;
}
twin::twin(twin&&) noexcept = default;
twin& twin::operator=(twin&&) noexcept = default;

std::optional<twin> twin::load(std::string_view stored) {
  json j = json::parse(stored, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", 0) != save_format
      || !j.contains("version") || !j["version"].is_number_integer() || !j.contains("tags")
      || !j["tags"].is_object() || !j.contains("desired") || !j.contains("reported")) {
    return std::nullopt;
  }
  twin t;
  t.impl_->tags = j["tags"];
  t.impl_->version = j["version"].get<std::int64_t>();
  if (!load_section(j["desired"], t.impl_->desired)
      || !load_section(j["reported"], t.impl_->reported)) {
    return std::nullopt;
  }
  return t;
}

std::string twin::save() const {
  return json{{"format", save_format},
              {"version", impl_->version},
              {"tags", impl_->tags},
              {"desired", save_section(impl_->desired)},
              {"reported", save_section(impl_->reported)}}
      .dump();
}

std::optional<hub_error> twin::patch_reported(std::string_view patch, std::string_view now,
                                              const twin_limits& limits) {
  std::string why;
  auto doc = parse_object(patch, why);
  if (!doc) {
    return invalid(why);
  }
  if (auto e = check_patch(*doc, true, limits)) {
    return e;
  }
  section next = impl_->reported;
  ++next.version;
  merge(next.props, next.meta, *doc, now, std::nullopt);
  if (auto e = check_size(next.props, "the reported properties", limits)) {
    return e;
  }
  impl_->reported = std::move(next);
  ++impl_->version;
  return std::nullopt;
}

std::optional<hub_error> twin::patch_desired(std::string_view patch, std::string_view now,
                                             std::string& pushed, const twin_limits& limits) {
  std::string why;
  auto doc = parse_object(patch, why);
  if (!doc) {
    return invalid(why);
  }
  return impl_->patch_desired(*doc, now, pushed, limits);
}

std::optional<hub_error> twin::update(std::string_view body, std::string_view now,
                                      std::string& pushed, const twin_limits& limits) {
  pushed.clear();
  std::string why;
  auto doc = parse_object(body, why);
  if (!doc) {
    return invalid(why);
  }
  const json* tags = doc->contains("tags") ? &(*doc)["tags"] : nullptr;
  const json* desired = nullptr;
  if (doc->contains("properties")) {
    const auto& props = (*doc)["properties"];
    if (!props.is_object()) {
      return invalid("properties must be a JSON object");
    }
    if (props.contains("reported")) {
      return invalid("reported properties are written by the device, not the service");
    }
    if (props.contains("desired")) {
      desired = &props["desired"];
      if (!desired->is_object()) {
        return invalid("properties.desired must be a JSON object");
      }
    }
  }
  // Both parts are checked before either is applied: a refused update changes nothing.
  if (tags) {
    if (auto e = impl_->check_tags(*tags, true, limits)) {
      return e;
    }
  }
  if (desired) {
    if (auto e = check_patch(*desired, true, limits)) {
      return e;
    }
  }
  json next_tags = impl_->tags;
  if (tags) {
    next_tags.merge_patch(*tags);
    if (auto e = check_size(next_tags, "the tags", limits)) {
      return e;
    }
  }
  if (desired && !desired->empty()) {
    if (auto e = impl_->patch_desired(*desired, now, pushed, limits)) {
      return e;
    }
  }
  if (tags) {
    impl_->tags = std::move(next_tags);
    ++impl_->version;
  }
  return std::nullopt;
}

std::optional<hub_error> twin::replace(std::string_view body, std::string_view now,
                                       std::string& pushed, const twin_limits& limits) {
  std::string why;
  auto doc = parse_object(body, why);
  if (!doc) {
    return invalid(why);
  }
  json tags = doc->contains("tags") ? (*doc)["tags"] : json::object();
  json desired = json::object();
  if (doc->contains("properties") && (*doc)["properties"].is_object()
      && (*doc)["properties"].contains("desired")) {
    desired = (*doc)["properties"]["desired"];
  }
  if (auto e = impl_->check_tags(tags, false, limits)) {
    return e;
  }
  if (!desired.is_object()) {
    return invalid("properties.desired must be a JSON object");
  }
  desired.erase("$metadata");
  desired.erase("$version");
  if (auto e = check_patch(desired, false, limits)) {
    return e;
  }
  if (auto e = check_size(desired, "the desired properties", limits)) {
    return e;
  }
  section next;
  next.version = impl_->desired.version + 1;
  merge(next.props, next.meta, desired, now, next.version);
  impl_->tags = std::move(tags);
  impl_->desired = std::move(next);
  impl_->version += 1;
  pushed = section_json(impl_->desired, false).dump();
  return std::nullopt;
}

std::int64_t twin::desired_version() const noexcept {
  return impl_->desired.version;
}

std::int64_t twin::reported_version() const noexcept {
  return impl_->reported.version;
}

std::int64_t twin::version() const noexcept {
  return impl_->version;
}

std::string twin::etag() const {
  std::string be(8, '\0');
  auto v = static_cast<std::uint64_t>(impl_->version);
  for (int i = 7; i >= 0; --i, v >>= 8) {
    be[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xFF);
  }
  return base64_encode(be);
}

std::string twin::device_json() const {
  return json{{"desired", section_json(impl_->desired, false)},
              {"reported", section_json(impl_->reported, false)}}
      .dump();
}

std::string twin::desired_json() const {
  return section_json(impl_->desired, false).dump();
}

std::string twin::service_json(std::string_view device_id, std::string_view module_id) const {
  json out;
  out["deviceId"] = device_id;
  if (!module_id.empty()) {
    out["moduleId"] = module_id;
  }
  out["etag"] = etag();
  out["status"] = "enabled";
  out["version"] = impl_->version;
  out["tags"] = impl_->tags;
  out["properties"] = json{{"desired", section_json(impl_->desired, true)},
                           {"reported", section_json(impl_->reported, true)}};
  return out.dump();
}

namespace {

json merge_diff(const json& from, const json& to) {
  json patch = json::object();
  for (const auto& [k, v] : from.items()) {
    if (!to.contains(k)) {
      patch[k] = nullptr;
    }
  }
  for (const auto& [k, v] : to.items()) {
    auto it = from.find(k);
    if (it == from.end()) {
      patch[k] = v;
    } else if (*it != v) {
      patch[k] = it->is_object() && v.is_object() ? merge_diff(*it, v) : v;
    }
  }
  return patch;
}

} // namespace

std::optional<std::string> merge_patch_between(std::string_view from, std::string_view to) {
  auto a = json::parse(from, nullptr, false);
  auto b = json::parse(to, nullptr, false);
  if (!a.is_object() || !b.is_object()) {
    return std::nullopt;
  }
  for (auto* j : {&a, &b}) {
    j->erase("$metadata");
    j->erase("$version");
  }
  auto patch = merge_diff(a, b);
  if (patch.empty()) {
    return std::nullopt;
  }
  return patch.dump();
}

} // namespace outpost::iothub
