#pragma once

namespace outpost::app {

/// The release version (CMake project version) and the git commit it was built from.
const char* build_version() noexcept;
const char* build_commit() noexcept;

} // namespace outpost::app
