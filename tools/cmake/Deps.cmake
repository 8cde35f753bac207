# Third-party packages, all from Debian 12 (see README and tools/dev.sh setup).
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(Boost 1.74 REQUIRED CONFIG)
find_package(RocksDB 7 REQUIRED CONFIG)
find_package(prometheus-cpp REQUIRED CONFIG) # no version file is shipped
find_package(nlohmann_json 3.11 REQUIRED CONFIG)
find_package(CLI11 2 REQUIRED CONFIG)
find_package(fmt 9 REQUIRED CONFIG)
find_package(spdlog 1.10 REQUIRED CONFIG)
find_package(tomlplusplus 3 REQUIRED CONFIG)        # tomlplusplus::tomlplusplus
if(OUTPOST_TESTS)
  find_package(GTest 1.12 REQUIRED CONFIG)
endif()
if(OUTPOST_BENCH)
  find_package(benchmark 1.7 REQUIRED CONFIG)
endif()

# CAF 0.17.6: Debian ships no CMake config or .pc file; headers are SYSTEM so -Werror
# does not trip over their deprecation warnings.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
add_library(CAF::core SHARED IMPORTED)
set_target_properties(CAF::core PROPERTIES
  IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES Threads::Threads)
