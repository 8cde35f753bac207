#pragma once

#include "routing/model/message.hpp"
#include "routing/query/json_path.hpp"
#include "routing/query/value.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::routing {

/// Reusable buffers for evaluating conditions: the JSON parser and its document, a padded copy
/// of the body, a transcoding buffer for UTF-16/32 bodies and a pool for strings made during
/// evaluation (concat, lower, ..., strings read from the body).
/// Allocates on first use only, so steady-state evaluation does not allocate. Owned by one
/// thread at a time; at most one `eval_context` may use it at once.
class evaluation_scratch {
public:
  evaluation_scratch();
  ~evaluation_scratch();
  evaluation_scratch(const evaluation_scratch&) = delete;
  evaluation_scratch& operator=(const evaluation_scratch&) = delete;

  struct impl;
  impl& get() noexcept { return *impl_; }

private:
  std::unique_ptr<impl> impl_;
};

/// The calling thread's scratch (thread_local): what `route_table::match` uses by default.
evaluation_scratch& thread_scratch();

/// What a `$body` path found.
enum class body_status : std::uint8_t {
  unavailable, ///< the body is not JSON: content type/encoding not JSON, or unparseable
  missing,     ///< the body is JSON but the path leads nowhere
  scalar,      ///< a string, number, bool or null (in `value`)
  container,   ///< an object or an array (IoT Edge makes that undefined)
};

struct body_lookup {
  body_status status = body_status::unavailable;
  value found;
};

/// The state of evaluating conditions against one message: property lookups, the body parsed
/// at most once (on first use), strings made during evaluation. Lives on the stack of one
/// `match` / `explain` call; values it returns are valid until it is destroyed.
class eval_context {
public:
  eval_context(const message& m, evaluation_scratch& scratch) noexcept;
  ~eval_context() = default;
  eval_context(const eval_context&) = delete;
  eval_context& operator=(const eval_context&) = delete;

  const message& msg() const noexcept { return *m_; }

  /// Application property `name`, compared case-insensitively (first match).
  std::optional<std::string_view> app_property(std::string_view name) const noexcept;
  /// System property `p`, if set.
  std::optional<std::string_view> sys_property(system_property p) const noexcept {
    return m_->get(p);
  }

  /// Looks `path` up in the body. The body is used only when the system properties say
  /// contentType application/json (any case) and contentEncoding utf-8, utf-16 or utf-32
  /// (iotedge-facts §5.3) and its top level is an object. The body is indexed once per
  /// context and each distinct path is followed once (memoised); only the values on the path
  /// are parsed.
  body_lookup body(const json_path& path);
  /// Whether the body is usable JSON (parses it if not done yet).
  bool body_is_json();

  /// Moves `s` into the pool and returns a view valid for this context's lifetime.
  std::string_view keep(std::string&& s);
  /// A cleared pooled string to build a result in; `commit` turns it into a view.
  std::string& scratch_string();
  std::string_view commit_scratch_string();

private:
  enum class body_state : std::uint8_t { unknown, unavailable, parsed };

  bool load_body();
  body_lookup lookup(const json_path& path);

  const message* m_;
  evaluation_scratch::impl* s_;
  body_state body_state_ = body_state::unknown;
};

} // namespace outpost::routing
