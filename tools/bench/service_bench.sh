#!/usr/bin/env bash
# Issue 10's benchmarks: direct method round trips and the twin reported-patch rate, against a
# fresh outpostd (durability fsync) on this machine.
#
#   tools/bench/service_bench.sh            (CALLS=1000 DEVICES=100 DURATION=10 PAYLOAD=64)
#
# - Method round trip: tools/bench/method_rtt.js, CALLS sequential calls through the admin API
#   (`POST /twins/{d}/methods`) to an SDK device that answers at once: p50/p99 of the whole
#   trip (HTTP over the admin socket, the method router, the device's session, the SDK, back);
#   then the same from module `caller` with the SDK's ModuleClient.invokeMethod (HTTPS to
#   [listen] https; Node 20's agent keeps the TLS connection across calls): issue 10's
#   "module -> device" figure; then to a device that is not the Node SDK
#   (tools/bench/method_device.py), from the SDK and from tools/bench/method_caller.py (the
#   module's calls on one kept-alive TLS connection, no Node): what the hub itself adds.
# - Reported patches: outpost-loadgen with DEVICES devices (SAS) each publishing QoS 1
#   `$iothub/twin/PATCH/properties/reported/` patches ({"p":"xx.."}, PAYLOAD bytes) with up to
#   16 in flight; a PUBACK comes only once the patch is durable in the twin store, so acked/s
#   is the durable patch rate.
# Needs build/bin (or $OUTPOST_BIN_DIR) and tests/acceptance/node_modules (tools/dev.sh setup).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${OUTPOST_BIN_DIR:-$root/build/bin}"
CALLS="${CALLS:-1000}"
DEVICES="${DEVICES:-100}"
DURATION="${DURATION:-10}"
PAYLOAD="${PAYLOAD:-64}"

work="$(mktemp -d /tmp/outpost-service-bench.XXXXXX)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/config.toml" <<CFG
hostname = "localhost"
device_id = "edge1"
[storage]
dir = "$work/data"
durability = "fsync"
[listen]
metrics = "127.0.0.1:0"
admin_socket = ""
mqtt = "127.0.0.1:0"
mqtt_tls = "127.0.0.1:0"
https = "127.0.0.1:0"
amqp_tls = "127.0.0.1:0"
[hub]
max_unauthenticated_per_source = 100000
[log]
level = "warn"
CFG
"$bin/outpostd" --config "$work/config.toml" 2>"$work/outpostd.log" &
pid=$!
for _ in $(seq 100); do [ -s "$work/data/run/ports.json" ] && break; sleep 0.1; done
admin="$(jq -r .admin_socket "$work/data/run/ports.json")"
port="$(jq -r .mqtt "$work/data/run/ports.json" | sed 's/.*://')"
tls_port="$(jq -r .mqtt_tls "$work/data/run/ports.json" | sed 's/.*://')"
"$bin/outpost" --config "$work/config.toml" ca >"$work/ca.pem"

: >"$work/keys.txt"
for i in $(seq 1 "$DEVICES"); do
  curl -sS --unix-socket "$admin" -X POST -H 'Content-Type: application/json' \
    -d "{\"id\":\"t$i\"}" http://localhost/identities | jq -r '"\(.id) \(.primaryKey)"' >>"$work/keys.txt"
done
cs="$("$bin/outpost" --config "$work/config.toml" identity show t1 --connection-string)"

echo "method round trip ($CALLS sequential calls, admin API -> device t1 -> back):"
NODE_PATH="$root/tests/acceptance/node_modules" node "$root/tools/bench/method_rtt.js" \
  "$admin" "$cs" "$tls_port" "$work/ca.pem" "$CALLS"
https_port="$(jq -r .https "$work/data/run/ports.json" | sed 's/.*://')"
"$bin/outpost" --config "$work/config.toml" identity add module caller >/dev/null
module_cs="$("$bin/outpost" --config "$work/config.toml" identity show edge1/caller --connection-string)"
echo "method round trip ($CALLS sequential calls, module 'caller' ModuleClient.invokeMethod over HTTPS -> device t1 over MQTT -> back):"
NODE_PATH="$root/tests/acceptance/node_modules" node "$root/tools/bench/method_rtt.js" \
  "$admin" "$cs" "$tls_port" "$work/ca.pem" "$CALLS" "$module_cs" "$https_port"
metrics="$(jq -r .metrics "$work/data/run/ports.json")"
echo "  the hub's own view of the module's calls (edgehub_direct_method_duration_seconds, request in -> answer out, ms):"
curl -sS "http://$metrics/metrics" | grep '^edgehub_direct_method_duration_seconds{' | grep 'from="edge1/caller"' |
  sed -n 's/.*quantile="\([0-9.]*\)".* \([0-9.e+-]*\)$/  p\1 \2/p' | awk '{ printf "  %s %.3f\n", $1, $2 * 1000 }'

# The same calls to a device that is not the Node SDK: tools/bench/method_device.py (plain
# MQTT, answers at once), so the hub's view is the hub's own time plus a few syscalls.
t2_key="$(awk '$1 == "t2" { print $2 }' "$work/keys.txt")"
python3 "$root/tools/bench/method_device.py" 127.0.0.1 "$port" t2 "$t2_key" >"$work/device.out" &
device_pid=$!
for _ in $(seq 50); do grep -q ready "$work/device.out" 2>/dev/null && break; sleep 0.1; done
echo "method round trip ($CALLS sequential calls, module 'caller' ModuleClient.invokeMethod over HTTPS -> device t2 (method_device.py, plain MQTT) -> back):"
RTT_EXTERNAL_DEVICE=t2 NODE_PATH="$root/tests/acceptance/node_modules" node "$root/tools/bench/method_rtt.js" \
  "$admin" "$cs" "$tls_port" "$work/ca.pem" "$CALLS" "$module_cs" "$https_port"
echo "  the hub's own view of these calls (ms):"
curl -sS "http://$metrics/metrics" | grep '^edgehub_direct_method_duration_seconds{' | grep 'to="t2"' |
  sed -n 's/.*quantile="\([0-9.]*\)".* \([0-9.e+-]*\)$/  p\1 \2/p' | awk '{ printf "  %s %.3f\n", $1, $2 * 1000 }'
caller_key="$(sed 's/.*SharedAccessKey=\([^;]*\).*/\1/' <<<"$module_cs")"
echo "method round trip ($CALLS sequential calls, module 'caller' over one kept-alive HTTPS connection (method_caller.py) -> device t2 -> back):"
python3 "$root/tools/bench/method_caller.py" "$https_port" "$work/ca.pem" edge1 caller "$caller_key" t2 "$CALLS"
kill "$device_pid" 2>/dev/null || true


echo "reported patches ($DEVICES devices, QoS 1, $PAYLOAD B, durable, ${DURATION} s):"
"$bin/outpost-loadgen" --port "$port" --iothub-keys "$work/keys.txt" --id-template 't{n}' \
  --publishers "$DEVICES" --qos 1 --json-payload --payload "$PAYLOAD" --inflight 16 \
  --topic-template '$iothub/twin/PATCH/properties/reported/' --duration "$DURATION" \
  --broker-pid "$pid" |
  jq -c '{patches_per_s: .msgs_per_s, acked, unacked, broker_cpu_us_per_patch: .broker_cpu_us_per_msg, broker_rss_kib, error}'
"$bin/outpost" --config "$work/config.toml" twin show t1 | jq -c '{reported_version: .properties.reported."$version"}'
