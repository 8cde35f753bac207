#include "routing/query/evaluation.hpp"

#include "routing/query/text.hpp"

#include <array>
#include <deque>

#include <simdjson.h>

namespace outpost::routing {

struct evaluation_scratch::impl {
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  std::string padded;              // the JSON text with SIMDJSON_PADDING bytes of spare capacity
  std::string transcoded;          // UTF-16/32 bodies as UTF-8
  std::deque<std::string> strings; // deque: growing never moves the strings handed out
  std::size_t strings_used = 0;
  /// $body lookups already done for the current message, by path text.
  struct memo {
    const json_path* path;
    body_lookup result;
  };
  std::array<memo, 8> memos;
  std::size_t memo_count = 0;
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
  s_->memo_count = 0;
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
  // On-demand parsing: stage 1 indexes the whole text (and validates its UTF-8); paths are
  // then followed lazily, so values never read are never parsed.
  auto& buf = s_->padded;
  buf.clear();
  buf.reserve(json.size() + simdjson::SIMDJSON_PADDING);
  buf.append(json);
  if (s_->parser.iterate(buf.data(), buf.size(), buf.capacity()).get(s_->doc)
      != simdjson::SUCCESS) {
    return false;
  }
  // JObject.Parse: the top level must be an object.
  simdjson::ondemand::json_type root_type{};
  return s_->doc.type().get(root_type) == simdjson::SUCCESS
         && root_type == simdjson::ondemand::json_type::object;
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
  for (std::size_t i = 0; i < s_->memo_count; ++i) {
    const auto& memo = s_->memos[i];
    if (memo.path == &path || memo.path->text == path.text) {
      return memo.result;
    }
  }
  const body_lookup result = lookup(path);
  if (s_->memo_count < s_->memos.size()) {
    s_->memos[s_->memo_count++] = {&path, result};
  }
  return result;
}

body_lookup eval_context::lookup(const json_path& path) {
  using simdjson::SUCCESS;
  namespace od = simdjson::ondemand;
  const body_lookup missing{body_status::missing, {}};
  // Errors other than a missing member or a wrong type mean the text is not valid JSON where
  // the path goes: the body is unusable, as a failed JObject.Parse is in IoT Edge.
  const auto broken = [this](simdjson::error_code e) {
    const bool malformed = e != simdjson::NO_SUCH_FIELD && e != simdjson::INCORRECT_TYPE
                           && e != simdjson::INDEX_OUT_OF_BOUNDS && e != simdjson::OUT_OF_BOUNDS;
    if (malformed) {
      body_state_ = body_state::unavailable; // later paths see the same: not JSON
    }
    return malformed;
  };
  if (!s_->doc.is_alive()) {
    // An earlier lookup hit malformed JSON and simdjson abandoned the document: the body
    // is not valid JSON where paths go, so it is unusable for this message.
    body_state_ = body_state::unavailable;
    return {};
  }
  s_->doc.rewind();
  od::value cur;
  bool at_root = true;
  for (const auto& seg : path.segments) {
    od::object obj;
    const auto e1 = at_root ? s_->doc.get_object().get(obj) : cur.get_object().get(obj);
    at_root = false;
    if (e1 != SUCCESS) {
      return broken(e1) ? body_lookup{} : missing;
    }
    if (const auto e2 = obj.find_field(seg.key).get(cur); e2 != SUCCESS) {
      return broken(e2) ? body_lookup{} : missing;
    }
    if (seg.index >= 0) {
      od::array arr;
      if (const auto e3 = cur.get_array().get(arr); e3 != SUCCESS) {
        return broken(e3) ? body_lookup{} : missing;
      }
      if (const auto e4 = arr.at(static_cast<std::size_t>(seg.index)).get(cur); e4 != SUCCESS) {
        return broken(e4) ? body_lookup{} : missing;
      }
    }
  }
  od::json_type type{};
  if (cur.type().get(type) != SUCCESS) {
    return {};
  }
  switch (type) {
    case od::json_type::object:
    case od::json_type::array:
      return {body_status::container, {}};
    case od::json_type::number: {
      double d = 0;
      if (cur.get_double().get(d) != SUCCESS) {
        return {};
      }
      return {body_status::scalar, value::of(d)};
    }
    case od::json_type::string: {
      std::string_view sv;
      if (cur.get_string().get(sv) != SUCCESS) {
        return {};
      }
      // The parser reuses its string buffer on the next lookup: keep a copy.
      scratch_string().assign(sv);
      return {body_status::scalar, value::of(commit_scratch_string())};
    }
    case od::json_type::boolean: {
      bool b = false;
      if (cur.get_bool().get(b) != SUCCESS) {
        return {};
      }
      return {body_status::scalar, value::of(b)};
    }
    case od::json_type::null: {
      bool is_null = false;
      if (cur.is_null().get(is_null) != SUCCESS || !is_null) {
        return {};
      }
      return {body_status::scalar, value::null()};
    }
  }
  return {};
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
