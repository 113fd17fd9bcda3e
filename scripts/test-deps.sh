#!/usr/bin/env bash
# The Debian tools the tests use and a fresh machine may lack: promtool (a real Prometheus exposition-format
# checker), tmux and script (a terminal for `top` and the progress bar), chromium (renders the `report --html`
# page headless), openssl (a private CA for the https webhook test). Installs only what is missing.
# Then the runtimes the tests run on besides this node (Node 20/22/24/26, Bun, Claude Code): scripts/runtimes.
set -euo pipefail
cd "$(dirname "$0")/.."
runtimes=scripts/runtimes
if [ ! -f "$runtimes/node_modules/.package-lock.json" ] || [ "$runtimes/package-lock.json" -nt "$runtimes/node_modules/.package-lock.json" ]; then
  echo "installing test runtimes (Node 20/22/24/26, Bun, Claude Code) into $runtimes" >&2
  npm ci --prefix "$runtimes" --no-audit --no-fund --loglevel=error
fi
missing=()
command -v promtool >/dev/null || missing+=(prometheus)
command -v tmux >/dev/null || missing+=(tmux)
command -v script >/dev/null || missing+=(bsdutils)
command -v chromium >/dev/null || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing test tools: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
