#!/usr/bin/env bash
# Issue 13, item 1: the Debian package on this (container-free) machine. Builds it with CPack
# from the build tree, checks it with lintian, installs it with dpkg, starts outpostd as the
# `outpost` user with the packaged configuration (the unit's one capability, to bind 443),
# expects `outpost check` all green, then `dpkg -r` (store and configuration stay) and
# `dpkg --purge` (both go, and the user). Changes the system: ctest runs it alone (RUN_SERIAL)
# and it purges the package whatever happens.
# Usage: package_install_test.sh BUILD_DIR
set -euo pipefail
build_dir="$1"
log="$(mktemp -d /tmp/outpost-package-XXXXXX)"
daemon_pid=""

fail() { echo "FAIL: $*" >&2; exit 1; }
cleanup() {
  if [ -n "$daemon_pid" ]; then kill -TERM "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  dpkg --purge outpost >/dev/null 2>&1 || true
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i)"
if dpkg-query -W -f='${Status}' outpost 2>/dev/null | grep -q "installed"; then
  fail "a package outpost is already installed on this machine; not touching it"
fi

(cd "$build_dir" && cpack -G DEB >"$log/cpack.log" 2>&1) || { cat "$log/cpack.log"; fail "cpack"; }
deb="$(ls "$build_dir"/outpost_*_amd64.deb)"
echo "package: $deb ($(stat -c %s "$deb") bytes)"

# lintian: no error and no warning (overrides, each explained, in deploy/debian/lintian-overrides).
lintian --fail-on error,warning "$deb" >"$log/lintian.log" 2>&1 || { cat "$log/lintian.log"; fail "lintian"; }
echo "lintian: clean"

dpkg -i "$deb" >"$log/dpkg-i.log" 2>&1 || { cat "$log/dpkg-i.log"; fail "dpkg -i"; }
getent passwd outpost >/dev/null || fail "no system user outpost"
[ "$(stat -c %U /var/lib/outpost)" = outpost ] || fail "/var/lib/outpost is not outpost's"
[ -x /usr/bin/outpostd ] && [ -x /usr/bin/outpost ] || fail "binaries not in /usr/bin"
dpkg-query -W -f='${Conffiles}\n' outpost | grep -q "/etc/outpost/config.toml" \
  || fail "/etc/outpost/config.toml is not a conffile"
[ -f /lib/systemd/system/outpostd.service ] || fail "no systemd unit"
grep -q "^User=outpost" /lib/systemd/system/outpostd.service || fail "the unit does not run as outpost"
ldd /usr/bin/outpostd | grep -q "not found" && fail "outpostd misses a library: $(ldd /usr/bin/outpostd | grep 'not found')"
echo "installed: user, store folder, binaries, conffile, unit"

# As the unit runs it: user outpost, CAP_NET_BIND_SERVICE only.
setpriv --reuid=outpost --regid=outpost --init-groups --inh-caps=-all,+net_bind_service \
  --ambient-caps=-all,+net_bind_service --bounding-set=-all,+net_bind_service \
  /usr/bin/outpostd --config /etc/outpost/config.toml >"$log/outpostd.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do
  [ -f /var/lib/outpost/run/ports.json ] && break
  kill -0 "$daemon_pid" 2>/dev/null || { cat "$log/outpostd.log"; fail "outpostd exited"; }
  sleep 0.1
done
[ -f /var/lib/outpost/run/ports.json ] || { cat "$log/outpostd.log"; fail "no ports.json"; }
[ "$(ps -o user= -p "$daemon_pid")" = outpost ] || fail "outpostd does not run as outpost"

# The CLI finds the daemon through /etc/outpost/config.toml by default.
if ! outpost check >"$log/check.log" 2>&1; then
  cat "$log/check.log"; cat "$log/outpostd.log"; fail "outpost check"
fi
cat "$log/check.log"
grep -q "✗" "$log/check.log" && fail "outpost check has a red line"
grep -q "outpostd outpost running" "$log/check.log" || fail "outpost check did not reach the daemon"

kill -TERM "$daemon_pid"
wait "$daemon_pid" || fail "outpostd exit code $? on SIGTERM"
daemon_pid=""

dpkg -r outpost >"$log/dpkg-r.log" 2>&1 || { cat "$log/dpkg-r.log"; fail "dpkg -r"; }
[ ! -e /usr/bin/outpostd ] || fail "dpkg -r left /usr/bin/outpostd"
[ -d /var/lib/outpost/db ] || fail "dpkg -r removed the store"
[ -f /etc/outpost/config.toml ] || fail "dpkg -r removed the configuration"
echo "removed: binaries gone, store and configuration kept"

dpkg --purge outpost >"$log/dpkg-purge.log" 2>&1 || { cat "$log/dpkg-purge.log"; fail "dpkg --purge"; }
[ ! -e /var/lib/outpost ] || fail "purge left /var/lib/outpost"
[ ! -e /etc/outpost ] || fail "purge left /etc/outpost"
getent passwd outpost >/dev/null && fail "purge left the user outpost"
echo "purged: store, configuration and user gone"
rm -rf "$log"
echo "PASS"
