#include "tools/cli/twin_commands.hpp"

#include "protocols/iothub/encoding.hpp"
#include "protocols/transport/http_client.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>

namespace outpost::cli {

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
  using nlohmann::json;
  std::string target = "/twins/" + iothub::percent_encode(c.id);
  if (!c.module.empty()) {
    target += "/modules/" + iothub::percent_encode(c.module);
  }
  std::string method = "GET";
  std::string body;
  if (c.update->parsed()) {
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
    method = "PATCH";
    body = patch.dump();
  }
  const auto socket = app::admin_socket_path(cfg);
  auto reply = transport::http_call("unix:" + socket, method, target, body);
  if (!reply) {
    std::cerr << "outpost: outpostd is not running (no answer on " << socket << ")\n";
    return 1;
  }
  auto j = json::parse(reply->body, nullptr, false);
  if (reply->status >= 300) {
    std::cerr << "outpost: "
              << (j.is_object() && j.contains("message")
                      ? j["message"].get<std::string>() + " (errorCode "
                            + std::to_string(j.value("errorCode", 0)) + ")"
                      : reply->body)
              << "\n";
    return 1;
  }
  std::cout << (j.is_discarded() ? reply->body : j.dump(2) + "\n");
  return 0;
}

} // namespace outpost::cli
