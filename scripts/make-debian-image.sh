#!/usr/bin/env bash
# Builds debian:bookworm with debootstrap (variant minbase) from the Debian mirror this host's
# apt uses, and imports it. --nginx adds nginx-light (the bench image). The debootstrap tree is
# cached in $BERTH_CACHE (default /var/cache/berth) so a second run only imports.
#
#   scripts/make-debian-image.sh [--nginx] [--tag NAME] [--rebuild] [--keep-apt-cache]
#   (BERTH_ROOT picks the store; --keep-apt-cache keeps debootstrap's downloaded .debs, which
#   gives the ~225 MB one-layer image bench/image-load.ts and the issue measure)
set -euo pipefail
cd "$(dirname "$0")/.."
nginx=0 tag="" rebuild=0 keep=0 suite=bookworm
while [ $# -gt 0 ]; do
  case "$1" in
    --nginx) nginx=1 ;;
    --tag) tag=$2; shift ;;
    --rebuild) rebuild=1 ;;
    --keep-apt-cache) keep=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "make-debian-image: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$tag" ] || { if [ $nginx = 1 ]; then tag=debian:bookworm-nginx; else tag=debian:bookworm; fi; }
command -v debootstrap >/dev/null || { echo "make-debian-image: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }

# the mirror apt is configured with (deb822 "URIs:" or one-line "deb URL suite")
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
  awk '/^URIs:/ {print $2} /^deb / {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; break}}' |
  grep -v -- '-security' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

cache=${BERTH_CACHE:-/var/cache/berth}/debian-$suite$([ $nginx = 1 ] && echo -nginx)$([ $keep = 1 ] && echo -full)
if [ $rebuild = 1 ] || [ ! -f "$cache/.complete" ]; then
  rm -rf "$cache.tmp"
  mkdir -p "$(dirname "$cache")"
  include=()
  [ $nginx = 1 ] && include=(--include=nginx-light)
  echo "debootstrap --variant=minbase ${include[*]} $suite from $mirror …" >&2
  debootstrap --variant=minbase "${include[@]}" "$suite" "$cache.tmp" "$mirror" >&2
  # what a container image does not need: downloaded packages and package lists
  [ $keep = 1 ] || rm -rf "$cache.tmp"/var/cache/apt/archives/*.deb "$cache.tmp"/var/lib/apt/lists/* "$cache.tmp"/var/log/*.log
  touch "$cache.tmp/.complete"
  rm -rf "$cache"
  mv "$cache.tmp" "$cache"
fi

BUN=${BUN:-node_modules/.bin/bun}
changes=(-c 'CMD ["bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
[ $nginx = 1 ] && changes=(-c 'CMD ["nginx","-g","daemon off;"]' -c 'EXPOSE 80' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
# .complete is our marker, not part of the image
tmpdir=$(mktemp -d /tmp/berth-debian-XXXXXX)
trap 'umount "$tmpdir" 2>/dev/null || true; rmdir "$tmpdir"' EXIT
mount --bind -o ro "$cache" "$tmpdir"
"$BUN" src/cli/berth/image.ts import "$tmpdir" "$tag" -q "${changes[@]}" -m "debootstrap --variant=minbase $suite$([ $nginx = 1 ] && echo ' + nginx-light')"
echo "made $tag" >&2
