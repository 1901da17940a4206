#!/usr/bin/env bash
# The first command of the README: installs what Berth needs on a fresh Debian 12 machine,
# builds it, then runs a container twice: from an OCI bundle with berth-runtime, and from an
# image with berth. Everything is made locally from Debian's busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund
work=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== berth-runtime: an OCI bundle from busybox-static"
bash scripts/make-busybox-bundle.sh "$work/bundle" sh -c 'echo "hello from $(hostname): PID $$, alone in its namespaces:"; ps'
bin/berth-runtime --root "$work/runtime" run --bundle "$work/bundle" "demo-$$"

echo "== berth: busybox:latest as an image, then a container from it"
export BERTH_ROOT="$work/engine"
bash scripts/make-busybox-image.sh
bin/berth --root "$BERTH_ROOT" images
bin/berth --root "$BERTH_ROOT" run --rm --network none busybox sh -c 'echo "hello from a berth container ($(uname -n))"; cat /etc/hostname >/dev/null; ls /'
