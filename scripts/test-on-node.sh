#!/usr/bin/env bash
# Runs the tests on one node: `scripts/test-on-node.sh 24 [vitest args]` (e.g. `--project integration`, or files).
# That node goes first on PATH and runs vitest, so everything a test starts runs on it too: fixtures through
# process.execPath, and the installed command (bin/cfn-supervise execs the `node` on PATH). The nodes are the ones
# scripts/test-deps.sh installs into scripts/runtimes; the node already on PATH serves when it is that major.
# It needs a build (npm run build).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || ! [[ $1 =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/test-on-node.sh <node major, e.g. 24> [vitest args...]" >&2
  exit 2
fi
major=$1
shift
node=scripts/runtimes/node_modules/node$major/bin/node
if [ ! -x "$node" ]; then
  node=$(command -v node || true)
  if [ -z "$node" ] || [ "$("$node" -p 'process.versions.node.split(".")[0]')" != "$major" ]; then
    echo "test-on-node: no node $major (scripts/runtimes has node 20, 22, 24 and 26: run bash scripts/test-deps.sh)" >&2
    exit 2
  fi
fi
bindir=$(cd "$(dirname "$node")" && pwd)
PATH="$bindir:$PATH"
export PATH
echo "test-on-node: $(node --version) from $bindir" >&2
exec node node_modules/vitest/vitest.mjs run "$@"
