#include "supervisor/runtime/docker_engine.hpp"

#include "protocols/iothub/encoding.hpp"
#include "protocols/transport/http_client.hpp"

#include <nlohmann/json.hpp>

#include <cctype>
#include <deque>
#include <optional>

#include <sys/eventfd.h>
#include <unistd.h>

namespace outpost::supervisor {

namespace {

using nlohmann::json;
const std::string api = "/v1.41";

std::error_code engine_error(const transport::http_reply& r, std::string& why) {
  auto j = json::parse(r.body, nullptr, false);
  why = j.is_object() && j.contains("message") && j["message"].is_string()
            ? j["message"].get<std::string>()
            : "HTTP " + std::to_string(r.status) + " " + r.body.substr(0, 200);
  return r.status == 404 ? std::make_error_code(std::errc::no_such_file_or_directory)
                         : std::make_error_code(std::errc::io_error);
}

/// The engine's answer, or the error with `why`; `ok` lists the statuses that are success.
result<transport::http_reply> call(const std::string& address, int cancel_fd,
                                   const std::string& method, const std::string& target,
                                   std::string& why, std::initializer_list<unsigned> ok,
                                   const std::string& body = {},
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto r = transport::http_call(address, method, api + target, body, "application/json", timeout,
                                cancel_fd);
  if (!r) {
    why = "container engine at " + address + ": " + r.error().message();
    return r.error();
  }
  for (auto s : ok) {
    if (r->status == s) {
      return r;
    }
  }
  return engine_error(*r, why);
}

/// Image references and container names go into the path as they are (the engines match
/// `/images/{name:.*}/json`); anything outside their alphabet is percent-encoded.
std::string path_segment(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))
        || std::string_view{"._:/@-"}.find(c) != std::string_view::npos) {
      out += c;
    } else {
      out += iothub::percent_encode(std::string(1, c));
    }
  }
  return out;
}

} // namespace

docker_engine::docker_engine(std::string address)
    : cancel_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  static const std::string scheme = "unix://";
  if (address.rfind(scheme, 0) == 0) {
    address = address.substr(scheme.size());
  }
  address_ = "unix:" + address;
}

docker_engine::~docker_engine() {
  if (cancel_fd_ >= 0) {
    ::close(cancel_fd_);
  }
}

void docker_engine::cancel() const {
  // The eventfd stays readable once written (nobody reads it): every call in flight ends, and
  // every later one ends at its first wait.
  const std::uint64_t one = 1;
  if (cancel_fd_ >= 0) {
    [[maybe_unused]] auto n = ::write(cancel_fd_, &one, sizeof one);
  }
}

result<std::string> docker_engine::image_id(const std::string& image, std::string& why) const {
  auto r =
      call(address_, cancel_fd_, "GET", "/images/" + path_segment(image) + "/json", why, {200});
  if (!r) {
    return r.error();
  }
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("Id") || !j["Id"].is_string()) {
    why = "image inspect without an Id";
    return std::make_error_code(std::errc::bad_message);
  }
  auto id = j["Id"].get<std::string>();
  return id.rfind("sha256:", 0) == 0 ? id : "sha256:" + id;
}

result<void> docker_engine::pull(const std::string& image, std::string& why) const {
  auto r = call(address_, cancel_fd_, "POST", "/images/create?fromImage=" + path_segment(image),
                why, {200}, {}, std::chrono::minutes(10));
  if (!r) {
    return r.error();
  }
  // Errors come in the progress stream with status 200.
  if (auto at = r->body.rfind("\"error\""); at != std::string::npos) {
    why = r->body.substr(at, 300);
    return std::make_error_code(std::errc::io_error);
  }
  return ok();
}

result<std::string> docker_engine::create(const container_spec& spec, std::string& why) const {
  auto body = container_create_body(spec, why);
  if (!body) {
    return std::make_error_code(std::errc::invalid_argument);
  }
  auto r = call(address_, cancel_fd_, "POST", "/containers/create?name=" + path_segment(spec.name),
                why, {201}, *body);
  if (!r) {
    return r.error();
  }
  auto j = json::parse(r->body, nullptr, false);
  return j.is_object() ? j.value("Id", std::string{}) : std::string{};
}

result<void> docker_engine::start(const std::string& name, std::string& why) const {
  auto r = call(address_, cancel_fd_, "POST", "/containers/" + path_segment(name) + "/start", why,
                {204, 304});
  return r ? ok() : result<void>{r.error()};
}

result<void> docker_engine::stop(const std::string& name, std::chrono::seconds grace,
                                 std::string& why) const {
  auto r = call(address_, cancel_fd_, "POST",
                "/containers/" + path_segment(name) + "/stop?t=" + std::to_string(grace.count()),
                why, {204, 304}, {}, grace + std::chrono::seconds(30));
  return r ? ok() : result<void>{r.error()};
}

result<void> docker_engine::remove(const std::string& name, std::string& why) const {
  auto r = call(address_, cancel_fd_, "DELETE",
                "/containers/" + path_segment(name) + "?force=true&v=true", why, {204, 404});
  return r ? ok() : result<void>{r.error()};
}

result<container_state> docker_engine::inspect(const std::string& name, std::string& why) const {
  auto r =
      call(address_, cancel_fd_, "GET", "/containers/" + path_segment(name) + "/json", why, {200});
  if (!r) {
    return r.error();
  }
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("State") || !j["State"].is_object()) {
    why = "container inspect without a State";
    return std::make_error_code(std::errc::bad_message);
  }
  const auto& s = j["State"];
  container_state out;
  out.running = s.value("Running", false);
  out.exit_code = s.value("ExitCode", 0);
  out.pid = s.value("Pid", 0);
  out.status = s.value("Status", std::string{});
  out.image_id = j.value("Image", std::string{});
  return out;
}

result<std::vector<std::string>> docker_engine::logs(const std::string& name, std::size_t tail,
                                                     std::string& why) const {
  auto r = call(address_, cancel_fd_, "GET",
                "/containers/" + path_segment(name)
                    + "/logs?stdout=1&stderr=1&timestamps=1&tail=" + std::to_string(tail),
                why, {200});
  if (!r) {
    return r.error();
  }
  // Docker's multiplexed stream: [stream, 0, 0, 0, size (4, big-endian)] + payload, unless the
  // container has a TTY (then plain text).
  std::string text;
  const auto& b = r->body;
  const bool framed =
      b.size() >= 8 && (b[0] == 1 || b[0] == 2) && b[1] == 0 && b[2] == 0 && b[3] == 0;
  if (framed) {
    std::size_t at = 0;
    while (at + 8 <= b.size()) {
      const auto size = (static_cast<std::size_t>(static_cast<unsigned char>(b[at + 4])) << 24)
                        | (static_cast<std::size_t>(static_cast<unsigned char>(b[at + 5])) << 16)
                        | (static_cast<std::size_t>(static_cast<unsigned char>(b[at + 6])) << 8)
                        | static_cast<unsigned char>(b[at + 7]);
      text.append(b, at + 8, std::min(size, b.size() - at - 8));
      at += 8 + size;
    }
  } else {
    text = b;
  }
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (auto nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', start)) {
    lines.push_back(log_line_from_docker(text.substr(start, nl - start)));
    start = nl + 1;
  }
  if (start < text.size()) {
    lines.push_back(log_line_from_docker(text.substr(start)));
  }
  return lines;
}

std::optional<std::string> container_create_body(const container_spec& spec, std::string& why) {
  json body = json::object();
  if (!spec.create_options.empty()) {
    body = json::parse(spec.create_options, nullptr, false);
    if (!body.is_object()) {
      why = "settings.createOptions is not a JSON object";
      return std::nullopt;
    }
  }
  body["Image"] = spec.image;
  json env = body.contains("Env") && body["Env"].is_array() ? body["Env"] : json::array();
  for (const auto& e : spec.env) {
    env.push_back(e);
  }
  body["Env"] = env;
  json labels =
      body.contains("Labels") && body["Labels"].is_object() ? body["Labels"] : json::object();
  for (const auto& [k, v] : spec.labels) {
    labels[k] = v;
  }
  body["Labels"] = labels;
  json& host = body["HostConfig"];
  if (!host.is_object()) {
    host = json::object();
  }
  if (!host.contains("NetworkMode")) {
    host["NetworkMode"] = "host"; // the hub is on this host's loopback
  }
  json binds = host.contains("Binds") && host["Binds"].is_array() ? host["Binds"] : json::array();
  for (const auto& b : spec.binds) {
    binds.push_back(b);
  }
  host["Binds"] = binds;
  return body.dump();
}

std::string log_line_from_docker(const std::string& line) {
  // "2026-11-26T18:05:57.891234567Z text" (or with an offset) -> ms precision, Z.
  const auto space = line.find(' ');
  if (space == std::string::npos || space < 20 || line[10] != 'T') {
    return line;
  }
  std::string ms = "000";
  if (line[19] == '.') {
    for (std::size_t i = 0;
         i < 3 && 20 + i < space && std::isdigit(static_cast<unsigned char>(line[20 + i])); ++i) {
      ms[i] = line[20 + i];
    }
  }
  return line.substr(0, 19) + "." + ms + "Z" + line.substr(space);
}

} // namespace outpost::supervisor
