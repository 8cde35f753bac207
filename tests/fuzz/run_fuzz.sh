#!/usr/bin/env bash
# Runs one libFuzzer target for a budget of CPU seconds (not wall seconds): on a shared machine
# the fuzzer runs at nice 19 and only gets idle CPU, so -max_total_time (wall clock) would
# under-count. A watcher reads the fuzzer's utime+stime from /proc and interrupts it (SIGINT:
# libFuzzer prints its final stats and exits 72) once the budget is spent.
#
#   tests/fuzz/run_fuzz.sh TARGET DICT CPU_SECONDS [MAX_WALL_SECONDS]
#
# Output under build-fuzz/runs/TARGET/: corpus/ (new inputs), artifacts/ (crashes),
# fuzz.N.log (libFuzzer output), time.N.log (/usr/bin/time -v) for session N. Seeds: tests/fuzz/corpus/TARGET
# without the _fuzz suffix.
set -euo pipefail

target=$1
dict=$2
cpu_budget=$3
max_wall=${4:-36000}

root=$(cd "$(dirname "$0")/../.." && pwd)
run="$root/build-fuzz/runs/$target"
seeds="$root/tests/fuzz/corpus/${target%_fuzz}"
mkdir -p "$run/corpus" "$run/artifacts"
# A run can be continued in several sessions (the corpus carries over); each keeps its logs.
n=1
while [ -e "$run/fuzz.$n.log" ]; do n=$((n + 1)); done

nice -n 19 /usr/bin/time -v -o "$run/time.$n.log" "$root/build-fuzz/bin/$target" \
  -dict="$dict" -max_total_time="$max_wall" -print_final_stats=1 \
  -artifact_prefix="$run/artifacts/" "$run/corpus" "$seeds" >"$run/fuzz.$n.log" 2>&1 &
time_pid=$!

fuzzer_pid=""
for _ in $(seq 100); do
  fuzzer_pid=$(pgrep -P "$time_pid" || true)
  [ -n "$fuzzer_pid" ] && break
  sleep 0.1
done

ticks=$(getconf CLK_TCK)
while kill -0 "$time_pid" 2>/dev/null; do
  if [ -n "$fuzzer_pid" ] && [ -r "/proc/$fuzzer_pid/stat" ]; then
    # Fields after the ")" of the command name: utime is the 12th, stime the 13th.
    read -r utime stime < <(sed 's/.*) //' "/proc/$fuzzer_pid/stat" | awk '{print $12, $13}')
    used=$(((utime + stime) / ticks))
    echo "$used" >"$run/cpu_seconds.$n"
    if [ "$used" -ge "$cpu_budget" ]; then
      kill -INT "$fuzzer_pid" 2>/dev/null || true
      break
    fi
  fi
  sleep 5
done
wait "$time_pid" || true
echo "done" >>"$run/cpu_seconds.$n"
