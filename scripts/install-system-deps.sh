#!/usr/bin/env bash
# Debian packages Berth needs to build, run and test. Idempotent; quick when all are present.
set -euo pipefail
packages=(
  build-essential libseccomp-dev pkg-config   # the C core
  musl-tools                                  # a static, tiny per-container monitor
  tini                                        # berth run --init (tini-static)
  busybox-static                              # the embedded default image
  iproute2 nftables                           # networking
  runc crun                                   # peers for benchmarks and comparison
  containerd                                  # tests/containerd: berth-runtime as the runc v2 shim's binary
  bats golang-go jq gawk                      # scripts/runc-bats.sh (runc's integration suite), scripts/conformance.sh
  debootstrap                                 # Debian images for tests
  skopeo umoci                                # third-party image archives for import tests
  docker-registry                             # local registry for pull/push tests
  curl wrk hyperfine                          # HTTP checks and benchmarks
  python3 util-linux                          # test helpers (console socket, setpriv)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
