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
  containernetworking-plugins                 # tests/containerd/cri.test.ts: CNI bridge/host-local/loopback (/usr/lib/cni)
  bats jq gawk                                # scripts/runc-bats.sh (runc's integration suite), scripts/conformance.sh
  debootstrap                                 # Debian images for tests
  skopeo umoci                                # third-party image archives for import tests
  docker-registry openssl                     # local registry for pull/push tests (openssl: TLS and token certificates)
  curl wrk hyperfine                          # HTTP checks and benchmarks
  python3 util-linux                          # test helpers (console socket, setpriv)
  tmux bsdutils                               # API tests: docker run/exec -it on a real terminal (tmux, script)
  docker-compose                              # API tests: Debian's compose 1.29 against berth system service
  systemd                                     # API tests: systemd-socket-activate (socket activation)
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

# --userns=auto: each container gets its own range of subordinate ids, taken from those of a
# system user "berth" (as Podman takes them from "containers"). The range is Podman's: from
# 2147483647 to 4294967294, disjoint from the ids a machine hands out to people (useradd gives
# 100000+65536*n); an existing berth entry is left as the admin set it.
if ! getent passwd berth >/dev/null; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin berth
fi
for f in /etc/subuid /etc/subgid; do
  touch "$f"
  grep -q '^berth:' "$f" || echo 'berth:2147483647:2147483648' >> "$f"
done
