#!/usr/bin/env bash
# Makes an OCI bundle (config.json + rootfs/) from Debian's busybox-static, the seed tutorials'
# way, for berth-runtime. Usage: scripts/make-busybox-bundle.sh DIR [ARGS...]
set -euo pipefail
dir=${1:?usage: make-busybox-bundle.sh DIR [ARGS...]}
shift || true
here=$(cd "$(dirname "$0")/.." && pwd)
[ -x /bin/busybox ] || { echo "make-busybox-bundle: /bin/busybox is missing; apt-get install busybox-static" >&2; exit 1; }
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc" "$dir/rootfs/proc" "$dir/rootfs/sys" "$dir/rootfs/dev" "$dir/rootfs/tmp" "$dir/rootfs/root"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$dir/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/rootfs/etc/group"
chmod 1777 "$dir/rootfs/tmp"
rm -f "$dir/config.json"
"$here/bin/berth-runtime" spec --bundle "$dir"
if [ "$#" -gt 0 ]; then
  args=$(printf '%s\n' "$@" | "$here/node_modules/.bin/bun" -e 'console.log(JSON.stringify((await Bun.stdin.text()).trimEnd().split("\n")))')
  "$here/node_modules/.bin/bun" -e "
    const f = '$dir/config.json'; const c = JSON.parse(await Bun.file(f).text());
    c.process.terminal = false; c.process.args = $args;
    await Bun.write(f, JSON.stringify(c, null, '\t'));"
fi
