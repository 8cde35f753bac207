#!/usr/bin/env bash
# Issue 12's benchmark: a child edge drains a backlog to its parent over the upstream link
# (one TLS AMQP connection). The parent is stopped while PUBLISHERS devices load MESSAGES
# messages (64 B, QoS 1, durable) into the child's $upstream queue; then the parent starts
# and the child drains into it (the parent stores each message durably in its sink module's
# mailbox before it settles it). Reports msgs/s of the drain, the time from the parent's
# start to the first delivery, and the child's peak RSS during the drain.
#
#   tools/bench/upstream_drain.sh [OUT.md]      (default /tmp/outpost-upstream-drain.md)
#
# Builds nothing: expects build/bin/{outpostd,outpost,outpost-loadgen}.
# Knobs: MESSAGES=1000000 PUBLISHERS=100 PAYLOAD=64 KEEP=0
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${OUTPOST_BIN_DIR:-$root/build/bin}"
out="${1:-/tmp/outpost-upstream-drain.md}"
MESSAGES="${MESSAGES:-1000000}"
PUBLISHERS="${PUBLISHERS:-100}"
PAYLOAD="${PAYLOAD:-64}"
KEEP="${KEEP:-0}"

for f in outpostd outpost outpost-loadgen; do
  [ -x "$bin/$f" ] || { echo "upstream_drain.sh: $bin/$f not found (build it first)" >&2; exit 2; }
done
for tool in curl jq python3; do
  command -v "$tool" >/dev/null || { echo "upstream_drain.sh: $tool is required" >&2; exit 2; }
done

work="$(mktemp -d /tmp/outpost-drain.XXXXXX)"
ppid_="" cpid=""
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
cleanup() {
  for p in $ppid_ $cpid; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then log "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p_amqp=$(free_port); p_https=$(free_port); c_mqtt=$(free_port)

manifest() { # ROUTE
  python3 - "$1" <<'PY'
import json, sys
print(json.dumps({"modulesContent": {
  "$edgeAgent": {"properties.desired": {"schemaVersion": "1.1",
    "runtime": {"type": "docker", "settings": {"minDockerVersion": "v1.25"}},
    "systemModules": {"edgeAgent": {"type": "docker", "settings": {"image": "a"}},
                      "edgeHub": {"type": "docker", "status": "running", "restartPolicy": "always",
                                  "settings": {"image": "h"}}},
    "modules": {}}},
  "$edgeHub": {"properties.desired": {"schemaVersion": "1.1", "routes": {"r": sys.argv[1]},
    "storeAndForwardConfiguration": {"timeToLiveSecs": 86400}}}}}))
PY
}

mkdir -p "$work/parent" "$work/child"
manifest 'FROM /messages/* INTO BrokeredEndpoint("/modules/sink/inputs/in")' >"$work/parent/manifest.json"
manifest 'FROM /messages/* INTO $upstream' >"$work/child/manifest.json"
cat >"$work/parent/config.toml" <<EOF
hostname = "localhost"
device_id = "parent1"
[storage]
dir = "$work/parent/data"
durability = "fsync"
[listen]
metrics = "127.0.0.1:0"
mqtt = ""
mqtt_tls = ""
amqp_tls = "127.0.0.1:$p_amqp"
https = "127.0.0.1:$p_https"
[agent]
manifest = "$work/parent/manifest.json"
[log]
level = "warn"
EOF

start() { # NAME -> pid in $started
  rm -f "$work/$1/data/run/ports.json"
  "$bin/outpostd" --config "$work/$1/config.toml" 2>>"$work/$1/outpostd.log" &
  started=$!
  for _ in $(seq 300); do
    [ -s "$work/$1/data/run/ports.json" ] && return 0
    kill -0 "$started" 2>/dev/null || { tail -20 "$work/$1/outpostd.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "upstream_drain.sh: $1 did not start" >&2; exit 1
}
admin() { jq -r '.admin_socket' "$work/$1/data/run/ports.json"; }
metric() { # NAME SERIES-PREFIX
  curl -s "http://$(jq -r '.metrics' "$work/$1/data/run/ports.json")/metrics" |
    awk -v p="$2" 'index($0, p) == 1 { s += $NF } END { printf "%d\n", s }'
}

# The parent: the child edge and the publishers below it.
start parent; ppid_=$started
edge_cs="$("$bin/outpost" --config "$work/parent/config.toml" identity add device child1 --edge-enabled)"
"$bin/outpost" --config "$work/parent/config.toml" ca >"$work/parent-ca.pem"
: >"$work/keys.txt"
for i in $(seq 1 "$PUBLISHERS"); do
  curl -sS --unix-socket "$(admin parent)" -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"d$i\",\"parent\":\"child1\"}" http://localhost/identities |
    jq -r '"\(.id) \(.primaryKey)"' >>"$work/keys.txt"
done
[ "$(grep -c ' null$' "$work/keys.txt" || true)" = 0 ] || { echo "identities failed" >&2; cat "$work/keys.txt" >&2; exit 1; }

cat >"$work/child/config.toml" <<EOF
hostname = "localhost"
device_id = "child1"
[storage]
dir = "$work/child/data"
durability = "fsync"
[listen]
metrics = "127.0.0.1:0"
mqtt = ""
mqtt_tls = "127.0.0.1:$c_mqtt"
amqp_tls = ""
https = ""
[agent]
manifest = "$work/child/manifest.json"
[hub]
max_unauthenticated_per_source = 1000000
[upstream]
connection_string = "$edge_cs"
parent_hostname = "127.0.0.1:$p_amqp"
parent_https = "127.0.0.1:$p_https"
trust_bundle = "$work/parent-ca.pem"
scope_refresh_secs = 1
[log]
level = "warn"
EOF
start child; cpid=$started
for _ in $(seq 100); do # the scope: the publishers are known to the child
  n=$("$bin/outpost" --config "$work/child/config.toml" identity list 2>/dev/null | grep -c '^d[0-9]' || true)
  [ "$n" -ge "$PUBLISHERS" ] && break
  sleep 0.2
done
"$bin/outpost" --config "$work/child/config.toml" ca >"$work/child-ca.pem"
kill -TERM "$ppid_"; wait "$ppid_" || true; ppid_=""
log "parent stopped; loading $MESSAGES messages into the child's \$upstream"

"$bin/outpost-loadgen" --host 127.0.0.1 --port "$c_mqtt" --tls --ca "$work/child-ca.pem" \
  --hub-hostname localhost --iothub-keys "$work/keys.txt" --publishers "$PUBLISHERS" \
  --payload "$PAYLOAD" --qos 1 --inflight 16 --messages "$MESSAGES" >"$work/load.json"
backlog=$(jq -r '.acked' "$work/load.json") # acknowledged = durable in the child's $upstream
log "backlog: $backlog acknowledged ($(jq -c '{msgs_per_s, broker_cpu_us_per_msg}' "$work/load.json"))"

fsync=$(python3 - "$work/probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
lat = []
for _ in range(300):
    os.write(fd, b"x" * 300); t = time.perf_counter_ns(); os.fdatasync(fd); lat.append(time.perf_counter_ns() - t)
os.close(fd); os.unlink(sys.argv[1]); lat.sort()
print(f"fdatasync p50 {lat[150]/1e3:.0f} µs, p99 {lat[296]/1e3:.0f} µs")
PY
)
rss_peak=0
start parent; ppid_=$started
t0=$(date +%s.%N)
first=""
while :; do
  sent=$(metric child 'edgehub_messages_sent_total{')
  now=$(date +%s.%N)
  if [ -z "$first" ] && [ "$sent" -gt 0 ]; then first=$(python3 -c "print($now - $t0)"); fi
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$cpid/status")
  [ "$rss" -gt "$rss_peak" ] && rss_peak=$rss
  [ "$sent" -ge "$backlog" ] && break
  python3 -c "import sys; sys.exit(0 if $now - $t0 < 900 else 1)" || { log "drain did not finish in 900 s"; break; }
  sleep 0.2
done
t1=$(date +%s.%N)
parent_got=$(metric parent 'edgehub_messages_received_total{')
python3 - "$out" "$backlog" "$sent" "$parent_got" "$t0" "$t1" "$first" "$rss_peak" "$PUBLISHERS" "$PAYLOAD" "$fsync" <<'PY'
import sys
out, backlog, sent, got, t0, t1, first, rss, pubs, payload, fsync = sys.argv[1:]
backlog, sent, got = int(backlog), int(sent), int(got)
t0, t1, first, rss = float(t0), float(t1), float(first or "nan"), int(rss)
drain = t1 - t0 - first
with open(out, "w") as f:
    f.write(f"Drain of a {backlog:,}-message backlog ({pubs} devices below the child, {payload} B, durable at both ends) child → parent over one AMQP/TLS connection.\n\n")
    f.write("| figure | value |\n|---|---|\n")
    f.write(f"| drain rate (first delivery to the last settled) | {sent / drain:,.0f} msgs/s |\n")
    f.write(f"| time from the parent's start (ports.json) to the first delivery | {first:.2f} s |\n")
    f.write(f"| sent by the child / received by the parent | {sent:,} / {got:,} |\n")
    f.write(f"| child's peak RSS during the drain | {rss/1024:.1f} MiB |\n")
    f.write(f"\nThis machine: {fsync}.\n")
print(open(out).read())
PY
