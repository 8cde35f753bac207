#pragma once

#include <string>

namespace outpost::cli {

/// `outpost route test --route TEXT --message FILE`: explains whether the message in FILE
/// matches the route, with every sub-expression's value and the endpoint. FILE holds
/// `{"body": <object|array|string>, "properties": {"name": "value", ...},
///   "systemProperties": {"contentType": ..., "contentEncoding": ..., "connectionDeviceId": ...,
///   "connectionModuleId": ..., "outputName": ..., "messageId": ..., ...}}`
/// (system property names as in route queries, without `$`). Exit code 0 when it matches,
/// 1 when it does not, 2 for a bad route or message file (the error says where).
int run_route_test(const std::string& route, const std::string& message_file);

} // namespace outpost::cli
