#!/usr/bin/env bash
# The first command of the README: installs what Berth needs on a fresh Debian 12 machine,
# builds it, makes a busybox bundle from Debian's busybox-static and runs a container in it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
npm ci --no-audit --no-fund
bundle=$(mktemp -d /tmp/berth-demo.XXXXXX)
trap 'rm -rf "$bundle"' EXIT
bash scripts/make-busybox-bundle.sh "$bundle" sh -c 'echo "hello from $(hostname), PID $$, in a container:"; ps; ls /'
echo "== bin/berth-runtime run demo (bundle $bundle)"
bin/berth-runtime --root /run/berth-runtime-demo run --bundle "$bundle" "demo-$$"
