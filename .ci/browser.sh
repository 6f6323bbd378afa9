#!/usr/bin/env bash
# The browser test: examples/chat in headless Chromium (Debian's `chromium` package, driven
# by playwright-core from npm; no browser download), two pages and a TCP client chatting
# through the server over WebSocket, compression off and on. Installs what it needs (apt
# chromium, `npm ci` in tests/clients/node and examples/chat), bundles the page with esbuild,
# and exits non-zero on any mismatch.
#
# Usage: .ci/browser.sh [--server-bin PATH] [--repeat N] [--screenshot FILE]
#   --server-bin PATH  server to test (default: target/release/ringmq, built here);
#                      /usr/sbin/nats-server checks the assertions against the reference
#   --repeat N         run the chat N times (each compression off and on)
#   --screenshot FILE  save the second page after the compressed run
#                      (examples/chat/screenshot.png is made this way)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TERM_COLOR=never

CHROMIUM=/usr/bin/chromium
# A hung browser, client or server must fail the run, not eat CI's time budget.
TEST_TIMEOUT=180

server_bin=""
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
        --server-bin) server_bin="$2"; shift 2 ;;
        --repeat) extra+=(--repeat "$2"); shift 2 ;;
        --screenshot) extra+=(--screenshot "$(realpath -m "$2")"); shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s (at %d s)\n' "$*" "$SECONDS"; }

apt_install() {
    if [ -z "${apt_updated:-}" ]; then
        apt-get update
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

step "chromium (Debian package)"
if [ ! -x "$CHROMIUM" ]; then
    apt_install chromium
fi
"$CHROMIUM" --version

step "node: npm ci in tests/clients/node and examples/chat, esbuild bundle"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi
echo "node $(node --version), npm $(npm --version)"
(cd tests/clients/node && npm ci --no-audit --no-fund)
(cd examples/chat && npm ci --no-audit --no-fund && npm run build)

if [ -z "$server_bin" ]; then
    step "cargo build --release --bin ringmq"
    cargo build --release --bin ringmq
    server_bin=target/release/ringmq
fi
server_bin="$(cd "$(dirname "$server_bin")" && pwd)/$(basename "$server_bin")"

step "browser chat against $(basename "$server_bin")"
start=$SECONDS
timeout "$TEST_TIMEOUT" node tests/clients/node/browser_chat_test.mjs \
    --server-bin "$server_bin" --chromium "$CHROMIUM" "${extra[@]}"
echo "browser test took $((SECONDS - start)) s"
