#!/usr/bin/env bash
# What CI meets on a fresh machine, run from a checkout before calling work done: a clean clone of what is
# committed, an npm cache holding only what `npm ci` puts there (an empty HOME), and .ci/run. A suite that passes
# only because an earlier install left something in ~/.npm or in the work tree fails here.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/main"
if [ -d "$root/../shared" ]; then cp -r "$root/../shared" "$work/shared"; fi
mkdir "$work/home"
cd "$work/main"
HOME="$work/home" CI=true bash .ci/run
