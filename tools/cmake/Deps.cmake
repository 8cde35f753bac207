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
# does not trip over their deprecation warnings. OUTPOST_CAF_ROOT names another installation of
# the same version instead: the TSan build's, built with -fsanitize=thread by
# `tools/dev.sh test-tsan`, since TSan cannot see the atomics of an uninstrumented library.
set(OUTPOST_CAF_ROOT "" CACHE PATH "CAF 0.17.6 installation to use instead of the system's")
if(OUTPOST_CAF_ROOT)
  set(CAF_INCLUDE_DIR "${OUTPOST_CAF_ROOT}/include")
  set(CAF_CORE_LIBRARY "${OUTPOST_CAF_ROOT}/lib/libcaf_core.so")
  if(NOT EXISTS "${CAF_INCLUDE_DIR}/caf/all.hpp" OR NOT EXISTS "${CAF_CORE_LIBRARY}")
    message(FATAL_ERROR "OUTPOST_CAF_ROOT=${OUTPOST_CAF_ROOT} has no CAF headers or libcaf_core.so")
  endif()
else()
  find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
  find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
endif()
add_library(CAF::core SHARED IMPORTED)
set_target_properties(CAF::core PROPERTIES
  IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES Threads::Threads)

# Qpid Proton 0.37 (C++ binding and the engine): no CMake config, and its .pc files are broken
# (they require .pc files no package ships), so the targets are made here. The engine is linked
# by name, never the combined libqpid-proton.so (two copies of every pn_* symbol).
find_path(PROTON_INCLUDE_DIR proton/io/connection_driver.hpp REQUIRED)
find_library(PROTON_CPP_LIBRARY qpid-proton-cpp REQUIRED)
find_library(PROTON_CORE_LIBRARY NAMES qpid-proton-core libqpid-proton-core.so.10 REQUIRED)
add_library(Proton::core SHARED IMPORTED)
set_target_properties(Proton::core PROPERTIES IMPORTED_LOCATION "${PROTON_CORE_LIBRARY}"
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${PROTON_INCLUDE_DIR}")
add_library(Proton::cpp SHARED IMPORTED)
set_target_properties(Proton::cpp PROPERTIES IMPORTED_LOCATION "${PROTON_CPP_LIBRARY}"
  INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${PROTON_INCLUDE_DIR}"
  INTERFACE_LINK_LIBRARIES Proton::core)
