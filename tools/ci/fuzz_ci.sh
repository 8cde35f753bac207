#!/usr/bin/env bash
# CI's short fuzzing run: builds every libFuzzer target of tests/fuzz with clang in its own
# build folder (OUTPOST_FUZZ=ON: ASan + UBSan + coverage), then runs each for SECONDS of wall
# time (default 60), two at a time (one per core of a 2-core runner), seeded with the committed
# corpus, which it only reads. Fails if a target finds a crash, a sanitizer report, a leak or a
# timeout; the input is kept in $OUTPOST_FUZZ_DIR/ci/TARGET/artifacts/ with the target's log.
# The corpus replay (ctest -R corpus) runs in every normal build; this looks for new inputs.
#   tools/ci/fuzz_ci.sh [SECONDS]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${1:-60}"
build_dir="${OUTPOST_FUZZ_DIR:-$root/build-fuzz}"
jobs="${OUTPOST_JOBS:-$(nproc)}"

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ not found (./tools/dev.sh setup installs clang)" >&2
  exit 2
fi

# Every tests/fuzz/NAME_fuzz.cpp is a target with seeds in corpus/NAME and a dictionary
# dict/NAME.dict, or dict/<first word of NAME>.dict (mqtt_codec uses mqtt.dict).
targets=()
for src in "$root"/tests/fuzz/*_fuzz.cpp; do
  targets+=("$(basename "$src" .cpp)")
done

export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOUTPOST_FUZZ=ON -DOUTPOST_BENCH=OFF -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"

run_one() {
  local target="$1" name="${1%_fuzz}" out="$build_dir/ci/$1"
  local dict="$root/tests/fuzz/dict/$name.dict"
  [ -f "$dict" ] || dict="$root/tests/fuzz/dict/${name%%_*}.dict"
  rm -rf "$out"
  mkdir -p "$out/corpus" "$out/artifacts"
  local args=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$out/artifacts/")
  [ -f "$dict" ] && args+=(-dict="$dict")
  # New inputs go to $out/corpus (first folder); the committed corpus is only read.
  if "$build_dir/bin/$target" "${args[@]}" "$out/corpus" "$root/tests/fuzz/corpus/$name" \
    >"$out/fuzz.log" 2>&1; then
    echo "fuzz: $target: ok ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' \
      "$out/fuzz.log" | grep -o '[0-9]*$') runs in ${seconds}s)"
  else
    echo "fuzz: $target: FAILED, see $out/fuzz.log and $out/artifacts/:" >&2
    grep -m5 -E 'ERROR|SUMMARY|deadly signal|Test unit written' "$out/fuzz.log" >&2 || true
    return 1
  fi
}

failed=0
pids=()
names=()
for target in "${targets[@]}"; do
  run_one "$target" &
  pids+=($!)
  names+=("$target")
  if [ "${#pids[@]}" -ge "$jobs" ]; then
    wait "${pids[0]}" || failed=$((failed + 1))
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do
  wait "$pid" || failed=$((failed + 1))
done
if [ "$failed" -ne 0 ]; then
  echo "fuzz: $failed of ${#targets[@]} targets failed" >&2
  exit 1
fi
echo "fuzz: ok (${#targets[@]} targets, ${seconds}s each)"
