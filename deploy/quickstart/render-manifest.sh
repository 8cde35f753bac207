#!/usr/bin/env bash
# Renders manifest.template.json into OUT with the absolute path and SHA-256 digest of each
# sample module (the agent starts only executables whose digest matches the deployment).
#   deploy/quickstart/render-manifest.sh OUT
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:?usage: render-manifest.sh OUT}"
modules="$here/modules"
digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
mkdir -p "$(dirname "$out")"
sed -e "s|@MODULES_DIR@|$modules|g" \
    -e "s|@FILTER_DIGEST@|$(digest "$modules/filter.js")|g" \
    -e "s|@TEMP_SENSOR_DIGEST@|$(digest "$modules/temp-sensor.js")|g" \
    "$here/manifest.template.json" >"$out.tmp"
mv "$out.tmp" "$out"
