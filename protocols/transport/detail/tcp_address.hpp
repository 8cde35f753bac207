#pragma once

// Private to protocols/transport .cpp files: it includes Asio.

#include "protocols/common/result.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <string>
#include <system_error>

namespace outpost::transport::detail {

/// Boost's system and generic categories become the std ones, so callers can compare with
/// `std::errc` and print the usual messages.
std::error_code to_std(const boost::system::error_code& ec);

/// "host:port" as every listener takes it: an IPv4 literal, a bracketed IPv6 literal or
/// "localhost" (not resolved: 127.0.0.1); port 0-65535. `std::errc::invalid_argument` else.
result<boost::asio::ip::tcp::endpoint> parse_address(const std::string& address);

/// "127.0.0.1:40123" or "[::1]:40123".
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

} // namespace outpost::transport::detail
