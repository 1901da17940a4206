#!/usr/bin/env bash
# OCI runtime conformance: runs the `validation` tests of opencontainers/runtime-tools (the
# runtime-spec's own suite) against a runtime and prints one line per test.
#
#   scripts/conformance.sh check               is $SUITE a built runtime-tools tree? (says what is missing)
#   scripts/conformance.sh rootfs              replace the suite's busybox rootfs with one from /bin/busybox
#   scripts/conformance.sh [run] [TEST...]     run every test (or the named ones)
#   scripts/conformance.sh --compare [TEST...] run, then list tests runc passes that RUNTIME does not
#   scripts/conformance.sh rescore OUTDIR      verdicts again from an earlier run's TAP output
#   scripts/conformance.sh snapshot [COMMIT]   build a clean copy of COMMIT, print its berth-runtime
#
# Environment: RUNTIME (default <repo>/bin/berth-runtime), SUITE (the built runtime-tools checkout,
# default /tmp/runtime-tools), TIMEOUT (seconds per test, default 60), OUT (where each test's TAP
# output and results.txt go, default a fresh temp dir), BASELINE (default
# tests/conformance/runc-baseline.txt), STATE_ROOT (the runtime's default --root, watched for
# containers a test leaves behind; known for berth-runtime, runc and crun).
# Needs root. Nothing is downloaded or built here: runtime-tools is checked out and built with its
# own Makefile beforehand (docs/conformance.md).
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
RUNTIME=${RUNTIME:-$repo/bin/berth-runtime}
# The tests run from $SUITE: a relative path must be made absolute first.
case $RUNTIME in /*) ;; */*) RUNTIME=$PWD/$RUNTIME ;; esac
SUITE=${SUITE:-/tmp/runtime-tools}
TIMEOUT=${TIMEOUT:-60}
BASELINE=${BASELINE:-$repo/tests/conformance/runc-baseline.txt}

die() { echo "conformance: $*" >&2; exit 2; }

# check_suite: is $SUITE a runtime-tools tree with its tests built? This project never builds
# runtime-tools: its own Makefile does (docs/conformance.md). Says what is missing.
check_suite() {
  [ -d "$SUITE/validation" ] || die "no runtime-tools tree in $SUITE: check out runtime-tools there (SUITE=DIR), then build it with its own Makefile (docs/conformance.md)"
  [ -x "$SUITE/runtimetest" ] || die "$SUITE/runtimetest is missing: build the suite with runtime-tools' own Makefile (docs/conformance.md)"
  local n
  n=$(find "$SUITE/validation" -name '*.t' | wc -l)
  [ "$n" -gt 0 ] || die "no validation test binaries (validation/*/*.t) in $SUITE: build them with runtime-tools' own Makefile (docs/conformance.md)"
  echo "suite: $SUITE, runtimetest and $n validation tests"
}

# Replaces the suite's rootfs-<arch>.tar.gz with one made from this machine's busybox-static,
# keeping the snapshot's /etc/passwd and /etc/group (process_user looks users up there).
make_busybox_rootfs() {
  local arch tarball tree applet
  check_suite >/dev/null
  case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
  tarball=$SUITE/rootfs-$arch.tar.gz
  [ -x /bin/busybox ] || die "/bin/busybox is missing: apt-get install busybox-static"
  tree=$(mktemp -d)
  chmod 755 "$tree"
  mkdir -p "$tree"/{bin,dev,etc,proc,sys,tmp}
  if [ -f "$tarball" ]; then
    tar -xzf "$tarball" -C "$tree" ./etc/passwd ./etc/group 2>/dev/null || true
  fi
  [ -f "$tree/etc/passwd" ] || printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$tree/etc/passwd"
  [ -f "$tree/etc/group" ] || printf 'root:x:0:\nnogroup:x:65534:\n' >"$tree/etc/group"
  cp /bin/busybox "$tree/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ -e "$tree/bin/$applet" ] || ln -s busybox "$tree/bin/$applet"
  done
  tar -czf "$tarball" -C "$tree" . || die "cannot write $tarball"
  rm -rf "$tree"
  echo "rootfs: $tarball made from /bin/busybox"
}

# All test binaries, as names relative to $SUITE/validation without the .t (e.g. "kill").
list_tests() {
  (cd "$SUITE/validation" && find . -name '*.t' | sed 's|^\./||; s|/[^/]*\.t$||' | sort)
}

# True if the TAP output has a YAML diagnostic with an "error" that belongs to no test point: the
# lifecycle tests (hooks, poststart, …) report their failure that way, with the plan "1..0". A block
# belongs to the last test point before it (whose description may span lines) unless an earlier
# block already followed that point.
has_loose_error() {
  awk '
    /^(not )?ok( |$)/ { attached = 1; next }
    /^  ---$/        { inblock = 1; loose = !attached; next }
    /^  \.\.\.$/     { inblock = 0; attached = 0; next }
    inblock          { if (loose && /"error":/) bad = 1 }
    END              { exit bad ? 0 : 1 }' "$1"
}

# verdict TAPFILE EXITCODE -> PASS | FAIL | SKIP
# FAIL: non-zero exit (util.Fatal), a timeout, any "not ok" that is not a TODO, or a loose error
# diagnostic. SKIP: every test point is skipped. PASS: otherwise — including a test with no test
# point that exits 0, which is how the lifecycle and "*_fail" tests say that all went as expected.
verdict() {
  local tap=$1 rc=$2
  # (awk, not a grep -q pipeline: with pipefail, grep -q's early exit would read as "no match")
  if [ "$rc" -ne 0 ] || awk '/^not ok( |$)/ && !/# *TODO/ { f = 1 } END { exit !f }' "$tap" || has_loose_error "$tap"; then
    echo FAIL
    return
  fi
  local oks skips
  oks=$(grep -Ec '^ok( |$)' "$tap")
  skips=$(grep -Eic '^ok[^#]*# *skip' "$tap")
  if [ "$oks" -gt 0 ] && [ "$oks" -eq "$skips" ]; then echo SKIP; else echo PASS; fi
}

# Where RUNTIME keeps container state when called without --root, to spot containers a test
# leaves behind. STATE_ROOT overrides; empty for an unknown runtime.
default_state_root() {
  case $(basename "$RUNTIME") in
    berth-runtime) echo /run/berth-runtime ;;
    runc) echo /run/runc ;;
    crun) echo /run/crun ;;
  esac
}

state_entries() {
  # (a runtime's own files, such as berth-runtime's @seccomp cache, are not containers)
  [ -n "$STATE_ROOT" ] && [ -d "$STATE_ROOT" ] && ls -1 "$STATE_ROOT" | grep -v '^@' | sort
  return 0
}

# clean_leaks BEFORE TAPFILE: after a test, finds mounts of its bundles (the suite makes them as
# /tmp/ocitest*) still on the host, and containers that appeared in STATE_ROOT; notes them in the
# TAP file, removes them so the next test starts clean, and prints a one-line summary.
clean_leaks() {
  local before=$1 tap=$2 mounts dirs id new n_m n_c out=""
  mounts=$(awk '$5 ~ /\/ocitest[0-9]+/ { print $5 }' /proc/self/mountinfo)
  if [ -n "$mounts" ]; then
    n_m=$(echo "$mounts" | wc -l)
    echo "$mounts" | sed 's/^/# conformance.sh: leaked mount /' >>"$tap"
    dirs=$(echo "$mounts" | grep -oE '^.*/ocitest[0-9]+' | sort -u)
    for id in $dirs; do umount -R "$id" 2>/dev/null || umount -R -l "$id" 2>/dev/null; done
    out="$n_m mounts"
  fi
  new=$(comm -13 <(echo "$before") <(state_entries) | grep -v '^$')
  if [ -n "$new" ]; then
    n_c=$(echo "$new" | wc -l)
    for id in $new; do
      echo "# conformance.sh: leaked container $id" >>"$tap"
      "$RUNTIME" delete --force "$id" >/dev/null 2>&1
    done
    out="${out:+$out, }$n_c containers"
  fi
  echo "$out"
}

run_suite() {
  local compare=$1; shift
  check_suite >/dev/null
  [ "$(id -u)" -eq 0 ] || die "the validation tests create containers: run as root"
  command -v "$RUNTIME" >/dev/null || [ -x "$RUNTIME" ] || die "RUNTIME=$RUNTIME is not executable"
  OUT=${OUT:-$(mktemp -d /tmp/conformance.XXXXXX)}
  STATE_ROOT=${STATE_ROOT-$(default_state_root)}
  mkdir -p "$OUT"
  local tests=("$@")
  [ ${#tests[@]} -gt 0 ] || mapfile -t tests < <(list_tests)
  local results=$OUT/results.txt pass=0 fail=0 skip=0 leaky=0 t rc v points before leak
  : >"$results"
  echo "runtime: $RUNTIME"
  echo "suite:   $SUITE ($(git -C "$SUITE" rev-parse --short HEAD 2>/dev/null || echo unknown))"
  for t in "${tests[@]}"; do
    local bin=$SUITE/validation/$t/$t.t tap=$OUT/$t.tap
    [ -x "$bin" ] || die "no test binary $bin"
    # The tests find runtimetest and rootfs-<arch>.tar.gz in their working directory.
    before=$(state_entries)
    (cd "$SUITE" && RUNTIME=$RUNTIME timeout --kill-after=5 "$TIMEOUT" "$bin" </dev/null >"$tap" 2>&1)
    rc=$?
    [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && echo "# conformance.sh: timed out after ${TIMEOUT}s" >>"$tap"
    echo "# conformance.sh: exit $rc" >>"$tap"
    v=$(verdict "$tap" "$rc")
    points="$(grep -Ec '^ok( |$)' "$tap") ok, $(grep -Ec '^not ok( |$)' "$tap") not ok, exit $rc"
    leak=$(clean_leaks "$before" "$tap")
    [ -n "$leak" ] && { points="$points; LEAKED $leak"; leaky=$((leaky + 1)); }
    printf '%-4s %-40s %s\n' "$v" "$t" "$points"
    printf '%s %s\n' "$t" "$v" >>"$results"
    case $v in PASS) pass=$((pass + 1)) ;; FAIL) fail=$((fail + 1)) ;; SKIP) skip=$((skip + 1)) ;; esac
  done
  echo "${pass} passed, ${fail} failed, ${skip} skipped (TAP output in $OUT)"
  [ "$leaky" -eq 0 ] || echo "${leaky} tests left mounts or containers behind (listed in their TAP files; cleaned up)"
  [ "$compare" = 1 ] || { [ "$fail" -eq 0 ]; return; }

  [ -f "$BASELINE" ] || die "no baseline $BASELINE"
  local missing=0 base
  echo "== compared with $(basename "$BASELINE")"
  while read -r t base _; do
    case $t in ''|'#'*) continue ;; esac
    v=$(awk -v t="$t" '$1 == t { print $2 }' "$results")
    [ -n "$v" ] || continue # not run this time
    if [ "$base" = PASS ] && [ "$v" != PASS ]; then
      echo "REGRESSION $t: runc PASS, $(basename "$RUNTIME") $v"
      grep -E '^not ok|timed out' "$OUT/$t.tap" | head -5 | sed 's/^/    /'
      missing=$((missing + 1))
    elif [ "$base" != PASS ] && [ "$v" = PASS ]; then
      echo "BETTER     $t: runc $base, $(basename "$RUNTIME") PASS"
    fi
  done <"$BASELINE"
  echo "${missing} tests that runc passes are not passed"
  [ "$missing" -eq 0 ]
}

# snapshot [COMMIT] [DIR]: a clean clone of this repository at COMMIT (default HEAD) in DIR
# (default /tmp/berth-snapshot), sharing node_modules, built by scripts/build.mjs; prints the path
# of its berth-runtime. For testing what is committed while the work tree is mid-edit.
snapshot() {
  local commit=${1:-HEAD} dir=${2:-/tmp/berth-snapshot} sha
  sha=$(git -C "$repo" rev-parse --verify "$commit^{commit}") || die "no commit $commit"
  rm -rf "$dir"
  git clone --quiet --no-checkout "$repo" "$dir" || die "cannot clone $repo into $dir"
  git -C "$dir" -c advice.detachedHead=false checkout --quiet "$sha" || die "cannot check out $sha"
  ln -s "$repo/node_modules" "$dir/node_modules"
  # The project's own build step, as `npm ci` runs it (C core, and whatever else it builds).
  (cd "$dir" && node scripts/build.mjs) >&2 || die "$sha did not build (node scripts/build.mjs in $dir)"
  echo "$dir/bin/berth-runtime"
}

# rescore DIR: the verdicts again from an earlier run's TAP files, without running anything.
rescore() {
  local dir=${1:?rescore needs the OUT dir of an earlier run} tap rc
  for tap in "$dir"/*.tap; do
    rc=$(sed -n 's/^# conformance.sh: exit \([0-9]*\)$/\1/p' "$tap" | tail -1)
    printf '%s %s\n' "$(basename "$tap" .tap)" "$(verdict "$tap" "${rc:-0}")"
  done
}

case ${1:-run} in
  check) check_suite ;;
  rootfs) make_busybox_rootfs ;;
  rescore) shift; rescore "$@" ;;
  snapshot) shift; snapshot "$@" ;;
  run) [ $# -gt 0 ] && shift; run_suite 0 "$@" ;;
  --compare|compare) shift; run_suite 1 "$@" ;;
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
  -*) die "unknown option $1 (see --help)" ;;
  *) run_suite 0 "$@" ;;
esac
