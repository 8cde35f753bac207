#include "tools/cli/service_commands.hpp"

#include "protocols/iothub/encoding.hpp"
#include "protocols/transport/http_client.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>

namespace outpost::cli {

namespace {

using nlohmann::json;

std::string twin_path(const std::string& id, const std::string& module) {
  std::string target = "/twins/" + iothub::percent_encode(id);
  if (!module.empty()) {
    target += "/modules/" + iothub::percent_encode(module);
  }
  return target;
}

/// Calls the admin API; prints the JSON answer (0) or IoT Hub's error message (1).
int call_and_print(const app::daemon_config& cfg, const std::string& method,
                   const std::string& target, const std::string& body,
                   std::chrono::milliseconds wait = std::chrono::seconds(15)) {
  const auto socket = app::admin_socket_path(cfg);
  auto reply =
      transport::http_call("unix:" + socket, method, target, body, "application/json", wait);
  if (!reply) {
    std::cerr << "outpost: outpostd is not running (no answer on " << socket << ")\n";
    return 1;
  }
  auto j = json::parse(reply->body, nullptr, false);
  if (reply->status >= 300) {
    std::cerr << "outpost: "
              << (j.is_object() && j.contains("message") && j["message"].is_string()
                      ? j["message"].get<std::string>() + " (errorCode "
                            + std::to_string(j.value("errorCode", 0)) + ")"
                      : reply->body)
              << "\n";
    return 1;
  }
  std::cout << (j.is_discarded() ? reply->body : j.dump(2) + "\n");
  return 0;
}

} // namespace

void add_twin_commands(CLI::App& app, twin_cli& c) {
  c.cmd = app.add_subcommand("twin", "show or update a device's or module's twin");
  c.cmd->require_subcommand(1);
  c.show = c.cmd->add_subcommand("show", "print the twin (tags, desired, reported, $metadata)");
  c.update = c.cmd->add_subcommand(
      "update", "merge desired properties and tags into the twin (null deletes a key)");
  for (auto* sub : {c.show, c.update}) {
    sub->add_option("ID", c.id, "device id")->required();
    sub->add_option("--module", c.module, "the module of that device");
  }
  c.update->add_option("--desired", c.desired, "JSON object of desired properties to merge");
  c.update->add_option("--tags", c.tags, "JSON object of tags to merge");
}

int run_twin(const app::daemon_config& cfg, const twin_cli& c) {
  const auto target = twin_path(c.id, c.module);
  if (!c.update->parsed()) {
    return call_and_print(cfg, "GET", target, {});
  }
  if (c.desired.empty() && c.tags.empty()) {
    std::cerr << "outpost: nothing to update (give --desired and/or --tags)\n";
    return 1;
  }
  json patch = json::object();
  for (const auto& [text, key] : {std::pair{&c.desired, "desired"}, std::pair{&c.tags, "tags"}}) {
    if (text->empty()) {
      continue;
    }
    auto part = json::parse(*text, nullptr, false);
    if (!part.is_object()) {
      std::cerr << "outpost: --" << key << " must be a JSON object\n";
      return 1;
    }
    if (std::string{key} == "tags") {
      patch["tags"] = std::move(part);
    } else {
      patch["properties"]["desired"] = std::move(part);
    }
  }
  return call_and_print(cfg, "PATCH", target, patch.dump());
}

void add_method_commands(CLI::App& app, method_cli& c) {
  c.cmd = app.add_subcommand("method", "call a device's or module's direct methods");
  c.cmd->require_subcommand(1);
  c.invoke = c.cmd->add_subcommand("invoke", "call a direct method and print its answer");
  c.invoke->add_option("ID", c.id, "device id")->required();
  c.invoke->add_option("NAME", c.name, "method name")->required();
  c.invoke->add_option("--module", c.module, "the module of that device");
  c.invoke->add_option("--payload", c.payload, "JSON payload (default null)");
  c.invoke->add_option("--timeout", c.timeout_s, "seconds to wait for the answer (default 30)")
      ->check(CLI::Range(0, 300));
  c.invoke
      ->add_option("--connect-timeout", c.connect_timeout_s,
                   "seconds to wait for the target to connect (default 0)")
      ->check(CLI::Range(0, 300));
}

int run_method(const app::daemon_config& cfg, const method_cli& c) {
  auto payload = json::parse(c.payload, nullptr, false);
  if (payload.is_discarded()) {
    std::cerr << "outpost: --payload must be JSON\n";
    return 1;
  }
  const json body{{"methodName", c.name},
                  {"payload", payload},
                  {"responseTimeoutInSeconds", c.timeout_s},
                  {"connectTimeoutInSeconds", c.connect_timeout_s}};
  // outpostd answers within both timeouts (404 or 504 at the latest): wait a little longer.
  return call_and_print(cfg, "POST", twin_path(c.id, c.module) + "/methods", body.dump(),
                        std::chrono::seconds(c.timeout_s + c.connect_timeout_s + 10));
}

void add_c2d_commands(CLI::App& app, c2d_cli& c) {
  c.cmd = app.add_subcommand("c2d", "send cloud-to-device messages");
  c.cmd->require_subcommand(1);
  c.send =
      c.cmd->add_subcommand("send", "queue a message for a device (delivered when it listens)");
  c.send->add_option("ID", c.id, "device id")->required();
  auto* body = c.send->add_option("--body", c.body, "message body (text)");
  c.send->add_option("--body-file", c.body_file, "read the body from this file")->excludes(body);
  c.send->add_option("--message-id", c.message_id, "message id (default: a new UUID)");
  c.send->add_option("--correlation-id", c.correlation_id, "correlation id");
  c.send->add_option("--property", c.properties, "application property K=V (repeatable)");
  c.send->add_option("--ttl", c.ttl_s, "seconds before it expires (default 3600)")
      ->check(CLI::Range(1, 172800));
  c.send->add_option("--ack", c.ack, "feedback wanted: none, positive, negative or full");
}

int run_c2d(const app::daemon_config& cfg, const c2d_cli& c) {
  json body{{"ttlSeconds", c.ttl_s}};
  if (!c.body_file.empty()) {
    std::ifstream in{c.body_file, std::ios::binary};
    if (!in) {
      std::cerr << "outpost: cannot read " << c.body_file << "\n";
      return 1;
    }
    body["body"] = std::string{std::istreambuf_iterator<char>{in}, {}};
  } else {
    body["body"] = c.body;
  }
  if (!c.message_id.empty()) {
    body["messageId"] = c.message_id;
  }
  if (!c.correlation_id.empty()) {
    body["correlationId"] = c.correlation_id;
  }
  if (!c.ack.empty()) {
    body["ack"] = c.ack;
  }
  json props = json::object();
  for (const auto& p : c.properties) {
    const auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "outpost: --property wants K=V, got " << p << "\n";
      return 1;
    }
    props[p.substr(0, eq)] = p.substr(eq + 1);
  }
  if (!props.empty()) {
    body["properties"] = std::move(props);
  }
  return call_and_print(cfg, "POST",
                        "/devices/" + iothub::percent_encode(c.id) + "/messages/deviceBound",
                        body.dump(-1, ' ', false, json::error_handler_t::replace));
}

void add_service_commands(CLI::App& app, service_cli& c) {
  c.cmd = app.add_subcommand("service", "the local IoT Hub service API ([listen] https)");
  c.cmd->require_subcommand(1);
  c.connection_string =
      c.cmd->add_subcommand("connection-string",
                            "print the service connection string (shared access policy "
                            "iothubowner) for azure-iothub and other service SDKs");
  c.rotate_key = c.cmd->add_subcommand(
      "rotate-key",
      "replace the iothubowner key (the old one stops working); prints the new "
      "connection string");
}

int run_service(const app::daemon_config& cfg, const service_cli& c) {
  const auto socket = app::admin_socket_path(cfg);
  const bool rotate = c.rotate_key->parsed();
  auto reply = transport::http_call("unix:" + socket, rotate ? "POST" : "GET",
                                    rotate ? "/service/rotate-key" : "/service/connection-string",
                                    {}, "application/json", std::chrono::seconds(rotate ? 40 : 5));
  const auto j = reply ? json::parse(reply->body, nullptr, false) : json{};
  if (!reply) {
    std::cerr << "outpost: outpostd is not running (no answer on " << socket << ")\n";
    return 1;
  }
  if (reply->status != 200 || !j.is_object() || !j.contains("connectionString")) {
    std::cerr << "outpost: " << (j.is_object() ? j.value("error", reply->body) : reply->body)
              << "\n";
    return 1;
  }
  std::cout << j["connectionString"].get<std::string>() << "\n";
  if (!j.value("https", false)) {
    std::cerr << "outpost: note: [listen] https is off, so nothing serves the service API\n";
  }
  return 0;
}

} // namespace outpost::cli
