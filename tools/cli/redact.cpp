#include "tools/cli/redact.hpp"

#include <regex>

namespace outpost::cli {

namespace {

constexpr const char* hidden = "<redacted>";

std::string redact_line(std::string line) {
  // Values that end at ';', '&', a quote, whitespace or a comma.
  static const std::regex access_key{R"((SharedAccessKey=)[^;&"'\s,]+)"};
  static const std::regex signature{R"(([?&\s]sig=)[^;&"'\s,]+)"};
  static const std::regex user_info{R"(([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s"']+:)[^@\s"']+@)"};
  // "name": "value" (JSON) and name = "value" (TOML), the name ending in a secret's word.
  static const std::regex named{
      R"re(("?[A-Za-z0-9_$.-]*(?:[Kk]ey|KEY|[Pp]assword|PASSWORD|[Ss]ecret|SECRET|[Tt]oken|TOKEN|[Ss]ignature|[Cc]onnection_?[Ss]tring|CONNECTION_?STRING)"?\s*[:=]\s*")([^"/][^"]*)")re"};
  line = std::regex_replace(line, access_key, std::string{"$1"} + hidden);
  line = std::regex_replace(line, signature, std::string{"$1"} + hidden);
  line = std::regex_replace(line, user_info, std::string{"$1"} + hidden + "@");
  line = std::regex_replace(line, named, std::string{"$1"} + hidden + "\"");
  return line;
}

} // namespace

std::string redact(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_private_key = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    const bool last = end == std::string_view::npos;
    if (last) {
      end = text.size();
    }
    std::string line{text.substr(pos, end - pos)};
    pos = end + 1;
    if (line.find("-----BEGIN") != std::string::npos
        && line.find("PRIVATE KEY-----") != std::string::npos) {
      in_private_key = true;
      out += "-----BEGIN PRIVATE KEY----- <redacted>";
    } else if (in_private_key) {
      if (line.find("-----END") != std::string::npos) {
        in_private_key = false;
        out += "-----END PRIVATE KEY-----";
      } else {
        continue; // the key's body: dropped, not even its line count kept
      }
    } else {
      out += redact_line(std::move(line));
    }
    if (!last) {
      out += '\n';
    }
  }
  return out;
}

} // namespace outpost::cli
