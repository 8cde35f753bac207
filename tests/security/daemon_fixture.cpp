#include "tests/security/daemon_fixture.hpp"

#include "protocols/iothub/sas.hpp"
#include "protocols/transport/crypto.hpp"
#include "protocols/transport/http_client.hpp"

#include <csignal>
#include <fstream>
#include <sstream>

namespace outpost::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void daemon_fixture::SetUp() {
  dir_ = make_temp_dir("sec");
  data_ = dir_ / "data";
  cfg_ = dir_ / "config.toml";
}

void daemon_fixture::TearDown() {
  if (daemon_) {
    daemon_->signal(SIGTERM);
    EXPECT_EQ(daemon_->wait(10s).value_or(-1), 0) << daemon_->stderr_text();
    daemon_.reset();
  }
  remove_temp_dir(dir_, HasFailure());
}

void daemon_fixture::start() {
  if (daemon_) {
    stop();
  }
  std::string text = "hostname = \"localhost\"\ndevice_id = \"" + device_id_ + "\"\n[storage]\ndir = \""
                     + data_.string() + "\"\n" + storage_extra_
                     + "\n[listen]\nmetrics = \"127.0.0.1:0\"\nmqtt_tls = \"127.0.0.1:0\"\nhttps = \"127.0.0.1:0\"\namqp_tls = \"127.0.0.1:0\"\n"
                       "mqtt = \"127.0.0.1:0\"\n"
                     + listen_extra_;
  if (!manifest_.empty() || !agent_extra_.empty()) {
    text += "[agent]\n" + agent_extra_ + "\n";
  }
  if (!manifest_.empty()) {
    write_file(dir_ / "manifest.json", manifest_);
    text += "manifest = \"" + (dir_ / "manifest.json").string() + "\"\n";
  }
  text += config_extra_;
  write_file(cfg_, text);
  std::error_code ec;
  fs::remove(data_ / "run" / "ports.json", ec);
  auto argv = launcher_;
  argv.insert(argv.end(), {bin_path("outpostd"), "--config", cfg_.string()});
  daemon_ = std::make_unique<process>(argv, dir_ / "outpostd.stderr");
  auto ports = wait_for_file(data_ / "run" / "ports.json", 20s);
  ASSERT_TRUE(ports) << daemon_->stderr_text();
  mqtt_ = json_string(*ports, "mqtt").value_or("");
  mqtt_tls_ = json_string(*ports, "mqtt_tls").value_or("");
  metrics_ = json_string(*ports, "metrics").value_or("");
  https_ = json_string(*ports, "https").value_or("");
  amqp_tls_ = json_string(*ports, "amqp_tls").value_or("");
}

void daemon_fixture::stop() {
  if (daemon_) {
    daemon_->signal(SIGTERM);
    EXPECT_EQ(daemon_->wait(10s).value_or(-1), 0) << daemon_->stderr_text();
    daemon_.reset();
  }
}

cli_result daemon_fixture::cli(std::vector<std::string> args, std::chrono::milliseconds timeout) {
  args.insert(args.begin(), {bin_path("outpost"), "--config", cfg_.string()});
  process p{args, dir_ / "cli.stderr"};
  std::string out;
  while (auto line = p.read_line(timeout)) {
    out += *line + "\n";
  }
  cli_result r;
  r.code = p.wait(timeout).value_or(-1);
  r.out = std::move(out);
  r.err = p.stderr_text();
  return r;
}

std::string daemon_fixture::add_identity(const std::string& type, const std::string& id) {
  auto r = cli({"identity", "add", type, id});
  EXPECT_EQ(r.code, 0) << r.err;
  const auto at = r.out.find("SharedAccessKey=");
  auto key = at == std::string::npos ? std::string{} : r.out.substr(at + 16);
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) {
    key.pop_back();
  }
  const auto full =
      type == "module" && id.find('/') == std::string::npos ? device_id_ + "/" + id : id;
  keys_[full] = key;
  return key;
}

std::string daemon_fixture::token(const std::string& client_id, std::int64_t expiry_offset_s,
                                  const std::string& key_of) {
  const auto slash = client_id.find('/');
  const auto resource = slash == std::string::npos
                            ? "localhost/devices/" + client_id
                            : "localhost/devices/" + client_id.substr(0, slash) + "/modules/"
                                  + client_id.substr(slash + 1);
  const auto expiry = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count()
                      + expiry_offset_s;
  return iothub::make_sas_token(
      resource, keys_[key_of.empty() ? client_id : key_of], expiry,
      [](std::string_view k, std::string_view d) { return transport::hmac_sha256(k, d); });
}

mqtt::connect daemon_fixture::hello(const std::string& client_id, std::string password,
                                    bool clean) {
  mqtt::connect c;
  c.client_id = client_id;
  c.clean_session = clean;
  c.keepalive = 60;
  c.username = "localhost/" + client_id + "/?api-version=2021-04-12";
  c.password = std::move(password);
  return c;
}

std::unique_ptr<mqtt_test_client> daemon_fixture::connected(const std::string& client_id,
                                                            bool clean,
                                                            std::int64_t expiry_offset_s) {
  auto c = std::make_unique<mqtt_test_client>(mqtt_);
  c->send(hello(client_id, token(client_id, expiry_offset_s), clean));
  auto ack = c->receive();
  EXPECT_TRUE(ack && std::holds_alternative<mqtt::connack>(*ack)) << client_id;
  if (ack && std::holds_alternative<mqtt::connack>(*ack)) {
    EXPECT_EQ(std::get<mqtt::connack>(*ack).return_code, 0) << client_id;
  }
  return c;
}

int daemon_fixture::connected_code(const std::string& client_id) {
  mqtt_test_client c{mqtt_};
  c.send(hello(client_id, token(client_id)));
  auto ack = c.receive(5s);
  if (!ack || !std::holds_alternative<mqtt::connack>(*ack)) {
    return 255;
  }
  return std::get<mqtt::connack>(*ack).return_code;
}

std::string daemon_fixture::scrape(const std::string& path) {
  auto r = transport::http_get(metrics_, path);
  return r ? r->body : std::string{};
}

std::int64_t daemon_fixture::daemon_rss_kib() const {
  std::ifstream in{"/proc/" + std::to_string(daemon_->pid()) + "/status"};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stoll(line.substr(6));
    }
  }
  return -1;
}

} // namespace outpost::test
