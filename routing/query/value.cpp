#include "routing/query/value.hpp"

#include "routing/query/text.hpp"

namespace outpost::routing {

std::string to_display(const value& v) {
  switch (v.type) {
    case value_type::undefined:
      return "undefined";
    case value_type::null:
      return "null";
    case value_type::boolean:
      return v.boolean ? "true" : "false";
    case value_type::number:
      return text::format_number(v.number);
    case value_type::string: {
      std::string out = "'";
      for (const char c : v.string) {
        if (c == '\'' || c == '\\') {
          out.push_back('\\');
        }
        out.push_back(c);
      }
      return out + "'";
    }
  }
  return "?";
}

std::string_view static_type_name(static_type t) noexcept {
  switch (t) {
    case static_type::undefined:
      return "undefined";
    case static_type::null:
      return "null";
    case static_type::boolean:
      return "bool";
    case static_type::number:
      return "number";
    case static_type::string:
      return "string";
    case static_type::dynamic:
      return "$body value";
  }
  return "?";
}

std::string_view static_type_article(static_type t) noexcept {
  switch (t) {
    case static_type::number:
      return "a number";
    case static_type::string:
      return "a string";
    case static_type::boolean:
      return "a bool";
    case static_type::dynamic:
      return "a $body value";
    default:
      return static_type_name(t);
  }
}

} // namespace outpost::routing
