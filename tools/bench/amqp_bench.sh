#!/usr/bin/env bash
# AMQP against MQTT on one Outpost, same run, same machine (issue 11's benchmark): fan-in of
# PUBLISHERS devices (256 B, durable: storage.durability = "fsync", each message settled /
# PUBACKed only once it is in the sink module's mailbox on disk), both over TLS, closed loop with
# INFLIGHT unacknowledged messages per device; then the hub's RSS per idle AMQP connection
# (IDLE authenticated connections, each with its events link attached) next to MQTT's.
# Each rep runs the MQTT load, then the AMQP load twice: outpost-amqp-loadgen's raw engine
# (one epoll thread, the headline AMQP/MQTT ratio) and its Proton engine (Qpid Proton's
# container, several times the client CPU per message: on 2 shared cores it measures the
# client as much as the hub). Every row carries the generator's own CPU per message.
#
#   tools/bench/amqp_bench.sh [OUT.md]      (default /tmp/outpost-amqp-bench.md)
#
# Builds nothing: expects build/bin/{outpostd,outpost,outpost-loadgen,outpost-amqp-loadgen}.
# Knobs: PUBLISHERS=100 PAYLOAD=256 INFLIGHT=16 DURATION=10 REPS=3 IDLE=1000 KEEP=0
#   ENGINES="raw proton" (the AMQP engines each rep runs)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${OUTPOST_BIN_DIR:-$root/build/bin}"
out="${1:-/tmp/outpost-amqp-bench.md}"
PUBLISHERS="${PUBLISHERS:-100}"
PAYLOAD="${PAYLOAD:-256}"
INFLIGHT="${INFLIGHT:-16}"
DURATION="${DURATION:-10}"
REPS="${REPS:-3}"
IDLE="${IDLE:-1000}"
KEEP="${KEEP:-0}"
ENGINES="${ENGINES:-raw proton}" # the AMQP loadgen engines each rep runs

for f in outpostd outpost outpost-loadgen outpost-amqp-loadgen; do
  [ -x "$bin/$f" ] || { echo "amqp_bench.sh: $bin/$f not found (build it first)" >&2; exit 2; }
done
for tool in curl jq python3; do
  command -v "$tool" >/dev/null || { echo "amqp_bench.sh: $tool is required" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work="$(mktemp -d /tmp/outpost-amqp-bench.XXXXXX)"
pid=""
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  if [ "$KEEP" = 1 ]; then log "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The route of compare.sh: device telemetry into the (unread) sink module's mailbox.
cp "$root/tools/bench/sink_manifest.json" "$work/manifest.json"
cat >"$work/config.toml" <<EOF
hostname = "localhost"
device_id = "edge1"
[storage]
dir = "$work/data"
durability = "fsync"
[listen]
metrics = ""
mqtt = ""
mqtt_tls = "127.0.0.1:0"
amqp_tls = "127.0.0.1:0"
https = ""
[agent]
manifest = "$work/manifest.json"
[hub]
max_unauthenticated_per_source = 1000000
[log]
level = "warn"
EOF

start() {
  rm -rf "$work/data/messages" # a fresh store per run (identities and keys stay)
  rm -f "$work/data/run/ports.json"
  "$bin/outpostd" --config "$work/config.toml" 2>>"$work/outpostd.log" &
  pid=$!
  for _ in $(seq 300); do
    [ -s "$work/data/run/ports.json" ] && break
    kill -0 "$pid" 2>/dev/null || { tail -20 "$work/outpostd.log" >&2; exit 1; }
    sleep 0.1
  done
  mqtt_port="$(jq -r '.mqtt_tls' "$work/data/run/ports.json" | sed 's/.*://')"
  amqp_port="$(jq -r '.amqp_tls' "$work/data/run/ports.json" | sed 's/.*://')"
  admin="$(jq -r '.admin_socket' "$work/data/run/ports.json")"
}
stop() { kill -TERM "$pid"; wait "$pid" || true; pid=""; }

identities() { # FILE PREFIX COUNT
  local cfg="$work/curl.cfg"
  : >"$cfg"
  for i in $(seq 1 "$3"); do
    [ "$i" -gt 1 ] && echo next >>"$cfg"
    printf 'unix-socket = "%s"\nurl = "http://localhost/identities"\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{\\"id\\":\\"%s%d\\"}"\n' \
      "$admin" "$2" "$i" >>"$cfg"
  done
  curl -sS -K "$cfg" | jq -r 'select(.primaryKey != null) | "\(.id) \(.primaryKey)"' >>"$1"
}

fsync_p99() {
  python3 - "$work/probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
lat = []
for _ in range(300):
    os.write(fd, b"x" * 300); t = time.perf_counter_ns(); os.fdatasync(fd); lat.append(time.perf_counter_ns() - t)
os.close(fd); os.unlink(sys.argv[1]); lat.sort()
print(f"p50 {lat[150]/1e3:.0f} us, p99 {lat[296]/1e3:.0f} us")
PY
}

start
: >"$work/keys.txt"
identities "$work/keys.txt" d "$PUBLISHERS"
curl -sS --unix-socket "$admin" -X POST -H 'Content-Type: application/json' \
  -d '{"id":"sink","type":"module"}' http://localhost/identities >/dev/null
: >"$work/idle-keys.txt"
identities "$work/idle-keys.txt" i "$IDLE"
"$bin/outpost" --config "$work/config.toml" ca >"$work/ca.pem"
stop
log "identities: $(wc -l <"$work/keys.txt") publishers, $(wc -l <"$work/idle-keys.txt") idle; fdatasync $(fsync_p99)"

common=(--host 127.0.0.1 --ca "$work/ca.pem" --hub-hostname localhost --publishers "$PUBLISHERS"
        --payload "$PAYLOAD" --inflight "$INFLIGHT")
: >"$work/results.jsonl"
for rep in $(seq 1 "$REPS"); do
  start
  log "rep $rep: MQTT/TLS fan-in"
  "$bin/outpost-loadgen" "${common[@]}" --port "$mqtt_port" --tls --iothub-keys "$work/keys.txt" \
    --qos 1 --duration "$DURATION" --broker-pid "$pid" | jq -c '. + {protocol: "mqtt"}' \
    >>"$work/results.jsonl"
  stop
  for engine in $ENGINES; do
    start
    log "rep $rep: AMQP/TLS fan-in, $engine engine"
    "$bin/outpost-amqp-loadgen" "${common[@]}" --engine "$engine" --port "$amqp_port" \
      --iothub-keys "$work/keys.txt" --duration "$DURATION" --broker-pid "$pid" \
      >>"$work/results.jsonl"
    stop
  done
done
start
sleep 1
log "idle: $IDLE AMQP connections (raw engine)"
"$bin/outpost-amqp-loadgen" --engine raw --host 127.0.0.1 --port "$amqp_port" \
  --ca "$work/ca.pem" --iothub-keys "$work/idle-keys.txt" --id-template 'i{n}' --idle "$IDLE" \
  --hold 3 --broker-pid "$pid" | jq -c '. + {test: "idle"}' >>"$work/results.jsonl"
stop
cat "$work/results.jsonl" >&2

python3 - "$work/results.jsonl" "$out" "$PUBLISHERS" "$PAYLOAD" "$INFLIGHT" "$DURATION" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def rate(r):
    return r.get("msgs_per_s") or r.get("acked_per_s") or r.get("delivered_per_s") or 0
def loadgen_us(r):
    if "loadgen_cpu_us_per_msg" in r:
        return r["loadgen_cpu_us_per_msg"]
    done = r.get("acked") or r.get("delivered") or 0  # outpost-loadgen: CPU over its whole run
    return r["loadgen_cpu_s"] * 1e6 / done if "loadgen_cpu_s" in r and done else None
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def fmt(x, spec):
    return format(x, spec) if x is not None else "–"
load = [r for r in rows if r.get("test") != "idle"]
configs = [("MQTT/TLS (`outpost-loadgen --tls`)", [r for r in load if r.get("protocol") == "mqtt"]),
           ("AMQP/TLS, raw loadgen (`--engine raw`)",
            [r for r in load if r.get("protocol") == "amqp" and r.get("engine") == "raw"]),
           ("AMQP/TLS, Proton sender (`--engine proton`)",
            [r for r in load if r.get("protocol") == "amqp" and r.get("engine") == "proton"])]
mqtt = med([rate(r) for r in configs[0][1]])
raw = med([rate(r) for r in configs[1][1]])
idle = [r for r in rows if r.get("test") == "idle"]
with open(sys.argv[2], "w") as f:
    f.write(f"Durable fan-in over TLS: {sys.argv[3]} devices, {sys.argv[4]} B, {sys.argv[5]} in flight each, "
            f"{sys.argv[6]} s per run; medians. AMQP/MQTT is the raw loadgen's (the Proton row's in parentheses).\n\n")
    f.write("| load | msgs/s | AMQP/MQTT | hub CPU µs/msg | loadgen CPU µs/msg | refused | runs, msgs/s |\n")
    f.write("|---|---|---|---|---|---|---|\n")
    for name, rs in configs:
        if not rs:
            continue
        m = med([rate(r) for r in rs])
        ratio = ""
        if mqtt and rs is not configs[0][1]:
            ratio = f"{m/mqtt:.2f}×" if rs is configs[1][1] else f"({m/mqtt:.2f}×)"
        refused = sum(r.get("refused", 0) for r in rs) if rs is not configs[0][1] else "–"
        runs = " / ".join(f"{rate(r):,.0f}" for r in rs)
        f.write(f"| {name} | {m:,.0f} | {ratio} | {fmt(med([r.get('broker_cpu_us_per_msg') for r in rs]), '.1f')} "
                f"| {fmt(med([loadgen_us(r) for r in rs]), '.2f')} | {refused} | {runs} |\n")
    if idle:
        f.write(f"\n| idle AMQP connections (raw loadgen; authenticated, events link attached) | ready | hub RSS per connection |\n|---|---|---|\n")
        f.write(f"| {idle[0].get('idle_connections')} | {idle[0].get('connections_ready')} | {idle[0].get('rss_per_connection_kib', 0):.1f} KiB |\n")
print(open(sys.argv[2]).read())
PY
