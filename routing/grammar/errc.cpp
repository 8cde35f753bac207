#include "routing/grammar/errc.hpp"

#include "protocols/common/error_category.hpp"

#include <string>

namespace outpost::routing {
namespace {

const char* describe(errc e) noexcept {
  switch (e) {
    case errc::syntax_error:
      return "route syntax error";
    case errc::type_error:
      return "route type error";
    case errc::unknown_function:
      return "unknown function in route";
    case errc::invalid_argument:
      return "invalid function argument in route";
    case errc::invalid_body_query:
      return "invalid $body query in route";
    case errc::invalid_source:
      return "invalid route source";
    case errc::invalid_sink:
      return "invalid route sink";
    case errc::too_complex:
      return "route too complex";
    case errc::invalid_config:
      return "invalid $edgeHub routing configuration";
    case errc::invalid_json:
      return "$edgeHub desired properties are not valid JSON";
    case errc::duplicate_route:
      return "duplicate route name";
  }
  return nullptr;
}

} // namespace

const std::error_category& routing_category() noexcept {
  static const enum_category<errc> instance{"outpost.routing", describe, "unknown routing error"};
  return instance;
}

} // namespace outpost::routing
