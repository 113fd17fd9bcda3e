#!/usr/bin/env bash
# `npm test` (after its pretest: build, typecheck, lint): the whole suite (unit, integration, slow) on the active
# LTS, then the integration tier on every other node the package supports, and once more on the active LTS with
# the portable backend (CFN_SUPERVISE_BACKEND=portable: ps, lsof and the run's mark, what macOS has, exercised
# here; the Linux-only tests say so and skip). Each run goes on even when one before it failed; the summary names
# each run's outcome and time, and the failed tests (a CI log may keep only its end), and the exit code is non-zero
# if any failed.
# One node alone: scripts/test-on-node.sh <major> [vitest args]; the quick loop: npm run test:unit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
FULL=24
OTHERS=(20 22 26)
summary=()
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
run() {
  local label=$1 major=$2 start=$SECONDS
  shift 2
  if env "${RUN_ENV[@]}" bash scripts/test-on-node.sh "$major" "$@" 2>&1 | tee "$log"; then
    summary+=("node $major, $label: passed in $((SECONDS - start)) s")
  else
    summary+=("node $major, $label: FAILED after $((SECONDS - start)) s")
    # vitest's own account of what failed, without its colours: each failed test and its error up to the source
    # excerpt (a message and, for a mismatch, its diff), so that a CI log that keeps only its end says why.
    while IFS= read -r line; do summary+=("  $line"); done < <(sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '
      /^ *FAIL / { n = 0; open = 1; print; next }
      open && (/^ *❯ / || /^⎯/) { open = 0; next }
      open && NF && n < 12 { n++; print "    " substr($0, 1, 300) }' | head -200)
    failed=1
  fi
}
RUN_ENV=()
run "whole suite" "$FULL"
for major in "${OTHERS[@]}"; do run "integration tier" "$major" --project integration; done
RUN_ENV=(CFN_SUPERVISE_BACKEND=portable)
run "integration tier, portable backend" "$FULL" --project integration
printf '%s\n' "${summary[@]}"
exit $failed
