#!/usr/bin/env bash
# The Debian tools the tests use and a fresh machine may lack: promtool (a real Prometheus exposition-format
# checker), tmux and script (a terminal for `top` and the progress bar), chromium (renders the `report --html`
# page headless), openssl (a private CA for the https webhook test), shellcheck (npm run lint), dash (the
# watchdog is run under it), musl and nm (every C call the supervisor makes is checked against musl's libc), protoc
# (decodes `analyze --pprof` output against pprof's Profile message: ~7 MB, where go tool pprof would bring a Go
# toolchain), lsof and procps (the portable backend's descriptors and process table), strace (its check that the
# supervisor opens no other process's /proc files). Installs only what is missing.
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
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v dash >/dev/null || missing+=(dash)
command -v nm >/dev/null || missing+=(binutils)
[ -f /lib/x86_64-linux-musl/libc.so ] || missing+=(musl)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v lsof >/dev/null || missing+=(lsof)
command -v ps >/dev/null || missing+=(procps)
command -v strace >/dev/null || missing+=(strace)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing test tools: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
