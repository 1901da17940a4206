#!/usr/bin/env bash
# runc's own integration suite (tests/integration, bats) against berth-runtime and against runc,
# on this machine, with a per-test comparison.
#
#   scripts/runc-bats.sh check                     say what the suite at $SUITE still lacks
#   scripts/runc-bats.sh images                    make the suite's busybox images from this host's busybox
#   scripts/runc-bats.sh [run] [FILE.bats...]      run the suite (or the named files) with both runtimes
#   scripts/runc-bats.sh compare OUTDIR            verdicts and comparison again from a run's TAP files
#
# SUITE is a prepared copy of runc's source tree at the tag you want to measure: its files (e.g.
# `git archive TAG` of a runc clone), with the test helpers that its tests/integration/helpers.bash
# names (recvtty, sd-helper, seccompagent, …) already built there as runc's own Makefile builds
# them. This script builds nothing of runc's and downloads nothing: `check` lists what is missing;
# `images` replaces the suite's image download (get-images.sh) with two local images made from
# this machine's busybox-static (docker's busybox users and groups; the "debian" image, which only
# hooks.bats uses for ldconfig, is the same tree plus the host's static ldconfig).
#
# Environment: SUITE (default /tmp/runc-bats/src), RUNTIMES (default "berth-runtime runc"),
# BERTH_RUNTIME (default <repo>/bin/berth-runtime), REF_RUNC (default /usr/sbin/runc), TIMEOUT
# (seconds per .bats file, default 600), OUT (default a new /tmp/runc-bats-out.XXXX).
# Needs root, bats, jq, gawk, busybox-static, script (util-linux). Not part of `npm test`: CI has
# no runc source.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
SUITE=${SUITE:-/tmp/runc-bats/src}
RUNTIMES=${RUNTIMES:-"berth-runtime runc"}
BERTH_RUNTIME=${BERTH_RUNTIME:-$repo/bin/berth-runtime}
REF_RUNC=${REF_RUNC:-/usr/sbin/runc}
TIMEOUT=${TIMEOUT:-600}
suite_tests=$SUITE/tests/integration

die() { echo "runc-bats: $*" >&2; exit 2; }

# The helper programs the suite runs, relative to the tree, as its helpers.bash names them
# (contrib/cmd/X/X up to v1.1, tests/cmd/X/X in v1.2, $TESTBINDIR/X = tests/cmd/_bin/X from v1.3).
helper_paths() {
  {
    grep -ho '"${INTEGRATION_ROOT}/\.\./\.\./[A-Za-z0-9_/.-]*"' "$suite_tests/helpers.bash" |
      sed 's|^"${INTEGRATION_ROOT}/\.\./\.\./||; s|"$||' | grep -v '^runc$'
    grep -hoE '\$\{?TESTBINDIR\}?/[A-Za-z0-9_-]+' "$suite_tests/helpers.bash" "$suite_tests"/*.bats |
      sed -E 's|^\$\{?TESTBINDIR\}?/|tests/cmd/_bin/|'
  } | sort -u
}

# What the suite at $SUITE lacks before it can run, said once, all of it. Exit 0 when nothing.
check() {
  local problems=() tool h
  for tool in bats jq gawk script; do command -v "$tool" >/dev/null || problems+=("$tool is not installed (scripts/install-system-deps.sh installs it)"); done
  [ -x /bin/busybox ] || problems+=("/bin/busybox is missing: apt-get install busybox-static")
  if [ ! -f "$suite_tests/helpers.bash" ]; then
    problems+=("no runc suite in $SUITE (no tests/integration/helpers.bash): put a copy of runc's source tree at the tag to measure there (SUITE=DIR to use another place)")
  else
    local missing=()
    for h in $(helper_paths); do [ -x "$SUITE/$h" ] || missing+=("$h"); done
    [ ${#missing[@]} -eq 0 ] || problems+=("test helpers not built in $SUITE: ${missing[*]} — runc's own Makefile builds its test helpers; build them there first, following runc's instructions")
    grep -q 'Replaced by berth' "$suite_tests/get-images.sh" 2>/dev/null && [ -f "$suite_tests/testdata/busybox-amd64.tar.xz" ] ||
      problems+=("the suite's images are not made yet: scripts/runc-bats.sh images (made from this host's busybox; nothing is downloaded)")
  fi
  [ ${#problems[@]} -eq 0 ] && return 0
  printf 'runc-bats: %s\n' "${problems[@]}" >&2
  return 2
}

# The suite's images, made locally. get-images.sh is replaced so that nothing is ever downloaded.
make_images() {
  [ -f "$suite_tests/helpers.bash" ] || die "no runc suite in $SUITE (no tests/integration/helpers.bash)"
  [ -x /bin/busybox ] || die "/bin/busybox is missing: apt-get install busybox-static"
  local testdata=$suite_tests/testdata tree applet
  tree=$(mktemp -d)
  chmod 755 "$tree"
  # The directories of docker's busybox image: no proc or sys (the runtime makes the mount points;
  # mask.bats puts a symlink there and expects the runtime to refuse it).
  mkdir -p "$tree"/{bin,dev,etc,tmp,root,home,var,usr/bin,lib}
  chmod 1777 "$tree/tmp"
  cp /bin/busybox "$tree/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$tree/bin/$applet" ] || ln -s busybox "$tree/bin/$applet"
  done
  # The users and groups of docker's busybox image, which some tests name.
  printf '%s\n' root:x:0:0:root:/root:/bin/sh daemon:x:1:1:daemon:/usr/sbin:/bin/false bin:x:2:2:bin:/bin:/bin/false \
    sys:x:3:3:sys:/dev:/bin/false sync:x:4:100:sync:/bin:/bin/sync mail:x:8:8:mail:/var/spool/mail:/bin/false \
    www-data:x:33:33:www-data:/var/www:/bin/false operator:x:37:37:Operator:/var:/bin/false \
    nobody:x:65534:65534:nobody:/home:/bin/false >"$tree/etc/passwd"
  printf '%s\n' root:x:0: daemon:x:1: bin:x:2: sys:x:3: adm:x:4: tty:x:5: disk:x:6: lp:x:7: mail:x:8: kmem:x:9: \
    wheel:x:10:root cdrom:x:11: dialout:x:18: floppy:x:19: video:x:28: audio:x:29: tape:x:32: www-data:x:33: \
    operator:x:37: utmp:x:43: plugdev:x:46: staff:x:50: lock:x:54: netdev:x:82: users:x:100: nogroup:x:65534: >"$tree/etc/group"
  tar -cJf "$testdata/busybox-amd64.tar.xz" -C "$tree" . || die "cannot write the busybox image"
  cp /sbin/ldconfig "$tree/bin/ldconfig"
  echo /lib >"$tree/etc/ld.so.conf"
  tar -cJf "$testdata/debian-amd64.tar.xz" -C "$tree" . || die "cannot write the debian image"
  rm -rf "$tree"
  cat >"$suite_tests/get-images.sh" <<EOF
#!/bin/bash
# Replaced by berth's scripts/runc-bats.sh: the images are made locally, nothing is downloaded.
echo BUSYBOX_IMAGE=$testdata/busybox-amd64.tar.xz
echo DEBIAN_IMAGE=$testdata/debian-amd64.tar.xz
EOF
  echo "images: $testdata/{busybox,debian}-amd64.tar.xz from /bin/busybox"
}

binary_of() {
  case $1 in
    berth-runtime) echo "$BERTH_RUNTIME" ;;
    runc) echo "$REF_RUNC" ;;
    *) command -v "$1" || echo "$1" ;;
  esac
}

# Runs every (or the named) .bats file with one runtime; each file's TAP output in $OUT/NAME/.
run_one() {
  local name=$1 bin; shift
  bin=$(binary_of "$name")
  case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
  [ -x "$bin" ] || die "$bin is not executable"
  mkdir -p "$OUT/$name" "$OUT/$name.bin"
  # Every runtime runs under the name runc (a link), as a drop-in replacement is installed: the
  # suite's help and version tests read the program's name back (urfave/cli's default, which
  # berth-runtime follows, is the name it was run by).
  ln -sfn "$bin" "$OUT/$name.bin/runc"
  bin=$OUT/$name.bin/runc
  local f base
  for f in "$@"; do
    base=$(basename "$f" .bats)
    # A file that hangs is cut off: the tests it did not reach count as failed (see verdicts).
    # Under a pty (script(1)), as runc's CI runs it: the default spec has terminal: true, and
    # `runc run` in the foreground then opens /dev/tty.
    (cd "$suite_tests" && RUNC=$bin timeout -k 10 "$TIMEOUT" \
      script -qec "bats --tap $f >'$OUT/$name/$base.tap' 2>&1" /dev/null </dev/null >/dev/null 2>&1)
    echo "$?" >"$OUT/$name/$base.rc"
    # The suite's own teardown misses the unified hierarchy of a hybrid host: its cgroup parent
    # (empty by now) is removed here.
    find /sys/fs/cgroup/*/runc-cgroups-integration-test -depth -type d -exec rmdir {} \; 2>/dev/null
    # A runtime that fails may leave containers in its default state dir or mounts behind.
    grep -q '/runc\.[A-Za-z0-9]*/bundle' /proc/self/mountinfo && \
      awk '$5 ~ /\/runc\.[A-Za-z0-9]+\/bundle/ {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
  done
}

# One line per test: FILE:NAME<TAB>PASS|FAIL|SKIP[<TAB>reason], from a runtime's TAP files. A file
# cut off by the timeout lists its unreached tests (from the plan) as FAIL (timeout).
verdicts() {
  local dir=$1 tap base
  for tap in "$dir"/*.tap; do
    base=$(basename "$tap" .tap)
    awk -v f="$base" -v rc="$(cat "${tap%.tap}.rc" 2>/dev/null)" -v bats="$suite_tests/$base.bats" '
      /^ok [0-9]+ / { n=$2; sub(/^ok [0-9]+ /, ""); if ($0 ~ / # skip/) { r=$0; sub(/.* # skip ?/, "", r); sub(/ # skip.*/, ""); print f ":" $0 "\tSKIP\t" r } else print f ":" $0 "\tPASS"; seen[n]=1; next }
      /^not ok [0-9]+ / { n=$3; sub(/^not ok [0-9]+ /, ""); sub(/ # in test file.*/, ""); print f ":" $0 "\tFAIL"; seen[n]=1; next }
      END {
        if (rc == 124 || rc == 137) {
          i=0
          while ((getline line < bats) > 0) if (line ~ /^@test /) { i++; if (!(i in seen)) { sub(/^@test "/, "", line); sub(/" *\{ *$/, "", line); print f ":" line "\tFAIL\ttimeout" } }
        }
      }' "$tap"
  done | sort
}

compare() {
  local out=$1 name a b
  for name in $RUNTIMES; do
    [ -d "$out/$name" ] || continue
    verdicts "$out/$name" >"$out/$name.txt"
    printf '%-14s %s passed, %s failed, %s skipped\n' "$name" \
      "$(grep -c $'\tPASS' "$out/$name.txt")" "$(grep -c $'\tFAIL' "$out/$name.txt")" "$(grep -c $'\tSKIP' "$out/$name.txt")"
  done
  set -- $RUNTIMES
  [ $# -ge 2 ] && [ -f "$out/$1.txt" ] && [ -f "$out/$2.txt" ] || return 0
  a=$1 b=$2
  # TEST<TAB>verdict-a<TAB>verdict-b, for every test either runtime ran; a line per difference.
  join -t $'\t' -a1 -a2 -e MISSING -o 0,1.2,2.2 <(cut -f1,2 "$out/$a.txt" | sort -t $'\t' -k1,1) \
    <(cut -f1,2 "$out/$b.txt" | sort -t $'\t' -k1,1) >"$out/comparison.txt"
  awk -F'\t' -v a="$a" -v b="$b" '$2 != $3 { printf "%-5s %-5s %s\n", $2, $3, $1 }' "$out/comparison.txt" >"$out/differences.txt"
  echo "per-test comparison ($a, $b): $out/comparison.txt; differences: $out/differences.txt"
  echo "$a fails where $b passes: $(awk -F'\t' '$2 == "FAIL" && $3 == "PASS"' "$out/comparison.txt" | wc -l)"
}

cmd=${1:-run}
case $cmd in
  check) check && echo "runc suite $(cat "$SUITE/VERSION" 2>/dev/null || echo '(no VERSION file)') in $SUITE: ready" ;;
  images) make_images ;;
  compare) [ -n "${2:-}" ] || die "compare needs the OUT directory of an earlier run"; compare "$2" ;;
  run | *.bats)
    [ "$cmd" = run ] && shift
    [ "$(id -u)" = 0 ] || die "run as root: the suite creates real containers"
    check || exit 2
    OUT=${OUT:-$(mktemp -d /tmp/runc-bats-out.XXXX)}
    files=("$@")
    [ ${#files[@]} -gt 0 ] || files=($(cd "$suite_tests" && ls *.bats))
    echo "runc suite $(cat "$SUITE/VERSION" 2>/dev/null) in $SUITE"
    for name in $RUNTIMES; do
      echo "running ${#files[@]} files with $name ($(binary_of "$name"))"
      run_one "$name" "${files[@]}"
    done
    compare "$OUT"
    echo "TAP output in $OUT"
    ;;
  *) die "unknown command $cmd (check, images, run, compare)" ;;
esac
