#include "protocols/iothub/identity.hpp"

#include "protocols/iothub/detail/text.hpp"
#include "protocols/iothub/encoding.hpp"

#include <optional>
#include <utility>
#include <vector>

namespace outpost::iothub {
namespace {

constexpr std::size_t max_id_length = 128;
constexpr std::string_view device_id_symbols = "-.%_*?!(),:=@$'";
constexpr std::string_view module_id_symbols = "-.%_*?!(),:=@$'+#";
constexpr std::string_view legacy_azure_ml_suffix =
    "/api-version=2017-06-30/DeviceClientType=Microsoft.Azure.Devices.Client/1.5.1-preview-003";

bool is_valid_id(std::string_view id, std::string_view symbols) noexcept {
  if (id.empty() || id.size() > max_id_length) {
    return false;
  }
  for (const char c : id) {
    const bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && symbols.find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

using query_params = std::vector<std::pair<std::string_view, std::string>>;

/// `name[=value]` pairs joined by `&`; the first occurrence of a name wins (MqttUsernameParser).
query_params parse_query(std::string_view query) {
  query_params params;
  for (const std::string_view part : detail::split(query, '&')) {
    const auto eq = part.find('=');
    const std::string_view name = part.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : part.substr(eq + 1);
    bool seen = false;
    for (const auto& p : params) {
      seen = seen || p.first == name;
    }
    if (!seen) {
      params.emplace_back(name, percent_decode(value));
    }
  }
  return params;
}

std::optional<std::string> find_param(const query_params& params, std::string_view name) {
  for (const auto& p : params) {
    if (p.first == name) {
      return p.second;
    }
  }
  return std::nullopt;
}

/// The Azure ML container's old client separates DeviceClientType with '/' (edgeHub
/// special-cases exactly this api-version and client version, case-insensitively).
bool is_legacy_azure_ml(std::string_view username) noexcept {
  const auto n = legacy_azure_ml_suffix.size();
  return username.size() >= n
         && detail::iequals(username.substr(username.size() - n), legacy_azure_ml_suffix);
}

/// The id segments and the query of a username, before validation.
struct username_parts {
  std::string_view device;
  std::string_view module;
  query_params params;
};

std::optional<username_parts> split_username(std::string_view username) {
  const auto segments = detail::split(username, '/');
  const std::size_t n = segments.size();
  const std::string_view last = segments.back();
  if (detail::starts_with(last, "?") || last.find("api-version=") != std::string_view::npos) {
    if (n != 3 && n != 4) {
      return std::nullopt;
    }
    const std::string_view query = detail::starts_with(last, "?") ? last.substr(1) : last;
    return username_parts{detail::trim(segments[1]), n == 4 ? detail::trim(segments[2]) : "",
                          parse_query(detail::trim(query))};
  }
  if (n == 6 && is_legacy_azure_ml(username)) {
    return username_parts{
        detail::trim(segments[1]),
        detail::trim(segments[2]),
        {{"api-version", "2017-06-30"},
         {"DeviceClientType", "Microsoft.Azure.Devices.Client/1.5.1-preview-003"}}};
  }
  return std::nullopt;
}

} // namespace

std::string client_identity::id() const {
  return module_id.empty() ? device_id : device_id + "/" + module_id;
}

bool is_valid_device_id(std::string_view id) noexcept {
  return is_valid_id(id, device_id_symbols);
}

bool is_valid_module_id(std::string_view id) noexcept {
  return is_valid_id(id, module_id_symbols);
}

result<client_identity> parse_client_id(std::string_view client_id) {
  const auto slash = client_id.find('/');
  const std::string_view device = client_id.substr(0, slash);
  const std::string_view module =
      slash == std::string_view::npos ? std::string_view{} : client_id.substr(slash + 1);
  if (!is_valid_device_id(device)) {
    return errc::bad_client_id;
  }
  if (slash != std::string_view::npos && !is_valid_module_id(module)) {
    return errc::bad_client_id; // also refuses a second '/', which no id may contain
  }
  return client_identity{std::string{device}, std::string{module}};
}

result<username_info> parse_username(std::string_view username) {
  if (detail::is_blank(username)) {
    return errc::bad_username;
  }
  auto parts = split_username(username);
  if (!parts) {
    return errc::bad_username;
  }
  auto api_version = find_param(parts->params, "api-version");
  if (!api_version || detail::is_blank(*api_version)) {
    return errc::bad_username;
  }
  if (!is_valid_device_id(parts->device)
      || (!parts->module.empty() && !is_valid_module_id(parts->module))) {
    return errc::bad_username;
  }
  username_info info;
  info.host = std::string{detail::split(username, '/').front()};
  info.who = client_identity{std::string{parts->device}, std::string{parts->module}};
  info.api_version = std::move(*api_version);
  info.client_type = find_param(parts->params, "DeviceClientType").value_or("");
  auto model_id = find_param(parts->params, "model-id");
  if (model_id && !detail::is_blank(*model_id)) {
    info.model_id = std::move(*model_id);
  }
  return info;
}

} // namespace outpost::iothub
