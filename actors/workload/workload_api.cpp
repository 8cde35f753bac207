#include "actors/workload/workload_api.hpp"

#include "protocols/iothub/encoding.hpp"
#include "protocols/transport/certificates.hpp"
#include "protocols/transport/crypto.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <cctype>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>

#include <unistd.h>

namespace outpost::actors {

namespace {

using nlohmann::json;
using transport::http_request;
using transport::http_response;

http_response reply(unsigned status, const json& body) {
  return {status, "application/json", body.dump()};
}

http_response error(unsigned status, const std::string& message) {
  return reply(status, json{{"message", message}});
}

/// IoT Edge's workload API versions: every route takes 2018-06-28 and later.
bool api_version_ok(const std::string& v) {
  static const char* known[] = {"2018-06-28", "2019-01-30", "2019-10-22", "2019-11-05",
                                "2020-07-07", "2021-12-07", "2022-08-03"};
  for (const auto* k : known) {
    if (v == k) {
      return true;
    }
  }
  return false;
}

/// Fields of /proc/<pid>/stat after the command: {ppid, sid}, or nullopt.
std::optional<std::pair<pid_t, pid_t>> parent_and_session(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/stat"};
  std::string text;
  std::getline(in, text);
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream rest{text.substr(close + 2)};
  std::string state;
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t sid = 0;
  rest >> state >> ppid >> pgrp >> sid;
  return std::pair{ppid, sid};
}

/// Is `pid` in the session of the module's process `module_pid` (every module makes its own
/// session; a session cannot be joined, unlike a process group), or one of its descendants?
bool in_session_of(pid_t pid, pid_t module_pid) {
  if (pid <= 0 || module_pid <= 0) {
    return false;
  }
  for (int depth = 0; depth < 64 && pid > 1; ++depth) {
    if (pid == module_pid) {
      return true;
    }
    auto f = parent_and_session(pid);
    if (!f) {
      return false;
    }
    if (f->second == module_pid) {
      return true;
    }
    pid = f->first;
  }
  return false;
}

/// The cgroup lines of a process ("0::/system.slice/docker-<id>.scope"), "" if unreadable.
std::string cgroup_of(pid_t pid) {
  std::ifstream in{"/proc/" + std::to_string(pid) + "/cgroup"};
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Is the caller this module? Process modules: its uid (SO_PEERCRED) is the module's, and
/// when that uid is not the module's alone, it is also in the module's session. Containers:
/// the caller's pid is in the container's cgroup (which names the container id).
bool is_module(const http_request& req, const module_view& m) {
  if (m.pid <= 0 || req.peer_pid <= 0) {
    return false;
  }
  if (m.type == "docker") {
    const auto theirs = cgroup_of(m.pid);
    const auto mine = cgroup_of(::getpid());
    return !theirs.empty() && theirs != mine && cgroup_of(req.peer_pid) == theirs;
  }
  if (m.uid < 0 || req.peer_uid != m.uid) {
    return false;
  }
  return m.uid_exclusive || in_session_of(req.peer_pid, m.pid);
}

/// AES-256-GCM, output = nonce (12) | tag (16) | ciphertext; the caller's IV is bound as AAD.
std::optional<std::string> aes_gcm(bool encrypt, const std::string& key, const std::string& aad,
                                   const std::string& input) {
  std::unique_ptr<EVP_CIPHER_CTX, void (*)(EVP_CIPHER_CTX*)> ctx{EVP_CIPHER_CTX_new(),
                                                                 EVP_CIPHER_CTX_free};
  std::string nonce;
  std::string tag;
  std::string data = input;
  if (encrypt) {
    nonce = transport::random_bytes(12);
  } else {
    if (input.size() < 28) {
      return std::nullopt;
    }
    nonce = input.substr(0, 12);
    tag = input.substr(12, 16);
    data = input.substr(28);
  }
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  const auto* n = reinterpret_cast<const unsigned char*>(nonce.data());
  if (EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, k, n, encrypt ? 1 : 0) != 1) {
    return std::nullopt;
  }
  int len = 0;
  if (!aad.empty()
      && EVP_CipherUpdate(ctx.get(), nullptr, &len,
                          reinterpret_cast<const unsigned char*>(aad.data()),
                          static_cast<int>(aad.size()))
             != 1) {
    return std::nullopt;
  }
  std::string out(data.size() + 16, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (EVP_CipherUpdate(ctx.get(), o, &len, reinterpret_cast<const unsigned char*>(data.data()),
                       static_cast<int>(data.size()))
      != 1) {
    return std::nullopt;
  }
  int total = len;
  if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, 16, tag.data()) != 1) {
    return std::nullopt;
  }
  if (EVP_CipherFinal_ex(ctx.get(), o + total, &len) != 1) {
    return std::nullopt; // wrong key, IV or tampered ciphertext
  }
  total += len;
  out.resize(static_cast<std::size_t>(total));
  if (!encrypt) {
    return out;
  }
  tag.assign(16, '\0');
  EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag.data());
  return nonce + tag + out;
}

/// `{"plaintext"|"ciphertext": b64, "initializationVector": b64}` both ways.
http_response crypt(const workload_config& cfg, const std::string& module, const std::string& genid,
                    bool encrypt, const json& req) {
  const char* in_key = encrypt ? "plaintext" : "ciphertext";
  const char* out_key = encrypt ? "ciphertext" : "plaintext";
  if (!req.contains(in_key) || !req[in_key].is_string() || !req.contains("initializationVector")
      || !req["initializationVector"].is_string()) {
    return error(400, std::string{"expected {\""} + in_key + "\": <base64>, "
                          + "\"initializationVector\": <base64>}");
  }
  auto input = iothub::base64_decode(req[in_key].get<std::string>());
  auto iv = iothub::base64_decode(req["initializationVector"].get<std::string>());
  if (!input || !iv) {
    return error(400, "not base64");
  }
  const auto key = transport::hmac_sha256(cfg.master_key, module + "\n" + genid);
  auto out = aes_gcm(encrypt, key, *iv, *input);
  if (!out) {
    return error(400, encrypt ? "encryption failed"
                              : "cannot decrypt: not encrypted for this module, generation and "
                                "initialization vector");
  }
  return reply(200, json{{out_key, iothub::base64_encode(*out)}});
}

std::string iso_in(long seconds) {
  const std::time_t t = std::time(nullptr) + seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

/// Seconds from now until an ISO 8601 UTC time ("2026-12-01T00:00:00Z"), or nullopt.
std::optional<long> seconds_until(const std::string& iso) {
  std::tm tm{};
  if (iso.size() < 19 || !strptime(iso.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) {
    return std::nullopt;
  }
  return static_cast<long>(timegm(&tm) - std::time(nullptr));
}

std::string lower(std::string s) {
  for (auto& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

/// Why `module` may not hold a server certificate for `name`, or "": a module gets its own
/// id or a name below it ("<module>.<domain>"); the gateway's host name only edgeHub (whose
/// certificate clients trust as the hub).
std::string name_refused(const workload_config& cfg, const std::string& module,
                         const std::string& name) {
  const auto n = lower(name);
  const auto m = lower(module);
  const auto gateway = lower(cfg.gateway_hostname.substr(0, cfg.gateway_hostname.rfind(':')));
  if (m == "edgehub") {
    return {}; // the hub serves MQTT/AMQP/HTTPS under the gateway's name
  }
  if (!gateway.empty() && (n == gateway || n == lower(cfg.gateway_hostname))) {
    return "module '" + module + "' may not have a certificate for the gateway's host name " + name
           + " (only $edgeHub may)";
  }
  if (n == m || n.rfind(m + ".", 0) == 0) {
    return {};
  }
  return "module '" + module + "' may have a server certificate for its own name only ('" + module
         + "' or '" + module + ".<domain>'), not '" + name + "'";
}

http_response server_certificate(const workload_config& cfg, const std::string& module,
                                 const json& req) {
  if (!req.contains("commonName") || !req["commonName"].is_string()) {
    return error(400, "expected {\"commonName\": \"<name>\", \"expiration\": \"<ISO 8601>\"}");
  }
  if (auto why = name_refused(cfg, module, req["commonName"].get<std::string>()); !why.empty()) {
    return error(403, why);
  }
  long lifetime = 90L * 24 * 3600;
  if (req.contains("expiration")) {
    auto s = req["expiration"].is_string() ? seconds_until(req["expiration"].get<std::string>())
                                           : std::nullopt;
    if (!s || *s <= 0) {
      return error(400, "expiration must be an ISO 8601 UTC time in the future");
    }
    lifetime = *s;
  }
  std::string why;
  auto issued = transport::issue_server_certificate({cfg.ca_cert_file, cfg.ca_key_file, {}},
                                                    req["commonName"].get<std::string>(), module,
                                                    lifetime, why);
  if (!issued) {
    return error(issued.error() == std::errc::invalid_argument ? 400 : 500, why);
  }
  return reply(201, json{{"privateKey", {{"type", "key"}, {"bytes", issued->key_pem}}},
                         {"certificate", issued->cert_pem},
                         {"expiration", iso_in(issued->lifetime)}});
}

http_response sign(const workload_config& cfg, const std::string& module, const json& req) {
  const auto key_id = req.value("keyId", std::string{"primary"});
  if (req.value("algo", std::string{"HMACSHA256"}) != "HMACSHA256") {
    return error(400, "algo: only HMACSHA256 is supported");
  }
  if (!req.contains("data") || !req["data"].is_string()) {
    return error(400,
                 "expected {\"keyId\": \"primary\", \"algo\": \"HMACSHA256\", \"data\": "
                 "<base64>}");
  }
  auto data = iothub::base64_decode(req["data"].get<std::string>());
  if (!data) {
    return error(400, "data is not base64");
  }
  auto table = cfg.identities->get();
  auto i = table->find(cfg.device_id + "/" + module);
  if (i == table->end()) {
    return error(404, "module '" + module + "' has no identity");
  }
  auto key = iothub::base64_decode(key_id == "secondary" ? i->second.secondary : i->second.primary);
  if (!key || key->empty()) {
    return error(400, "module '" + module + "' has no symmetric key");
  }
  return reply(200, json{{"digest", iothub::base64_encode(transport::hmac_sha256(*key, *data))}});
}

/// Splits "/modules/{m}/genid/{g}/<rest>".
bool module_route(const std::string& path, std::string& module, std::string& genid,
                  std::string& rest) {
  static const std::string prefix = "/modules/";
  if (path.rfind(prefix, 0) != 0) {
    return false;
  }
  const auto m_end = path.find('/', prefix.size());
  if (m_end == std::string::npos || path.compare(m_end, 7, "/genid/") != 0) {
    return false;
  }
  const auto g_end = path.find('/', m_end + 7);
  if (g_end == std::string::npos) {
    return false;
  }
  module = iothub::percent_decode(path.substr(prefix.size(), m_end - prefix.size()));
  if (!module.empty() && module[0] == '$') {
    module.erase(0, 1);
  }
  genid = iothub::percent_decode(path.substr(m_end + 7, g_end - m_end - 7));
  rest = path.substr(g_end + 1);
  return true;
}

} // namespace

transport::http_handler workload_routes(workload_config cfg) {
  return [cfg = std::move(cfg)](const http_request& req) -> http_response {
    const auto path = req.target.substr(0, req.target.find('?'));
    const auto version = iothub::query_parameter(req.target, "api-version");
    if (!api_version_ok(version)) {
      return error(400, version.empty() ? "api-version is required (e.g. ?api-version=2018-06-28)"
                                        : "unsupported api-version " + version);
    }
    if (path == "/trust-bundle" && req.method == "GET") {
      std::ifstream in{cfg.ca_cert_file};
      std::stringstream pem;
      pem << in.rdbuf();
      return in ? reply(200, json{{"certificate", pem.str()}})
                : error(500, "cannot read the trust bundle " + cfg.ca_cert_file);
    }
    std::string module;
    std::string genid;
    std::string rest;
    if (!module_route(path, module, genid, rest)) {
      return error(404, "not found");
    }
    if (req.method != "POST") {
      return error(405, "method not allowed");
    }
    auto view = cfg.view->get();
    auto m = view->modules.find(module);
    if (m == view->modules.end()) {
      return error(404, "module '" + module + "' is not deployed");
    }
    if (!is_module(req, m->second)) {
      return error(403, "the caller (pid " + std::to_string(req.peer_pid) + ") is not module '"
                            + module + "'");
    }
    if (genid != m->second.generation_id) {
      return error(404, "module '" + module + "' has no generation " + genid);
    }
    auto body = json::parse(req.body, nullptr, false);
    if (!body.is_object()) {
      return error(400, "the body must be a JSON object");
    }
    if (rest == "sign") {
      return sign(cfg, module, body);
    }
    if (rest == "encrypt" || rest == "decrypt") {
      return crypt(cfg, module, genid, rest == "encrypt", body);
    }
    if (rest == "certificate/server") {
      return server_certificate(cfg, module, body);
    }
    return error(404, "not found");
  };
}

} // namespace outpost::actors
