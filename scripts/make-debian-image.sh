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
if [ -z "$tag" ]; then
  if [ $nginx = 1 ]; then tag=debian:bookworm-nginx; else tag=debian:bookworm; fi
fi
command -v debootstrap >/dev/null || { echo "make-debian-image: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }

# the mirror apt is configured with (deb822 "URIs:" or one-line "deb URL suite")
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
  awk '/^URIs:/ {print $2} /^deb / {for (i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; break}}' |
  grep -v -- '-security' | head -1 || true)
mirror=${mirror:-http://deb.debian.org/debian}

suffix=""
if [ $nginx = 1 ]; then suffix+=-nginx; fi
if [ $keep = 1 ]; then suffix+=-full; fi
cache=${BERTH_CACHE:-/var/cache/berth}/debian-$suite$suffix
# "$cache.ok" marks a finished debootstrap (kept outside the tree so it is not in the image)
if [ $rebuild = 1 ] || [ ! -f "$cache.ok" ] || [ ! -d "$cache" ]; then
  rm -rf "$cache.tmp" "$cache.ok"
  mkdir -p "$(dirname "$cache")"
  include=()
  if [ $nginx = 1 ]; then include=(--include=nginx-light); fi
  echo "debootstrap --variant=minbase ${include[*]} $suite from $mirror …" >&2
  debootstrap --variant=minbase "${include[@]}" "$suite" "$cache.tmp" "$mirror" >&2
  # what a container image does not need: downloaded packages and package lists
  [ $keep = 1 ] || rm -rf "$cache.tmp"/var/cache/apt/archives/*.deb "$cache.tmp"/var/lib/apt/lists/* "$cache.tmp"/var/log/*.log
  rm -rf "$cache"
  mv "$cache.tmp" "$cache"
  touch "$cache.ok"
fi

BUN=${BUN:-node_modules/.bin/bun}
changes=(-c 'CMD ["bash"]' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
what="debootstrap --variant=minbase $suite"
if [ $nginx = 1 ]; then
  changes=(-c 'CMD ["nginx","-g","daemon off;"]' -c 'EXPOSE 80' -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
  what+=" + nginx-light"
fi
"$BUN" src/cli/berth/image.ts import "$cache" "$tag" -q "${changes[@]}" -m "$what"
echo "made $tag" >&2
