#!/usr/bin/env bash
# Outpost developer entry point: setup | build | run | test | bench | format | check, and the CI
# steps check-headers | fuzz [SECONDS] | test-asan | test-tsan.
# `run` and `test` do setup and build first, so a fresh Debian 12 needs nothing else.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${OUTPOST_BUILD_DIR:-$root/build}"
build_type="${OUTPOST_BUILD_TYPE:-RelWithDebInfo}"
jobs="${OUTPOST_JOBS:-$(nproc)}"

apt_packages=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates
  libcaf-dev libboost-dev libssl-dev libsimdjson-dev librocksdb-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libcli11-dev
  libspdlog-dev libfmt-dev libtomlplusplus-dev clang-format python3
  clang libclang-rt-dev
  mosquitto mosquitto-clients nodejs podman runc libjemalloc-dev
  libqpid-proton-cpp12-dev python3-qpid-proton
  rabbitmq-server prometheus chromium lintian
)

sudo_cmd() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

setup() {
  local missing=()
  for p in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd apt-get update -qq
    sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"
  fi
  if command -v npm >/dev/null; then
    for dir in "$root/tests/acceptance" "$root/deploy/quickstart/modules"; do
      (cd "$dir" && npm install --no-audit --no-fund --silent)
    done
  fi
}

build() {
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache ${OUTPOST_CMAKE_ARGS:-} >/dev/null
  cmake --build "$build_dir" -j "$jobs"
}

run() {
  local cfg="${1:-$root/deploy/quickstart/config.toml}"
  cd "$root" # the quickstart's paths are relative to the repository
  if [ $# -eq 0 ]; then
    "$root/deploy/quickstart/render-manifest.sh" "$root/build/quickstart/manifest.json"
  fi
  exec "$build_dir/bin/outpostd" --config "$cfg"
}

checks() {
  "$root/tools/ci/check_format.sh"
  python3 "$root/tools/ci/check_layers.py" --self-test
  python3 "$root/tools/ci/check_layers.py" "$root"
}

# The test daemons each hold a 256 MiB reserve file and refuse appends when the filesystem has
# less than reserve + headroom (512 MiB) free, so on a nearly full disk every daemon test fails
# with "disk full" instead of testing anything. Say so once, before the build.
free_space_check() {
  local tmp="${TMPDIR:-/tmp}" need_mib=2048 free_mib
  free_mib=$(df -Pm "$tmp" | awk 'NR == 2 { print $4 }')
  if [ "${free_mib:-0}" -lt "$need_mib" ]; then
    echo "test: only ${free_mib} MiB free under $tmp; the suite needs ${need_mib} MiB." >&2
    echo "test: kept folders of failed tests are $tmp/outpost-*; remove them to go on." >&2
    return 1
  fi
}

test_all() {
  checks
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 600
}

# Every header of ours compiled alone (twice, for #pragma once) with only its folder's
# dependencies: the check_headers target (tools/cmake/Outpost.cmake).
check_headers() {
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache ${OUTPOST_CMAKE_ARGS:-} >/dev/null
  cmake --build "$build_dir" -j "$jobs" --target check_headers
  echo "headers: ok"
}

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer, in its own build dir.
test_sanitized() {
  OUTPOST_BUILD_DIR="${OUTPOST_ASAN_DIR:-$root/build-asan}" OUTPOST_BUILD_TYPE=Debug \
    OUTPOST_CMAKE_ARGS="-DOUTPOST_SANITIZE=address,undefined -DOUTPOST_BENCH=OFF" \
    "$0" test
}

# CAF 0.17.6 built with -fsanitize=thread, for the TSan build only: Debian's libcaf_core is not
# instrumented, so TSan would not see the atomics of CAF's mailboxes and would report every
# message handed to an actor on another thread as a race (tools/ci/README.md). The source is
# the tarball Debian builds its package from, checked against the SHA-256 its .dsc names.
caf_version=0.17.6
caf_sha256=e2bf5bd243f08bb7d8adde197cfe3e6d71314ed3378fe0692f8932f4c3b3928c
caf_url="http://deb.debian.org/debian/pool/main/a/actor-framework/actor-framework_${caf_version}.orig.tar.gz"
tsan_caf() { # DIR: CAF installed into DIR/caf, once
  local dir="$1" prefix="$1/caf"
  [ -f "$prefix/.outpost-built-$caf_version" ] && return 0
  local src="$dir/caf-src" tarball="$dir/caf-$caf_version.orig.tar.gz"
  mkdir -p "$dir"
  if ! echo "$caf_sha256  $tarball" | sha256sum -c --status 2>/dev/null; then
    curl -fsSL --retry 3 -o "$tarball" "$caf_url"
    echo "$caf_sha256  $tarball" | sha256sum -c --quiet
  fi
  rm -rf "$src" "$prefix"
  mkdir -p "$src"
  tar xzf "$tarball" -C "$src" --strip-components=1
  # Only libcaf_core, with Debian's settings otherwise (log level QUIET, CAF's memory cache).
  cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_FLAGS=-fsanitize=thread \
    -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_INSTALL_LIBDIR=lib -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_IO=yes \
    -DCAF_NO_OPENSSL=yes -DCAF_NO_OPENCL=yes -DCAF_NO_PYTHON=yes -DCAF_NO_TOOLS=yes \
    -DCAF_NO_SUMMARY=yes >"$dir/caf-build.log" 2>&1 \
    && cmake --build "$src/build" -j "$jobs" --target install >>"$dir/caf-build.log" 2>&1 \
    || { tail -30 "$dir/caf-build.log" >&2; echo "test-tsan: building CAF failed" >&2; return 1; }
  touch "$prefix/.outpost-built-$caf_version"
}

# ThreadSanitizer over the multi-threaded code, built against the instrumented CAF above: the
# actor tests (CAF's deterministic scheduler), transport (Asio I/O threads, the HTTP handler
# pool, TLS), the module process host, the store, and the suites that run actors on CAF's real
# threads: the storage writer, the I/O scheduler, the daemon's integration tests and the
# security suite (their outpostd is the TSan build's, which aborts on its first report, so a
# race fails the test that met it).
tsan_tests=(actors_unit_tests actors_realtime_tests transport_unit_tests supervisor_runtime_tests
            storage_unit_tests store_writer_tests io_scheduler_tests daemon_integration_tests
            hub_mqtt_integration_tests identity_integration_tests)
test_tsan() {
  local dir="${OUTPOST_TSAN_DIR:-$root/build-tsan}" src
  for src in "$root"/tests/security/*_test.cpp; do # one executable per file, as in its CMake
    src="$(basename "$src" .cpp)"
    tsan_tests+=("security_${src}s")
  done
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  tsan_caf "$dir"
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DOUTPOST_SANITIZE=thread -DOUTPOST_BENCH=OFF \
    -DOUTPOST_CAF_ROOT="$dir/caf" >/dev/null
  cmake --build "$dir" -j "$jobs" --target "${tsan_tests[@]}" outpostd outpost security_probe_module
  local failed=0
  # halt_on_error: the first report fails the suite (or, in a daemon, the test that started
  # it); the RSS test measures memory, which TSan's shadow memory makes meaningless (it is
  # disabled in normal runs too).
  export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/tools/ci/tsan.supp"
  for t in "${tsan_tests[@]}"; do
    if "$dir/bin/$t" --gtest_brief=1 --gtest_filter='-*IdleConnectionRss*'; then
      echo "tsan: $t: ok"
    else
      echo "tsan: $t: FAILED" >&2
      failed=$((failed + 1))
    fi
  done
  [ "$failed" -eq 0 ]
}

bench() {
  "$build_dir/bin/store_append_bench" "$@"
}

# The Debian package of the build (tools/cmake/Package.cmake): build/outpost_<version>_amd64.deb.
package() {
  (cd "$build_dir" && cpack -G DEB -C "$build_type" >/dev/null)
  ls "$build_dir"/outpost_*_amd64.deb
}

cmd="${1:-}"
shift || true
case "$cmd" in
  setup) setup ;;
  build) build ;;
  run) setup; build; run "$@" ;;
  test) setup; free_space_check; build; test_all ;;
  test-asan) test_sanitized ;;
  check) checks ;;
  check-headers) check_headers ;;
  fuzz) setup; "$root/tools/ci/fuzz_ci.sh" "$@" ;;
  test-tsan) setup; test_tsan ;;
  bench) bench "$@" ;;
  package) setup; build; package ;;
  format) find "$root"/{actors,protocols,routing,storage,supervisor,tools,tests} \
            -name '*.[ch]pp' -print0 | xargs -0 clang-format -i ;;
  *) echo "usage: $0 setup|build|run [config]|test|test-asan|test-tsan|check|check-headers|fuzz [seconds]|bench|package|format" >&2
     exit 64 ;;
esac
