#!/usr/bin/env bash
# Outpost (durable: storage.durability = "fsync") against mosquitto 2.0.11 (non-durable), same
# load, same run, same machine: issue 3's "Benchmark" bullet, with the method of
# ../shared/reference/perf-anchors.md §3 (fresh broker per test, loopback, 256 B, QoS 1,
# 100 publishers -> 1 subscriber, closed loop with a window of 1000, broker CPU and RSS from /proc).
#
#   tools/bench/compare.sh [OUT.md]      (default /tmp/outpost-bench.md)
#
# Builds nothing: expects build/bin/{outpostd,outpost,outpost-loadgen} (or $OUTPOST_BIN_DIR).
# Knobs (environment): PUBLISHERS=100 PAYLOAD=256 DURATION=10 INFLIGHT=16 WINDOW=1000
#   LAT_RATE=10000 LAT_MESSAGES=50000 IDLE=10000 IDLE_PARALLEL=64 IDLE_THREADS=2 IDLE_HOLD=3 REPS=3
#   NICE=-10 DELIVERY_WINDOW=512 MAX_PENDING_IN=64 THREADS=0 IO_THREADS=0 DRAIN_TIMEOUT=30 KEEP=0 (1 = keep
#   the work dir) MOSQUITTO=/usr/sbin/mosquitto MQ_INFLIGHT= (mosquitto's max_inflight_messages;
#   empty = its default, 20) SKIP_IDLE=0 IDLE_MOSQUITTO=1
#   SCHEDULER=io ([runtime] scheduler) DURABILITY=fsync (os: to see what fsync costs)
#   GROUP_COMMIT_US=120 ([storage] group_commit_us: how long a small pass waits for more appends
#   while they come faster than syncs; 0 = sync at once) CHECKPOINT_INTERVAL_MS=20 ([storage]
#   checkpoint_interval_ms: a route mailbox's checkpoint at most this often; 0 = every burst)
#   TLS_DEVICES=0 TLS_RATE_EACH=1 TLS_SECONDS=60 (TLS_DEVICES > 0: that many TLS devices with SAS,
#   taken from the IDLE identities, each publishing TLS_RATE_EACH 64 B QoS 1 msgs/s for
#   TLS_SECONDS, after the idle test; mosquitto too when IDLE_MOSQUITTO=1)
#   UNAUTH_PER_SOURCE=1000000 ([hub] max_unauthenticated_per_source: all devices are 127.0.0.1)
#   BROKERS="outpost mosquitto reflector" TESTS="throughput latency"
#   (reflector = build/bin/outpost-reflector --store file: the floor under any durable broker
#   here, one thread appending every pass's messages to a file and fdatasyncing it;
#   reflector-rocksdb = the same through Outpost's RocksDB adapter; reflector-none = no sync;
#   a "-thread" suffix (reflector-thread, reflector-rocksdb-thread) syncs on a writer thread of
#   its own, Outpost's shape)
# Raw results: one JSON line per test in <work dir>/results.jsonl (printed at the end).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${OUTPOST_BIN_DIR:-$root/build/bin}"
out="${1:-/tmp/outpost-bench.md}"

PUBLISHERS="${PUBLISHERS:-100}"
PAYLOAD="${PAYLOAD:-256}"
DURATION="${DURATION:-10}"
INFLIGHT="${INFLIGHT:-16}"
WINDOW="${WINDOW:-1000}"
LAT_RATE="${LAT_RATE:-10000}"
LAT_MESSAGES="${LAT_MESSAGES:-50000}"
IDLE="${IDLE:-10000}"
IDLE_PARALLEL="${IDLE_PARALLEL:-64}"
IDLE_THREADS="${IDLE_THREADS:-2}"
IDLE_HOLD="${IDLE_HOLD:-3}"
REPS="${REPS:-3}"
NICE="${NICE:--10}"
DELIVERY_WINDOW="${DELIVERY_WINDOW:-512}"
MQ_INFLIGHT="${MQ_INFLIGHT:-}"
MAX_PENDING_IN="${MAX_PENDING_IN:-64}"
THREADS="${THREADS:-0}"
IO_THREADS="${IO_THREADS:-0}"
DRAIN_TIMEOUT="${DRAIN_TIMEOUT:-30}"
KEEP="${KEEP:-0}"
MOSQUITTO="${MOSQUITTO:-$(command -v mosquitto || echo /usr/sbin/mosquitto)}"
SKIP_IDLE="${SKIP_IDLE:-0}"
IDLE_MOSQUITTO="${IDLE_MOSQUITTO:-1}"
SCHEDULER="${SCHEDULER:-io}"
DURABILITY="${DURABILITY:-fsync}"
GROUP_COMMIT_US="${GROUP_COMMIT_US:-120}"
CHECKPOINT_INTERVAL_MS="${CHECKPOINT_INTERVAL_MS:-20}"
UNAUTH_PER_SOURCE="${UNAUTH_PER_SOURCE:-1000000}"
TLS_DEVICES="${TLS_DEVICES:-0}"
TLS_RATE_EACH="${TLS_RATE_EACH:-1}"
TLS_SECONDS="${TLS_SECONDS:-60}"
BROKERS="${BROKERS:-outpost mosquitto reflector}"
TESTS="${TESTS:-throughput latency}"

outpostd="$bin/outpostd"
outpost="$bin/outpost"
loadgen="$bin/outpost-loadgen"
reflector="$bin/outpost-reflector"
for f in "$outpostd" "$outpost" "$loadgen" "$MOSQUITTO" "$reflector"; do
  [ -x "$f" ] || { echo "compare.sh: $f not found or not executable (build it first)" >&2; exit 2; }
done
for tool in curl jq python3; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool is required" >&2; exit 2; }
done

# 10k idle connections need ~10k descriptors in the broker and in the generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit="$(ulimit -n)"
if [ "$fd_limit" != unlimited ] && [ "$fd_limit" -lt $((IDLE + 512)) ]; then
  echo "compare.sh: ulimit -n is $fd_limit; measuring $((fd_limit - 512)) idle connections" >&2
  IDLE=$((fd_limit - 512))
fi
nice_cmd=()
if [ "$NICE" != 0 ] && nice -n "$NICE" true 2>/dev/null; then
  nice_cmd=(nice -n "$NICE")
fi

work="$(mktemp -d /tmp/outpost-bench.XXXXXX)"
results="$work/results.jsonl"
: >"$results"
pids=()
failed=0

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [ "$KEEP" = 1 ] || [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
    log "work dir kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

stop_pid() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || true
  local rc=0
  wait "$pid" 2>/dev/null || rc=$?
  forget_pid "$pid"
  return "$rc"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_listening PID PORT LOG: returns once PORT accepts (5 s at most); exits with LOG's tail
# when PID died or never listened.
wait_listening() {
  for _ in $(seq 100); do
    port_open "$2" && return 0
    kill -0 "$1" 2>/dev/null || break
    sleep 0.05
  done
  tail -20 "$3" >&2
  exit 1
}

hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------------------------------------
# Outpost: config, manifest with the one route, identities through the admin API.

op_dir="$work/outpost"
mkdir -p "$op_dir"
# One route: device telemetry into the sink module's input (the subscriber, when there is one).
cp "$root/tools/bench/sink_manifest.json" "$op_dir/manifest.json"
cat >"$op_dir/config.toml" <<EOF
hostname = "localhost"
device_id = "edge1"
[storage]
dir = "$op_dir/data"
durability = "$DURABILITY"
group_commit_us = $GROUP_COMMIT_US
checkpoint_interval_ms = $CHECKPOINT_INTERVAL_MS
[listen]
metrics = "127.0.0.1:0"
admin_socket = ""
mqtt = "127.0.0.1:0"
mqtt_tls = "127.0.0.1:0"
https = "127.0.0.1:0"
amqp_tls = "127.0.0.1:0"
[agent]
manifest = "$op_dir/manifest.json"
[hub]
delivery_window = $DELIVERY_WINDOW
max_pending_in = $MAX_PENDING_IN
# Every simulated device connects from 127.0.0.1: the per-address limit on connections that
# have not authenticated yet (256 by default, a defence for real networks) would refuse a
# storm of 1,000 devices from one address.
max_unauthenticated_per_source = $UNAUTH_PER_SOURCE
[log]
level = "warn"
[runtime]
threads = $THREADS
io_threads = $IO_THREADS
scheduler = "$SCHEDULER"
EOF
op_pid=""
op_plain=""
op_tls=""
op_admin=""

start_outpost() {
  rm -f "$op_dir/data/run/ports.json"
  "${nice_cmd[@]}" "$outpostd" --config "$op_dir/config.toml" 2>>"$op_dir/outpostd.log" &
  op_pid=$!
  pids+=("$op_pid")
  for _ in $(seq 300); do
    [ -s "$op_dir/data/run/ports.json" ] && break
    kill -0 "$op_pid" 2>/dev/null || { tail -20 "$op_dir/outpostd.log" >&2; exit 1; }
    sleep 0.1
  done
  op_plain="$(jq -r '.mqtt' "$op_dir/data/run/ports.json" | sed 's/.*://')"
  op_tls="$(jq -r '.mqtt_tls' "$op_dir/data/run/ports.json" | sed 's/.*://')"
  op_admin="$(jq -r '.admin_socket' "$op_dir/data/run/ports.json")"
}

stop_outpost() {
  local rc=0
  stop_pid "$op_pid" || rc=$?
  [ "$rc" -eq 0 ] || log "outpostd exited with $rc on SIGTERM (see $op_dir/outpostd.log)"
  op_pid=""
}

# create_identities FILE PREFIX COUNT: devices PREFIX1..PREFIXCOUNT through the admin API (one
# curl process, one request per identity); appends `id primaryKey` lines to FILE.
create_identities() {
  local file="$1" prefix="$2" count="$3" sock="$op_admin" cfg="$work/curl.cfg"
  : >"$cfg"
  for i in $(seq 1 "$count"); do
    [ "$i" -gt 1 ] && echo next >>"$cfg"
    printf 'unix-socket = "%s"\nurl = "http://localhost/identities"\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{\\"id\\":\\"%s%d\\"}"\n' \
      "$sock" "$prefix" "$i" >>"$cfg"
  done
  curl -sS -K "$cfg" | jq -r 'select(.primaryKey != null) | "\(.id) \(.primaryKey)"' >>"$file"
  local made
  made="$(grep -c "^$prefix[0-9]* " "$file" || true)"
  [ "$made" -eq "$count" ] || { log "created $made of $count identities $prefix*"; exit 1; }
}

# ---------------------------------------------------------------------------------------------
# mosquitto: own config on a free port, unlimited queue (no QoS 1 drops), no persistence.

mq_dir="$work/mosquitto"
mkdir -p "$mq_dir"
mq_pid=""
mq_port=""

start_mosquitto() { # [tls]
  mq_port="$(free_port)"
  {
    echo "user root"
    echo "persistence false"
    echo "max_queued_messages 0"
    # mosquitto's own default is 20 QoS 1 messages in flight to each client.
    if [ -n "$MQ_INFLIGHT" ]; then echo "max_inflight_messages $MQ_INFLIGHT"; fi
    echo "listener $mq_port 127.0.0.1"
    echo "allow_anonymous true"
    if [ "${1:-}" = tls ]; then
      echo "cafile $op_dir/data/certs/edge-ca.pem"
      echo "certfile $op_dir/data/certs/server.pem"
      echo "keyfile $op_dir/data/certs/server.key.pem"
    fi
    echo "log_dest stderr"
    echo "log_type error"
    echo "log_type warning"
  } >"$mq_dir/mosquitto.conf"
  "${nice_cmd[@]}" "$MOSQUITTO" -c "$mq_dir/mosquitto.conf" 2>>"$mq_dir/mosquitto.log" &
  mq_pid=$!
  pids+=("$mq_pid")
  wait_listening "$mq_pid" "$mq_port" "$mq_dir/mosquitto.log"
}

stop_mosquitto() {
  stop_pid "$mq_pid" || true
  mq_pid=""
}

# ---------------------------------------------------------------------------------------------
# The reflector (tools/reflector): the floor. STORE is file, rocksdb or none.

rf_pid=""
rf_port=""

start_reflector() { # STORE [--sync-thread]
  rf_port="$(free_port)"
  rm -rf "$work/reflector"
  "${nice_cmd[@]}" "$reflector" --port "$rf_port" --store "$1" --dir "$work/reflector" \
    ${2:+"$2"} 2>>"$work/reflector.log" &
  rf_pid=$!
  pids+=("$rf_pid")
  wait_listening "$rf_pid" "$rf_port" "$work/reflector.log"
}

# ---------------------------------------------------------------------------------------------
# One test: the generator's JSON line plus broker, test, rep and the broker's VmHWM.

record() { # BROKER TEST REP PID JSON
  local hwm
  hwm="$(hwm_kib "$4")"
  jq -c --arg broker "$1" --arg test "$2" --argjson rep "$3" --argjson hwm "${hwm:-0}" \
    '. + {broker: $broker, test: $test, rep: $rep, peak_rss_kib: $hwm}' <<<"$5" >>"$results"
  jq -c '{broker, test, msgs_per_s, broker_cpu_us_per_msg, latency_p50_us, latency_p99_us,
          lost, duplicates, peak_rss_kib, connects_per_s, broker_kib_per_conn, error,
          first_error}
         | with_entries(select(.value != null))' <<<"$(tail -1 "$results")" >&2
}

# RSS of a broker at rest (started, no client yet): all of it, and the part that is the
# process's own (anonymous) rather than mapped library code shared with the page cache.
record_rest() { # BROKER PID
  local st
  st="$(awk '/^(VmRSS|RssAnon|RssFile):/ {gsub(":", "", $1); printf "\"%s\": %s, ", $1, $2}' "/proc/$2/status")"
  jq -c --arg broker "$1" '. + {broker: $broker, test: "rest"}' <<<"{${st%, }}" >>"$results"
  log "$1 at rest: $(tail -1 "$results")"
}

loadgen_run() { # BROKER TEST REP PID -- loadgen args...
  local broker="$1" test="$2" rep="$3" pid="$4"
  shift 5
  local json rc=0
  json="$("${nice_cmd[@]}" "$loadgen" --broker-pid "$pid" "$@")" || rc=$?
  if [ -z "$json" ]; then
    json="{\"error\": \"outpost-loadgen exited with $rc and printed nothing\"}"
  fi
  [ "$rc" -eq 0 ] || failed=1
  record "$broker" "$test" "$rep" "$pid" "$json"
}

common=(--publishers "$PUBLISHERS" --qos 1 --payload "$PAYLOAD" --inflight "$INFLIGHT"
        --drain-timeout "$DRAIN_TIMEOUT")
throughput=(--duration "$DURATION" --window "$WINDOW")
latency=(--rate "$LAT_RATE" --messages "$LAT_MESSAGES")
op_load=(--iothub-keys "$op_dir/keys.txt" --subscriber edge1/sink
         --subscribe-topic 'devices/edge1/modules/sink/inputs/#')
mq_load=(--subscriber sink --subscribe-topic 'devices/+/messages/events/#')

outpost_test() { # TEST REP ARGS...
  local test="$1" rep="$2"
  shift 2
  start_outpost
  log "outpost $test (rep $rep): outpostd pid $op_pid, port $op_plain"
  loadgen_run outpost "$test" "$rep" "$op_pid" -- --port "$op_plain" "${common[@]}" \
    "${op_load[@]}" "$@"
  stop_outpost
}

mosquitto_test() { # TEST REP ARGS...
  local test="$1" rep="$2"
  shift 2
  start_mosquitto
  log "mosquitto $test (rep $rep): pid $mq_pid, port $mq_port"
  loadgen_run mosquitto "$test" "$rep" "$mq_pid" -- --port "$mq_port" "${common[@]}" \
    "${mq_load[@]}" "$@"
  stop_mosquitto
}

reflector_test() { # NAME TEST REP ARGS...  (NAME: reflector[-rocksdb|-none][-thread])
  local name="$1" test="$2" rep="$3" store=file thread=""
  shift 3
  case "$name" in *-thread) thread=--sync-thread ;; esac
  case "$name" in reflector-rocksdb*) store=rocksdb ;; reflector-none*) store=none ;; esac
  start_reflector "$store" "$thread"
  log "$name $test (rep $rep): pid $rf_pid, port $rf_port"
  loadgen_run "$name" "$test" "$rep" "$rf_pid" -- --port "$rf_port" "${common[@]}" \
    "${mq_load[@]}" "$@"
  stop_pid "$rf_pid" || true
  rf_pid=""
}

# Busy CPUs (cores) over 3 s while nothing of ours runs: the other users of this shared box.
background_busy() {
  local a b
  a="$(head -1 /proc/stat)"
  sleep 3
  b="$(head -1 /proc/stat)"
  awk -v a="$a" -v b="$b" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(a, x); split(b, y); busy = 0
    for (i = 2; i <= 9; i++) if (i != 5 && i != 6) busy += y[i] - x[i]
    printf "%.2f", busy / hz / 3 }'
}

# fdatasync latency of 300-byte appends on the storage volume (what a durable commit waits for).
fsync_probe() {
  python3 - "$work/fsync-probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
lat = []
for _ in range(300):
    os.write(fd, b"x" * 300)
    t = time.perf_counter_ns()
    os.fdatasync(fd)
    lat.append(time.perf_counter_ns() - t)
os.close(fd)
os.unlink(sys.argv[1])
lat.sort()
print(f"p50 {lat[150] / 1000:.0f} µs, p99 {lat[296] / 1000:.0f} µs")
PY
}

started_at="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
fsync_before="$(fsync_probe)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
busy_before="$(background_busy)"
log "work dir $work; load average $load_before; other users busy $busy_before of $(nproc) CPUs; fdatasync $fsync_before; ulimit -n $(ulimit -n)"

# Identities: 100 devices d1..d100 and the module edge1/sink.
start_outpost
: >"$op_dir/keys.txt"
create_identities "$op_dir/keys.txt" d "$PUBLISHERS"
curl -sS --unix-socket "$op_admin" -X POST \
  -H 'Content-Type: application/json' -d '{"id":"sink","type":"module"}' \
  http://localhost/identities | jq -r '"\(.id) \(.primaryKey)"' >>"$op_dir/keys.txt"
"$outpost" --config "$op_dir/config.toml" ca >"$op_dir/ca.pem"
stop_outpost
log "identities: $(wc -l <"$op_dir/keys.txt") (d1..d$PUBLISHERS, edge1/sink)"

for rep in $(seq 1 "$REPS"); do
  for test in $TESTS; do
    for broker in $BROKERS; do
      case "$broker" in
        outpost | mosquitto) run=("${broker}_test") ;;
        reflector | reflector-*) run=(reflector_test "$broker") ;;
        *) log "unknown broker $broker (BROKERS)"; exit 2 ;;
      esac
      case "$test" in
        throughput) "${run[@]}" throughput "$rep" "${throughput[@]}" ;;
        latency) "${run[@]}" latency "$rep" "${latency[@]}" ;;
        *) log "unknown test $test (TESTS)"; exit 2 ;;
      esac
    done
  done
done

if [ "$SKIP_IDLE" != 1 ] && [ "$IDLE" -gt 0 ]; then
  # Idle TLS connections: IDLE more devices (one live session per identity), created on a
  # daemon of their own, then measured on a fresh one.
  start_outpost
  sleep 1
  record_rest outpost "$op_pid"
  log "creating $IDLE idle identities i1..i$IDLE"
  : >"$op_dir/idle-keys.txt"
  create_identities "$op_dir/idle-keys.txt" i "$IDLE"
  stop_outpost
  start_outpost
  sleep 1
  log "outpost idle: $IDLE TLS connections, $IDLE_PARALLEL handshakes at a time"
  loadgen_run outpost idle 1 "$op_pid" -- --port "$op_tls" --tls --ca "$op_dir/ca.pem" \
    --iothub-keys "$op_dir/idle-keys.txt" --id-template 'i{n}' --idle-connections "$IDLE" \
    --connect-parallel "$IDLE_PARALLEL" --connect-threads "$IDLE_THREADS" --hold "$IDLE_HOLD"
  stop_outpost
  if [ "$TLS_DEVICES" -gt 0 ]; then
    # Devices that talk: TLS_DEVICES of the idle identities, each at TLS_RATE_EACH msgs/s.
    cat "$op_dir/idle-keys.txt" "$op_dir/keys.txt" >"$op_dir/tls-keys.txt"
    tls_load=(--tls --ca "$op_dir/ca.pem" --id-template 'i{n}' --publishers "$TLS_DEVICES"
              --qos 1 --payload 64 --inflight "$INFLIGHT" --connect-parallel "$IDLE_PARALLEL"
              --connect-timeout 300 --drain-timeout "$DRAIN_TIMEOUT"
              --rate "$((TLS_DEVICES * TLS_RATE_EACH))" --duration "$TLS_SECONDS")
    start_outpost
    sleep 1
    log "outpost tls_devices: $TLS_DEVICES TLS devices x $TLS_RATE_EACH msg/s for $TLS_SECONDS s"
    loadgen_run outpost tls_devices 1 "$op_pid" -- --port "$op_tls" "${tls_load[@]}" \
      --iothub-keys "$op_dir/tls-keys.txt" --subscriber edge1/sink \
      --subscribe-topic 'devices/edge1/modules/sink/inputs/#'
    stop_outpost
  fi
  if [ "$IDLE_MOSQUITTO" = 1 ]; then
    # The same handshakes against mosquitto with Outpost's server certificate.
    start_mosquitto tls
    sleep 1
    record_rest mosquitto "$mq_pid"
    log "mosquitto idle: $IDLE TLS connections"
    loadgen_run mosquitto idle 1 "$mq_pid" -- --port "$mq_port" --tls --ca "$op_dir/ca.pem" \
      --id-template 'i{n}' --idle-connections "$IDLE" --connect-parallel "$IDLE_PARALLEL" \
      --connect-threads "$IDLE_THREADS" \
      --hold "$IDLE_HOLD"
    stop_mosquitto
    if [ "$TLS_DEVICES" -gt 0 ]; then
      start_mosquitto tls
      sleep 1
      log "mosquitto tls_devices: $TLS_DEVICES TLS devices"
      loadgen_run mosquitto tls_devices 1 "$mq_pid" -- --port "$mq_port" "${tls_load[@]}" \
        --subscriber sink --subscribe-topic 'devices/+/messages/events/#'
      stop_mosquitto
    fi
  fi
fi
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
busy_after="$(background_busy)"
fsync_after="$(fsync_probe)"

# ---------------------------------------------------------------------------------------------
# The table.

python3 - "$results" "$out" <<EOF
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reps = int("$REPS")

def vals(broker, test, key):
    return [r[key] for r in rows if r.get("broker") == broker and r.get("test") == test
            and isinstance(r.get(key), (int, float))]

def fmt(v, unit=""):
    if v is None:
        return "n/a"
    if unit == "MiB":
        return f"{v / 1024:.1f}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100 or float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"

def cell(broker, test, key, unit="", agg="median"):
    v = vals(broker, test, key)
    if not v:
        return "n/a", None
    m = sum(v) if agg == "sum" else statistics.median(v)
    s = fmt(m, unit)
    if agg == "median" and len(v) > 1:
        s += f" [{fmt(min(v), unit)}–{fmt(max(v), unit)}]"
    return s, m

def ratio(a, b):
    return f"{a / b:.2f}×" if a is not None and b not in (None, 0) else "n/a"

lines = []
add = lines.append
# The floor: the reflector (tools/reflector) with the store it ran with, when it ran.
floor_names = {"reflector": "floor: reflector, file + fdatasync",
               "reflector-thread": "floor: reflector, file, writer thread",
               "reflector-rocksdb": "floor: reflector, RocksDB sync",
               "reflector-rocksdb-thread": "floor: reflector, RocksDB, writer thread",
               "reflector-none": "reflector, no sync"}
floors = [b for b in floor_names if any(r.get("broker") == b for r in rows)]
head = "| figure | Outpost (durability $DURABILITY) | mosquitto 2.0.11 (non-durable) | Outpost / mosquitto |"
for f in floors:
    head += f" {floor_names[f]} | Outpost / it |"
add(head + " target (issue 9) | met? |")
add("|---" * (6 + 2 * len(floors)) + "|")

def row(name, test, key, unit="", target="", check=None, agg="median"):
    o, om = cell("outpost", test, key, unit, agg)
    q, qm = cell("mosquitto", test, key, unit, agg)
    ok = "n/a"
    if check is not None and om is not None:
        ok = "yes" if check(om, qm) else "**no**"
    line = f"| {name} | {o} | {q} | {ratio(om, qm)} |"
    for f in floors:
        r, rm = cell(f, test, key, unit, agg)
        line += f" {r} | {ratio(om, rm)} |"
    add(line + f" {target} | {ok} |")

row(f"delivered msgs/s (fan-in: $PUBLISHERS pubs, QoS 1, $PAYLOAD B, window $WINDOW, ~${DURATION} s)",
    "throughput", "msgs_per_s", target="≥ 1× mosquitto", check=lambda o, q: q and o >= q)
row("broker CPU µs/msg (fan-in)", "throughput", "broker_cpu_us_per_msg",
    target="≤ 1× mosquitto", check=lambda o, q: q and o <= q)
row("broker CPU µs/msg at $LAT_RATE msgs/s", "latency", "broker_cpu_us_per_msg",
    target="≤ 1× mosquitto", check=lambda o, q: q and o <= q)
row("p50 latency µs at $LAT_RATE msgs/s ($LAT_MESSAGES msgs)", "latency", "latency_p50_us")
row("p99 latency µs at $LAT_RATE msgs/s", "latency", "latency_p99_us", target="≤ 1,000 µs",
    check=lambda o, q: o <= 1000)
row("max latency µs at $LAT_RATE msgs/s", "latency", "latency_max_us")
for t, label in (("throughput", "fan-in"), ("latency", "$LAT_RATE msgs/s")):
    row(f"lost (acked, never delivered), {label}, all reps", t, "lost", target="0",
        check=lambda o, q: o == 0, agg="sum")
    row(f"duplicated deliveries, {label}, all reps", t, "duplicates", agg="sum")
row("peak RSS MiB (VmHWM), fan-in", "throughput", "peak_rss_kib", unit="MiB",
    target="≤ 60 MiB", check=lambda o, q: o <= 60 * 1024)
row("peak RSS MiB (VmHWM), $LAT_RATE msgs/s", "latency", "peak_rss_kib", unit="MiB",
    target="≤ 25 MiB", check=lambda o, q: o <= 25 * 1024)
row("broker CPU used (cores), fan-in", "throughput", "broker_cores")
row("load generator CPU used (cores), fan-in", "throughput", "loadgen_cores")
row("broker CPU used (cores) at $LAT_RATE msgs/s", "latency", "broker_cores")

idle = {r["broker"]: r for r in rows if r.get("test") == "idle"}
if idle:
    add("")
    add("| idle TLS connections (keepalive 60, $IDLE_PARALLEL handshakes at a time, held ${IDLE_HOLD} s) | Outpost | mosquitto 2.0.11 (same cert) | Outpost / mosquitto |")
    add("|---|---|---|---|")
    for key, name, unit in (("connected", "connections held", ""),
                            ("failed", "failed", ""),
                            ("connects_per_s", "connects/s", ""),
                            ("connect_p99_ms", "connect p99 ms", ""),
                            ("broker_kib_per_conn", "broker RSS KiB per connection", ""),
                            ("broker_rss_held_kib", "broker RSS MiB while holding", "MiB"),
                            ("broker_cpu_connect_s", "broker CPU s for all handshakes", "")):
        o = idle.get("outpost", {}).get(key)
        q = idle.get("mosquitto", {}).get(key)
        add(f"| {name} | {fmt(o, unit)} | {fmt(q, unit)} | {ratio(o, q)} |")

talk = {r["broker"]: r for r in rows if r.get("test") == "tls_devices"}
if talk:
    add("")
    add("| $TLS_DEVICES TLS devices (SAS) x $TLS_RATE_EACH msg/s, 64 B, QoS 1, ${TLS_SECONDS} s | Outpost (durability $DURABILITY) | mosquitto 2.0.11 (same cert) | target (issue 9) |")
    add("|---|---|---|---|")
    for key, name, unit, target in (("delivered", "delivered", "", ""),
                                    ("lost", "lost", "", "0"),
                                    ("duplicates", "duplicated", "", ""),
                                    ("latency_p50_us", "p50 latency µs", "", ""),
                                    ("latency_p99_us", "p99 latency µs", "", "≤ 5,000"),
                                    ("broker_cpu_us_per_msg", "broker CPU µs/msg", "", ""),
                                    ("broker_hwm_kib", "peak RSS MiB", "MiB", "≤ 250")):
        add(f"| {name} | {fmt(talk.get('outpost', {}).get(key), unit)} | "
            f"{fmt(talk.get('mosquitto', {}).get(key), unit)} | {target} |")

rest = {r["broker"]: r for r in rows if r.get("test") == "rest"}
if rest:
    add("")
    add("| at rest (started, no client; Outpost with $((PUBLISHERS + 1)) identities) | Outpost | mosquitto 2.0.11 | target (issue 9) |")
    add("|---|---|---|---|")
    for key, name in (("VmRSS", "RSS MiB"), ("RssAnon", "of which its own (anonymous) MiB"),
                      ("RssFile", "of which mapped files (library code, shared) MiB")):
        add(f"| {name} | {fmt(rest.get('outpost', {}).get(key), 'MiB')} | "
            f"{fmt(rest.get('mosquitto', {}).get(key), 'MiB')} | {'≤ 15 MiB' if key == 'VmRSS' else ''} |")

errors = [f"{r.get('broker')} {r.get('test')} rep {r.get('rep')}: {r.get('error') or r.get('first_error')}"
          for r in rows if r.get("error") or r.get("first_error")]
text = "\n".join(lines) + "\n"
if reps > 1:
    text += f"\nMedian [min–max] of {reps} interleaved repetitions; lost/duplicated are sums.\n"
if errors:
    text += "\nErrors:\n" + "".join(f"- {e}\n" for e in errors)
open(sys.argv[2], "w").write(text)
print(text)
EOF

{
  echo
  echo "Run: \`$0 ${1:-}\` at $started_at on $(uname -srm), $(nproc) CPUs ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)),"
  echo "Shared box: other users kept $busy_before (before) and $busy_after (after) of the $(nproc) CPUs busy (/proc/stat over 3 s with none of our processes running); load average before $load_before, after $load_after; broker and generator at nice $NICE."
  echo "Disk: fdatasync of a 300-byte append on the storage volume: $fsync_before before, $fsync_after after (perf-anchors §2: 120-133 µs p50 normally, ≈4 ms during host I/O stalls)."
  echo "Outpost $("$outpostd" --version 2>/dev/null | head -1 || true) (work tree at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- actors protocols routing storage 2>/dev/null || echo ', daemon sources modified')), durability $DURABILITY, group_commit_us $GROUP_COMMIT_US, checkpoint_interval_ms $CHECKPOINT_INTERVAL_MS, [hub] delivery_window $DELIVERY_WINDOW, max_pending_in $MAX_PENDING_IN, [runtime] threads $THREADS, io_threads $IO_THREADS, scheduler $SCHEDULER;"
  echo "mosquitto $("$MOSQUITTO" -h 2>/dev/null | sed -n 's/^mosquitto version //p') with persistence false, max_queued_messages 0, max_inflight_messages ${MQ_INFLIGHT:-20 (its default)}."
  echo "Fan-in: outpost-loadgen $(printf '%s ' "${common[@]}" "${throughput[@]}")(Outpost: device identities d1..d$PUBLISHERS with SAS tokens, subscriber module edge1/sink on its input via the route; mosquitto: anonymous, subscriber on devices/+/messages/events/#)."
  echo "Latency: the same with $(printf '%s ' "${latency[@]}")."
  echo "Broker CPU: /proc/<pid>/stat utime+stime from the start of publishing to the last delivery, per delivered message; peak RSS: VmHWM of a broker started fresh for each test."
} | tee -a "$out"

log "raw results ($results):"
cat "$results" >&2
log "table written to $out"
