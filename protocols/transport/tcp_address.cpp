#include "protocols/transport/detail/tcp_address.hpp"

#include "protocols/common/decimal.hpp"

#include <charconv>
#include <string_view>

namespace outpost::transport::detail {

namespace asio = boost::asio;

std::error_code to_std(const boost::system::error_code& ec) {
  if (ec.category() == boost::system::system_category()) {
    return {ec.value(), std::system_category()};
  }
  if (ec.category() == boost::system::generic_category()) {
    return {ec.value(), std::generic_category()};
  }
  return ec;
}

result<asio::ip::tcp::endpoint> parse_address(const std::string& address) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  // The last ':' separates the port, so "[::1]:80" splits correctly.
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return invalid;
  }
  std::string host = address.substr(0, colon);
  const std::string_view port_text = std::string_view{address}.substr(colon + 1);
  const auto port = parse_decimal<std::uint16_t>(port_text);
  if (!port || port_text.size() > 5) {
    return invalid;
  }
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) {
    return invalid;
  }
  asio::ip::address ip;
  boost::system::error_code ec;
  if (bracketed) {
    ip = asio::ip::make_address_v6(host, ec);
  } else if (host == "localhost") {
    // Not resolved: a listener must not depend on DNS or /etc/hosts, and IPv4 loopback is
    // what every client tries for "localhost".
    ip = asio::ip::address_v4::loopback();
  } else {
    ip = asio::ip::make_address_v4(host, ec);
  }
  if (ec) {
    return invalid;
  }
  return asio::ip::tcp::endpoint{ip, *port};
}

std::string format_endpoint(const asio::ip::tcp::endpoint& endpoint) {
  const auto ip = endpoint.address();
  const auto port = std::to_string(endpoint.port());
  if (ip.is_v6()) {
    return "[" + ip.to_string() + "]:" + port;
  }
  return ip.to_string() + ":" + port;
}

} // namespace outpost::transport::detail
