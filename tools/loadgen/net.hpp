#pragma once

#include "protocols/mqtt/packets.hpp"
#include "tools/loadgen/support.hpp"

#include <functional>
#include <string>
#include <string_view>

#include <sys/epoll.h>

struct ssl_ctx_st;
struct ssl_st;

namespace outpost::loadgen {

/// A non-blocking TCP socket connecting to host:port (connect in progress or done). Returns -1
/// and sets `why` on failure.
int start_connect(const std::string& host, std::uint16_t port, bool nodelay, std::string& why);

/// SO_ERROR of a socket whose non-blocking connect finished (0 = connected).
int connect_result(int fd);

/// The CONNECT a client sends: MQTT 3.1.1, clean session, the given keepalive and credentials.
mqtt::connect make_connect(const std::string& id, const credentials& c, std::uint16_t keepalive);

/// The last OpenSSL error (or errno) as text; clears OpenSSL's error queue.
std::string ssl_error_text();

/// A TLS client context as a device's would be: TLS >= 1.2, no session cache (every device
/// does a full handshake), released buffers while idle, the broker verified against `ca` when
/// given. Throws std::runtime_error on failure; free with SSL_CTX_free.
ssl_ctx_st* make_client_tls_context(const std::string& ca);

/// What an SSL_* call on a non-blocking socket came to.
enum class tls_step { done, want_read, want_write, closed, failed };

/// A client SSL object on the connected `fd`: SNI `host`, and `host` checked against the
/// certificate when `verify_host`. Free with SSL_free.
ssl_st* start_client_tls(ssl_ctx_st* ctx, int fd, const std::string& host, bool verify_host);

/// The step an SSL_* result that is not success stands for (SSL_get_error); on `failed`,
/// ssl_error_text() says why.
tls_step tls_step_of(ssl_st* ssl, int rc);

/// SSL_connect once more: done, or what it waits for.
tls_step tls_handshake(ssl_st* ssl);

/// Writes as much of `out` as the socket takes, erasing what went: done once all of it did.
tls_step tls_write(ssl_st* ssl, std::string& out);

/// Reads what OpenSSL has (bytes it buffered do not wake epoll again), handing each chunk to
/// `on_bytes` while it returns true; then what stopped it (want_read: all read).
tls_step tls_read_all(ssl_st* ssl, const std::function<bool(std::string_view)>& on_bytes);

/// A thin epoll wrapper: level-triggered, `data.u64` is the caller's tag.
class poller {
public:
  poller();
  ~poller();
  poller(const poller&) = delete;
  poller& operator=(const poller&) = delete;

  void add(int fd, std::uint32_t events, std::uint64_t tag);
  void modify(int fd, std::uint32_t events, std::uint64_t tag);
  void remove(int fd);
  /// Waits up to `timeout_ms` (-1 = forever); returns the number of events in `events()`.
  int wait(int timeout_ms);
  const epoll_event& event(int i) const { return events_[i]; }

private:
  int fd_ = -1;
  epoll_event events_[1024];
};

} // namespace outpost::loadgen
