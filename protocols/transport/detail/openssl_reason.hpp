#pragma once

// Private to protocols/transport .cpp files that call OpenSSL.

#include <string>

namespace outpost::transport::detail {

/// OpenSSL's error queue of this thread as text ("error:...; error:..."), emptied: the queue
/// is per thread, and a stale entry would be blamed on the next, unrelated failure on this
/// thread. "no details from OpenSSL" when the queue is empty.
std::string openssl_reason();

} // namespace outpost::transport::detail
