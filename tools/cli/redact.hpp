#pragma once

#include <string>
#include <string_view>

namespace outpost::cli {

/// `text` with every secret the support bundle may meet replaced by `<redacted>`: the value
/// of `SharedAccessKey=` (connection strings), the `sig=` of a SAS token, the password of a
/// URL's user info (`amqp://user:<redacted>@host`), PEM private key blocks, and the string
/// value of any JSON or TOML key whose name ends in key, password, secret, token, signature
/// or connection string (`"primaryKey": "<redacted>"`, `connection_string = "<redacted>"`),
/// paths excepted (`tls.key = "/etc/..."`). Pure; line structure kept.
std::string redact(std::string_view text);

} // namespace outpost::cli
