#!/usr/bin/env bash
# Builds busybox:latest from Debian's static busybox (package busybox-static) and imports it:
# a root filesystem with /bin/busybox, a symlink per applet, /etc/passwd and /etc/group.
# Reproducible: fixed mtimes, so running it twice gives the same layer digest.
#
#   scripts/make-busybox-image.sh [TAG]          (default busybox:latest; BERTH_ROOT picks the store)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-busybox:latest}
busybox=${BUSYBOX:-/bin/busybox}
if ! "$busybox" --list-full >/dev/null 2>&1; then
  echo "make-busybox-image: $busybox is not a busybox binary; install busybox-static (apt-get install busybox-static)" >&2
  exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
  echo "make-busybox-image: $busybox is dynamically linked; the image needs the static one (busybox-static)" >&2
  exit 1
fi

root=$(mktemp -d /tmp/berth-busybox-XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,tmp,var/tmp,proc,sys,dev,run}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
install -m 0755 "$busybox" "$root/bin/busybox"
# One process for every applet link (/bin/ls -> /bin/busybox, /usr/sbin/... likewise): busybox
# installs its own symlinks, run chrooted so they land in the new tree.
chroot "$root" /bin/busybox --install -s
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
daemon:x:1:
nogroup:x:65534:
GROUP
echo "nameserver 127.0.0.1" > "$root/etc/resolv.conf"
touch "$root/etc/hostname" "$root/etc/hosts"
find "$root" -exec touch -h -d @1700000000 {} +

BUN=${BUN:-node_modules/.bin/bun}
"$BUN" src/cli/berth/image.ts import "$root" "$tag" -q \
  -c 'CMD ["sh"]' \
  -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' \
  -m "busybox $("$busybox" | head -1 | awk '{print $2}') from Debian busybox-static"
echo "made $tag" >&2
