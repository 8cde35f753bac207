#pragma once

#include "protocols/iothub/hub_error.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace outpost::iothub {

/// IoT Hub's limits on twin documents (iotedge-facts §3.4, edgeHub's
/// ReportedPropertiesValidator, "taken from IoT Hub"; §10: 32 KiB per section).
struct twin_limits {
  std::size_t max_depth = 10;                ///< objects nested below the section
  std::size_t max_name_bytes = 1024;         ///< a property name, UTF-8 bytes
  std::size_t max_string_bytes = 4096;       ///< a string value, UTF-8 bytes
  std::size_t max_section_bytes = 32 * 1024; ///< desired, reported or tags, serialized
};

/// One identity's twin: `tags`, `properties.desired` and `properties.reported`, each with its
/// `$version`, and `$metadata` (`$lastUpdated` on every node a patch touched; desired nodes
/// also `$lastUpdatedVersion`), as IoT Hub keeps them.
///
/// Pure: no I/O, no clock (callers pass `now` as ISO 8601 UTC text). Patches are JSON merge
/// patches (RFC 7396: `null` deletes a key, objects merge, anything else replaces) and are
/// validated whole before anything changes, so a refused patch leaves the twin as it was.
class twin {
public:
  twin();
  ~twin();
  twin(const twin& other);
  twin& operator=(const twin& other);
  twin(twin&&) noexcept;
  twin& operator=(twin&&) noexcept;

  /// Reads what `save` wrote; nullopt if `stored` is not such a document.
  static std::optional<twin> load(std::string_view stored);
  /// The whole twin as compact JSON (the store's `twins` record body).
  std::string save() const;

  /// A device's reported-properties patch (MQTT `$iothub/twin/PATCH/properties/reported/`).
  /// On success the reported `$version` and the twin's version grow by one.
  std::optional<hub_error> patch_reported(std::string_view patch, std::string_view now,
                                          const twin_limits& limits = {});
  /// A desired-properties patch from the service side. On success `pushed` is what the
  /// identity's clients receive on `$iothub/twin/PATCH/properties/desired/`: the patch with
  /// the new `"$version"`.
  std::optional<hub_error> patch_desired(std::string_view patch, std::string_view now,
                                         std::string& pushed, const twin_limits& limits = {});
  /// A service twin update, `PATCH /twins/{id}`: `{"tags":{..},"properties":{"desired":{..}}}`
  /// (both optional; reported cannot be written this way). `pushed` is as for `patch_desired`,
  /// empty when the desired properties did not change.
  std::optional<hub_error> update(std::string_view body, std::string_view now, std::string& pushed,
                                  const twin_limits& limits = {});
  /// `PUT /twins/{id}`: tags and desired replaced by the body's (missing = emptied).
  std::optional<hub_error> replace(std::string_view body, std::string_view now, std::string& pushed,
                                   const twin_limits& limits = {});

  std::int64_t desired_version() const noexcept;
  std::int64_t reported_version() const noexcept;
  /// Grows with every change of any section (IoT Hub's twin `version`).
  std::int64_t version() const noexcept;
  /// The twin's etag as IoT Hub shows it: base64 of the version, quoted in HTTP headers.
  std::string etag() const;

  /// `{"desired":{...,"$version":n},"reported":{...,"$version":m}}`: the MQTT GET answer
  /// (no `$metadata`, as IoT Hub sends devices).
  std::string device_json() const;
  /// The service view, `GET /twins/{d}[/modules/{m}]`: ids, etag, version, tags and the
  /// properties with `$metadata` and `$version`.
  std::string service_json(std::string_view device_id, std::string_view module_id) const;
  /// The desired properties alone with `$version` (what a device gets first on subscribing).
  std::string desired_json() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The JSON merge patch (RFC 7386, a desired-properties patch with `null` for a deleted key)
/// that turns the properties `from` into `to`, both JSON objects whose `$metadata` and
/// `$version` are ignored; std::nullopt when they already hold the same, or when either is not
/// a JSON object. A child edge uses it on reconnect: the parent's desired properties replace
/// the ones it kept, deletions made meanwhile included.
std::optional<std::string> merge_patch_between(std::string_view from, std::string_view to);

} // namespace outpost::iothub
