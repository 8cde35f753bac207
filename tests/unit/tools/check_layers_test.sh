#!/usr/bin/env bash
# Self-test of tools/ci/check_layers.py: builds small trees in a temp folder, one per case, and
# checks that the script passes clean trees and fails (naming file:line) on each layer rule.
# Usage: check_layers_test.sh [path/to/check_layers.py]
set -euo pipefail

script="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/tools/ci/check_layers.py}"
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
cases=0

# expect pass|fail NAME FILE CONTENT: runs the script on a tree holding only FILE.
expect() {
  local want="$1" name="$2" file="$3" content="$4"
  local tree="$work/case$cases" out status=0
  cases=$((cases + 1))
  mkdir -p "$tree/$(dirname "$file")"
  printf '%b' "$content" >"$tree/$file"
  out="$("$python" "$script" "$tree" 2>&1)" || status=$?
  if [ "$want" = pass ]; then
    if [ "$status" -ne 0 ] || ! grep -q '^layers: ok (1 files)$' <<<"$out"; then
      echo "FAIL: $name: expected pass, got exit $status:"
      printf '%s\n' "$out" | sed 's/^/    /'
      failures=$((failures + 1))
    fi
  else
    local line="${want#fail:}"
    if [ "$status" -ne 1 ] || ! grep -q "^$file:$line: " <<<"$out"; then
      echo "FAIL: $name: expected a violation at $file:$line, got exit $status:"
      printf '%s\n' "$out" | sed 's/^/    /'
      failures=$((failures + 1))
    fi
  fi
}

# Pure folders (L0/L1).
expect fail:1 "pure storage includes rocksdb" storage/x.cpp '#include <rocksdb/db.h>\n'
expect pass "pure storage, clean" storage/x.cpp \
  '#include "protocols/common/result.hpp"\n#include "storage/kv.hpp"\n\n#include <chrono>\n#include <vector>\n'
expect fail:2 "routing starts a thread" routing/model/m.hpp '#pragma once\n#include <thread>\n'
expect fail:1 "mqtt uses asio" protocols/mqtt/codec.cpp '#include <boost/asio/buffer.hpp>\n'
expect fail:1 "iothub uses standalone asio" protocols/iothub/t.cpp '#include <asio.hpp>\n'
expect fail:1 "common logs" protocols/common/e.hpp '#include <spdlog/spdlog.h>\n'
expect fail:1 "supervisor uses CAF" supervisor/planner.cpp '#include <caf/all.hpp>\n'
expect fail:1 "storage uses OpenSSL" storage/s.cpp '#include <openssl/sha.h>\n'
expect fail:1 "routing uses prometheus" routing/r.cpp '#include <prometheus/counter.h>\n'
expect fail:1 "routing uses sockets" routing/r.cpp '#include <sys/socket.h>\n'
expect fail:1 "storage includes an adapter" storage/s.cpp '#include "storage/rocksdb/engine.hpp"\n'
expect pass "amqp uses proton" protocols/amqp/link.cpp '#include <proton/codec/encoder.hpp>\n'
expect fail:1 "mqtt uses proton" protocols/mqtt/x.cpp '#include <proton/message.hpp>\n'
expect pass "commented-out includes" routing/r.cpp \
  '// #include <thread>\n/* #include <caf/all.hpp>\n#include <rocksdb/db.h> */\n#include <vector>\n'

# L2 adapters.
expect pass "rocksdb adapter uses rocksdb" storage/rocksdb/engine.cpp '#include <rocksdb/db.h>\n'
expect pass "runtime adapter uses asio" supervisor/runtime/spawn.cpp '#include <boost/asio/io_context.hpp>\n'
expect pass "transport uses beast" protocols/transport/http_server.cpp '#include <boost/beast/http.hpp>\n'
expect fail:1 "adapter uses CAF" supervisor/runtime/docker.cpp '#include <caf/actor.hpp>\n'
expect fail:1 "adapter includes actors" protocols/transport/x.cpp '#include "actors/hub/session.hpp"\n'
expect fail:1 "beast outside transport" storage/rocksdb/x.cpp '#include <boost/beast/core.hpp>\n'

# actors/ is only for actors/ and tests/.
expect fail:1 "tool includes actors" tools/cli/main.cpp '#include "actors/app/main.hpp"\n'
expect fail:1 "tool includes actor internals" tools/cli/main.cpp '#include "actors/common/mailbox.hpp"\n'
expect pass "tool includes the config library" tools/cli/main.cpp \
  '#include "actors/app/config.hpp"\n#include "actors/app/build_info.hpp"\n'
expect pass "actor includes actors" actors/hub/a.cpp '#include "actors/common/log.hpp"\n#include <caf/all.hpp>\n'
expect pass "test includes anything" tests/unit/actors/a_test.cpp \
  '#include "actors/hub/a.hpp"\n#include <caf/all.hpp>\n#include <rocksdb/db.h>\n'
expect pass "tool uses beast" tools/loadgen/main.cpp '#include <boost/beast/websocket.hpp>\n'

# Exit status and summary on a tree with several files.
tree="$work/multi"
mkdir -p "$tree/routing" "$tree/storage"
printf '#include <vector>\n' >"$tree/routing/a.cpp"
printf '#include <vector>\n' >"$tree/storage/b.hpp"
out="$("$python" "$script" "$tree")"
if [ "$out" != "layers: ok (2 files)" ]; then
  echo "FAIL: summary line: $out"
  failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
  echo "check_layers self-test: $failures of $((cases + 1)) cases failed"
  exit 1
fi
echo "check_layers self-test: ok ($((cases + 1)) cases)"
