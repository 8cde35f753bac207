#include "routing/query/evaluation.hpp"

#include "routing/query/text.hpp"

#include <deque>

#include <simdjson.h>

namespace outpost::routing {

struct evaluation_scratch::impl {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string transcoded;
  std::deque<std::string> strings; // deque: growing never moves the strings already handed out
  std::size_t strings_used = 0;
};

evaluation_scratch::evaluation_scratch() : impl_(std::make_unique<impl>()) {}

evaluation_scratch::~evaluation_scratch() = default;

evaluation_scratch& thread_scratch() {
  thread_local evaluation_scratch scratch;
  return scratch;
}

eval_context::eval_context(const message& m, evaluation_scratch& scratch) noexcept
    : m_(&m),
      s_(&scratch.get()) {
  s_->strings_used = 0;
}

std::optional<std::string_view> eval_context::app_property(std::string_view name) const noexcept {
  for (const auto& [k, v] : m_->properties) {
    if (text::iequals(k, name)) {
      return std::string_view{v};
    }
  }
  return std::nullopt;
}

bool eval_context::load_body() {
  // Message.GetMessageQueryProvider / MessageQueryValueProviderFactory in IoT Edge.
  const auto type = m_->get(system_property::content_type);
  const auto encoding = m_->get(system_property::content_encoding);
  if (!type || !encoding || !text::iequals(*type, "application/json")) {
    return false;
  }
  std::string_view json;
  if (text::iequals(*encoding, "utf-8")) {
    json = m_->body;
    if (json.substr(0, 3) == "\xEF\xBB\xBF") {
      json.remove_prefix(3);
    }
  } else if (text::iequals(*encoding, "utf-16") || text::iequals(*encoding, "utf-32")) {
    const int width = text::iequals(*encoding, "utf-16") ? 2 : 4;
    text::transcode_to_utf8(m_->body, width, s_->transcoded);
    json = s_->transcoded;
  } else {
    return false;
  }
  simdjson::dom::element root;
  const bool padded = json.data() == m_->body.data()
                      && m_->body.capacity() - m_->body.size() >= simdjson::SIMDJSON_PADDING;
  if (s_->parser.parse(json.data(), json.size(), !padded).get(root) != simdjson::SUCCESS) {
    return false;
  }
  // JObject.Parse: the top level must be an object.
  if (root.type() != simdjson::dom::element_type::OBJECT) {
    return false;
  }
  s_->root = root;
  return true;
}

bool eval_context::body_is_json() {
  if (body_state_ == body_state::unknown) {
    body_state_ = load_body() ? body_state::parsed : body_state::unavailable;
  }
  return body_state_ == body_state::parsed;
}

body_lookup eval_context::body(const json_path& path) {
  if (!body_is_json()) {
    return {};
  }
  simdjson::dom::element cur = s_->root;
  for (const auto& seg : path.segments) {
    simdjson::dom::object obj;
    if (cur.get_object().get(obj) != simdjson::SUCCESS
        || obj.at_key(seg.key).get(cur) != simdjson::SUCCESS) {
      return {body_status::missing, {}};
    }
    if (seg.index >= 0) {
      simdjson::dom::array arr;
      if (cur.get_array().get(arr) != simdjson::SUCCESS
          || arr.at(static_cast<std::size_t>(seg.index)).get(cur) != simdjson::SUCCESS) {
        return {body_status::missing, {}};
      }
    }
  }
  switch (cur.type()) {
    case simdjson::dom::element_type::OBJECT:
    case simdjson::dom::element_type::ARRAY:
      return {body_status::container, {}};
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (cur.get_string().get(s) == simdjson::SUCCESS) {
        return {body_status::scalar, value::of(s)};
      }
      break;
    }
    case simdjson::dom::element_type::INT64: {
      std::int64_t i = 0;
      if (cur.get_int64().get(i) == simdjson::SUCCESS) {
        return {body_status::scalar, value::of(static_cast<double>(i))};
      }
      break;
    }
    case simdjson::dom::element_type::UINT64: {
      std::uint64_t u = 0;
      if (cur.get_uint64().get(u) == simdjson::SUCCESS) {
        return {body_status::scalar, value::of(static_cast<double>(u))};
      }
      break;
    }
    case simdjson::dom::element_type::DOUBLE: {
      double d = 0;
      if (cur.get_double().get(d) == simdjson::SUCCESS) {
        return {body_status::scalar, value::of(d)};
      }
      break;
    }
    case simdjson::dom::element_type::BOOL: {
      bool b = false;
      if (cur.get_bool().get(b) == simdjson::SUCCESS) {
        return {body_status::scalar, value::of(b)};
      }
      break;
    }
    case simdjson::dom::element_type::NULL_VALUE:
      return {body_status::scalar, value::null()};
  }
  return {body_status::missing, {}};
}

std::string& eval_context::scratch_string() {
  if (s_->strings_used == s_->strings.size()) {
    s_->strings.emplace_back();
  }
  auto& s = s_->strings[s_->strings_used];
  s.clear();
  return s;
}

std::string_view eval_context::commit_scratch_string() {
  return s_->strings[s_->strings_used++];
}

std::string_view eval_context::keep(std::string&& s) {
  scratch_string() = std::move(s);
  return commit_scratch_string();
}

} // namespace outpost::routing
