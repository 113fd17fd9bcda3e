#!/usr/bin/env bash
# `npm test` (after its pretest: build, typecheck, lint): the whole suite (unit, integration, slow) on the active
# LTS, then the integration tier on every other node the package supports, and once more on the active LTS with
# the portable backend (CFN_SUPERVISE_BACKEND=portable: ps, lsof and the run's mark, what macOS has, exercised
# here; the Linux-only tests say so and skip). Each run goes on even when one before it failed; the summary names each node's outcome and time, and the exit code is non-zero if any failed.
# One node alone: scripts/test-on-node.sh <major> [vitest args]; the quick loop: npm run test:unit.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
FULL=24
OTHERS=(20 22 26)
summary=()
failed=0
run() {
  local label=$1 major=$2 start=$SECONDS
  shift 2
  if env "${RUN_ENV[@]}" bash scripts/test-on-node.sh "$major" "$@"; then
    summary+=("node $major, $label: passed in $((SECONDS - start)) s")
  else
    summary+=("node $major, $label: FAILED after $((SECONDS - start)) s")
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
