#include "actors/app/twin_admin.hpp"

#include "protocols/iothub/encoding.hpp"
#include "protocols/iothub/twin.hpp"

#include <caf/all.hpp>

#include <chrono>
#include <string>

namespace outpost::app {

namespace {

using transport::http_response;

http_response iothub_error(int status, std::int32_t code, std::string message) {
  return http_response{static_cast<unsigned>(status), "application/json",
                       iothub::hub_error{status, code, std::move(message)}.body() + "\n"};
}

/// `/twins/{d}` or `/twins/{d}/modules/{m}` -> `d` or `d/m` (percent-decoded); "" otherwise.
std::string twin_id(std::string_view path) {
  constexpr std::string_view prefix = "/twins/";
  if (path.substr(0, prefix.size()) != prefix) {
    return {};
  }
  path.remove_prefix(prefix.size());
  const auto slash = path.find('/');
  if (slash == std::string_view::npos) {
    return path.empty() ? std::string{} : iothub::percent_decode(path);
  }
  constexpr std::string_view modules = "/modules/";
  const auto rest = path.substr(slash);
  if (rest.substr(0, modules.size()) != modules || rest.size() == modules.size()
      || rest.find('/', modules.size()) != std::string_view::npos) {
    return {};
  }
  return iothub::percent_decode(path.substr(0, slash)) + "/"
         + iothub::percent_decode(rest.substr(modules.size()));
}

} // namespace

std::optional<http_response> twin_admin(
    caf::actor_system& sys, const actors::twin_registry_actor& twins,
    const std::shared_ptr<actors::identity_snapshot>& identities,
    const transport::http_request& req) {
  const std::string path = req.target.substr(0, req.target.find('?'));
  if (path.rfind("/twins/", 0) != 0) {
    return std::nullopt;
  }
  const auto id = twin_id(path);
  if (id.empty()) {
    return iothub_error(404, 404001, "no such twin path: " + path);
  }
  if (identities->get()->count(id) == 0) {
    const bool module = id.find('/') != std::string::npos;
    return iothub_error(404, module ? 404010 : 404001,
                        std::string{module ? "module " : "device "} + id + " is not registered");
  }
  caf::scoped_actor self{sys};
  http_response res = iothub_error(503, 503001, "the twin registry did not answer");
  auto answer = [&](actors::twin_reply& r) {
    res = http_response{static_cast<unsigned>(r.status), "application/json", r.body + "\n"};
  };
  if (req.method == "GET") {
    self->request(twins, std::chrono::seconds(10), actors::twin_show_atom::value, id)
        .receive(answer, [](caf::error&) {});
    return res;
  }
  if (req.method == "PATCH" || req.method == "PUT") {
    self->request(twins, std::chrono::seconds(10), actors::twin_update_atom::value, id, req.body,
                  std::string{}, req.method == "PUT")
        .receive(answer, [](caf::error&) {});
    return res;
  }
  return iothub_error(405, 405001, "method not allowed on " + path);
}

} // namespace outpost::app
