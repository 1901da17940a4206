#!/usr/bin/env bash
# The whole test suite: type-check, then every test under tests/ with bun test, then one
# closing line "N passed, N failed" for CI's record.
set -uo pipefail
cd "$(dirname "$0")/.."
BUN=node_modules/.bin/bun
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== build (C core, runtime bundle)"
node scripts/build.mjs

echo "== tsc --noEmit"
if ! npx --no-install tsc --noEmit -p .; then typecheck_failed=1; else typecheck_failed=0; fi

echo "== bun test"
"$BUN" test --timeout 60000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$((failed + typecheck_failed))
echo "${passed} passed, ${failed} failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then exit 1; fi
