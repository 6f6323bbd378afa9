#!/usr/bin/env bash
# Real NATS clients against ringmq: the Python client (nats-py, from PyPI, in a venv; core,
# WebSocket, and its JetStream and key-value APIs) and
# the JavaScript client (@nats-io/transport-node over TCP, @nats-io/nats-core's wsconnect
# over WebSocket, @nats-io/jetstream and @nats-io/kv, from npm) each run the scripts in
# tests/clients/, which start their own server on a free loopback port and exit non-zero
# on any mismatch. The Rust client (async-nats) runs in `cargo test` as
# tests/client_async_nats.rs and tests/client_async_nats_js.rs.
#
# Usage: .ci/clients.sh [--server-bin PATH] [--repeat N]
#   --server-bin PATH  server to test (default: target/release/ringmq, built here);
#                      /usr/sbin/nats-server checks the assertions against the reference
#   --repeat N         run every case N times
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CARGO_TERM_COLOR=never

# Pinned client versions (the npm one is pinned in tests/clients/node/package-lock.json).
NATS_PY_VERSION=2.16.0
# nats-py's WebSocket transport (ws:// URLs) needs aiohttp, an optional dependency of it.
AIOHTTP_VERSION=3.14.5
VENV=.venv-clients
# A hung client or server must fail the run, not eat CI's time budget.
SCRIPT_TIMEOUT=300

server_bin=""
repeat=1
while [ $# -gt 0 ]; do
    case "$1" in
        --server-bin) server_bin="$2"; shift 2 ;;
        --repeat) repeat="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*"; }

apt_install() {
    if [ -z "${apt_updated:-}" ]; then
        apt-get update
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$@"
}

step "python client: nats-py $NATS_PY_VERSION in $VENV"
if ! command -v python3 >/dev/null 2>&1; then
    apt_install python3
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV"; then
        # Debian's python3 needs python3-venv for ensurepip.
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
fi
"$VENV/bin/python" -m pip install --disable-pip-version-check --quiet "nats-py==$NATS_PY_VERSION" \
    "aiohttp==$AIOHTTP_VERSION"
"$VENV/bin/python" -c 'import importlib.metadata as m; print("nats-py", m.version("nats-py"), "aiohttp", m.version("aiohttp"))'

step "node client: npm ci in tests/clients/node"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi
echo "node $(node --version), npm $(npm --version)"
(cd tests/clients/node && npm ci --no-audit --no-fund)

if [ -z "$server_bin" ]; then
    step "cargo build --release --bin ringmq"
    cargo build --release --bin ringmq
    server_bin=target/release/ringmq
fi
server_bin="$(cd "$(dirname "$server_bin")" && pwd)/$(basename "$server_bin")"
echo "server under test: $server_bin"

# Runs one client script, keeps its output, and adds its closing counts to the totals.
total_passed=0
total_failed=0
status=0
run_client() {
    local name="$1"; shift
    step "$name client against $(basename "$server_bin")"
    local out
    out="$(mktemp)"
    local rc=0
    timeout "$SCRIPT_TIMEOUT" "$@" --server-bin "$server_bin" --repeat "$repeat" 2>&1 | tee "$out" || rc=$?
    local counts
    counts="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)"
    rm -f "$out"
    if [ -z "$counts" ]; then
        echo "$name client: no result line (exit $rc)"
        total_failed=$((total_failed + 1))
        status=1
        return
    fi
    total_passed=$((total_passed + ${counts%% passed*}))
    local failed="${counts#*passed, }"
    total_failed=$((total_failed + ${failed%% failed}))
    if [ "$rc" -ne 0 ]; then
        status=1
    fi
}

start=$SECONDS
run_client python "$VENV/bin/python" tests/clients/python/nats_py_client.py
run_client python-websocket "$VENV/bin/python" tests/clients/python/nats_py_ws_client.py
run_client python-jetstream "$VENV/bin/python" tests/clients/python/nats_py_js_client.py
run_client node node tests/clients/node/client_test.mjs
run_client node-websocket node tests/clients/node/ws_test.mjs
run_client node-jetstream node tests/clients/node/js_test.mjs
echo
echo "client scripts took $((SECONDS - start)) s"
echo "clients: $total_passed passed, $total_failed failed"
exit "$status"
