#!/usr/bin/env bash
# Issue 8 §9: does a big /metrics scrape move MQTT latency? outpostd (durability fsync) with
# DEVICES device identities that have each published (so /metrics holds their series: several
# MB), then the same paced QoS 1 load (LAT_RATE msgs/s from PUBLISHERS of them to one module
# input) twice: quiet, and while SCRAPERS loops GET /metrics every SCRAPE_INTERVAL seconds (0 =
# back to back; Prometheus' default is 15 s). Prints p50/p99/max of both and the scrape size.
#
#   tools/bench/scrape_p99.sh            (knobs: DEVICES=5000 PUBLISHERS=100 LAT_RATE=10000
#                                          LAT_MESSAGES=50000 SCRAPERS=1 SCRAPE_INTERVAL=1
#                                          IO_THREADS=0 REPS=2 LEGACY=0)
# Expects build/bin/{outpostd,outpost-loadgen} (or $OUTPOST_BIN_DIR).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${OUTPOST_BIN_DIR:-$root/build/bin}"
DEVICES="${DEVICES:-5000}"
PUBLISHERS="${PUBLISHERS:-100}"
LAT_RATE="${LAT_RATE:-10000}"
LAT_MESSAGES="${LAT_MESSAGES:-50000}"
SCRAPERS="${SCRAPERS:-1}"
SCRAPE_INTERVAL="${SCRAPE_INTERVAL:-1}"
IO_THREADS="${IO_THREADS:-0}"
REPS="${REPS:-2}"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work="$(mktemp -d /tmp/outpost-scrape.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

cat >"$work/manifest.json" <<'EOF'
{"modulesContent": {
  "$edgeAgent": {"properties.desired": {"schemaVersion": "1.1",
    "runtime": {"type": "docker", "settings": {"minDockerVersion": "v1.25"}},
    "systemModules": {"edgeAgent": {"type": "docker", "settings": {"image": "a"}},
      "edgeHub": {"type": "docker", "status": "running", "restartPolicy": "always", "settings": {"image": "h"}}},
    "modules": {}}},
  "$edgeHub": {"properties.desired": {"schemaVersion": "1.1",
    "routes": {"toSink": "FROM /messages/* WHERE NOT IS_DEFINED($connectionModuleId) INTO BrokeredEndpoint(\"/modules/sink/inputs/in1\")"},
    "storeAndForwardConfiguration": {"timeToLiveSecs": 7200}}}}}
EOF
cat >"$work/config.toml" <<EOF
hostname = "localhost"
device_id = "edge1"
[storage]
dir = "$work/data"
[listen]
metrics = "127.0.0.1:0"
mqtt = "127.0.0.1:0"
mqtt_tls = ""
https = ""
amqp_tls = ""
[agent]
manifest = "$work/manifest.json"
[log]
level = "warn"
EOF
# LEGACY=1: binaries from before these keys (64f5c27), for a before/after run.
if [ "${LEGACY:-0}" != 1 ]; then
  printf '[hub]\nmax_unauthenticated_per_source = 0\n[runtime]\nio_threads = %s\n' \
    "$IO_THREADS" >>"$work/config.toml"
fi
"$bin/outpostd" --config "$work/config.toml" 2>"$work/outpostd.log" &
op_pid=$!
pids+=("$op_pid")
for _ in $(seq 300); do [ -s "$work/data/run/ports.json" ] && break; sleep 0.1; done
mqtt_port="$(jq -r '.mqtt' "$work/data/run/ports.json" | sed 's/.*://')"
metrics="$(jq -r '.metrics' "$work/data/run/ports.json")"
sock="$(jq -r '.admin_socket' "$work/data/run/ports.json")"

# Identities through the admin API, one curl process for all of them.
cfg="$work/curl.cfg"
: >"$cfg"
for i in $(seq 1 "$DEVICES") sink; do
  id="d$i"; type=device
  [ "$i" = sink ] && { id=sink; type=module; }
  [ -s "$cfg" ] && echo next >>"$cfg"
  printf 'unix-socket = "%s"\nurl = "http://localhost/identities"\nrequest = "POST"\nheader = "Content-Type: application/json"\ndata = "{\\"id\\":\\"%s\\",\\"type\\":\\"%s\\"}"\n' \
    "$sock" "$id" "$type" >>"$cfg"
done
curl -sS -K "$cfg" | jq -r 'select(.primaryKey != null) | "\(.id) \(.primaryKey)"' >"$work/keys.all"
grep -v '^edge1/sink ' "$work/keys.all" >"$work/keys.devices"
head -n "$PUBLISHERS" "$work/keys.devices" >"$work/keys.pub"
grep '^edge1/sink ' "$work/keys.all" >>"$work/keys.pub"
cp "$work/keys.all" "$work/keys.every"

run_loadgen() { # KEYS PUBLISHERS MESSAGES RATE
  "$bin/outpost-loadgen" --port "$mqtt_port" --iothub-keys "$1" --id-template 'd{n}' \
    --publishers "$2" --subscriber edge1/sink \
    --subscribe-topic 'devices/edge1/modules/sink/inputs/#' --messages "$3" --rate "$4" \
    --drain-timeout 60
}

# Every device publishes a little once: its series (received, sizes, sent, latency) appear.
run_loadgen "$work/keys.every" "$DEVICES" "$((DEVICES * 2))" 0 >/dev/null
bytes="$(curl -s "http://$metrics/metrics" | wc -c)"
echo "scrape: $bytes bytes of /metrics from $DEVICES devices"

scrape_loop() {
  while :; do
    nice -n 19 curl -s -o /dev/null "http://$metrics/metrics" # the scraper is not the broker
    [ "$SCRAPE_INTERVAL" = 0 ] || sleep "$SCRAPE_INTERVAL"
  done
}

printf '| run | scrapers | p50 us | p99 us | max us | delivered | lost |\n|---|---|---|---|---|---|---|\n'
for rep in $(seq 1 "$REPS"); do
  for mode in quiet scraping; do
    loops=()
    if [ "$mode" = scraping ]; then
      for _ in $(seq 1 "$SCRAPERS"); do scrape_loop & loops+=($!); done
      sleep 0.5
    fi
    line="$(run_loadgen "$work/keys.pub" "$PUBLISHERS" "$LAT_MESSAGES" "$LAT_RATE")"
    for p in "${loops[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    echo "$line" >>"$work/results.jsonl"
    echo "$line" | jq -r --arg m "$mode $rep" --arg s "$([ "$mode" = scraping ] && echo "$SCRAPERS" || echo 0)" \
      '"| \($m) | \($s) | \(.latency_p50_us) | \(.latency_p99_us) | \(.latency_max_us) | \(.delivered) | \(.lost) |"'
  done
done
echo "raw: $work/results.jsonl"
