#include "supervisor/config/build_info.hpp"

// Defined for this file only, so a new commit recompiles one file, not the tree.
#ifndef OUTPOST_VERSION
#define OUTPOST_VERSION "0.0.0"
#endif
#ifndef OUTPOST_COMMIT
#define OUTPOST_COMMIT "unknown"
#endif

namespace outpost::app {

const char* build_version() noexcept {
  return OUTPOST_VERSION;
}
const char* build_commit() noexcept {
  return OUTPOST_COMMIT;
}

} // namespace outpost::app
