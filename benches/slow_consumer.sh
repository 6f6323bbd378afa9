#!/usr/bin/env bash
# The slow-consumer figure of issue 4 (a benchmark, not a test): how much of its unloaded
# throughput a healthy subscriber keeps while another subscriber to the same subject has
# stopped reading. For each server and run it measures loadgen 1 publisher -> 1 subscriber
# twice, on a fresh server each time: alone, then with a stopped subscriber connected
# first. Prints a markdown table of medians and the ratio. Usage and knobs:
# benches/README.md ("slow_consumer.sh").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNS=${RUNS:-3}
PORT=${PORT:-14555}
SIZE=${SIZE:-128}
DURATION=${DURATION:-4}
NATS_BIN=${NATS_BIN:-/usr/sbin/nats-server}
RINGMQ_BIN=${RINGMQ_BIN:-$ROOT/target/release/ringmq}
LOADGEN=${LOADGEN:-$ROOT/target/release/loadgen}
RESULTS=${RESULTS:-$(mktemp -d /tmp/slow_consumer.XXXXXX)}
SERVERS=${SERVERS:-"nats ringmq-c1 ringmq-c2"}
SERVER_START_TIMEOUT=${SERVER_START_TIMEOUT:-10}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}

log() { echo "[slow_consumer] $*" >&2; }

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release --workspace >&2
fi

# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

# A subscriber to the benchmark subject that never reads after its PONG, with a 4 KiB
# receive buffer so the server's queue, not the kernel, takes the backlog. It writes
# $RESULTS/stopped.ready once subscribed and then sleeps until killed.
STOPPED_PID=""
stopped_start() {
    rm -f "$RESULTS/stopped.ready"
    python3 - "$PORT" "$RESULTS/stopped.ready" <<'EOF' &
import socket, sys, time
port, ready = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB bench.slow 1\r\nPING\r\n')
got = b""
while not got.endswith(b"PONG\r\n"):
    chunk = s.recv(4096)
    if not chunk:
        sys.exit("EOF before PONG")
    got += chunk
open(ready, "w").close()
while True:
    time.sleep(3600)
EOF
    STOPPED_PID=$!
    local deadline=$((SECONDS + 10))
    until [[ -e $RESULTS/stopped.ready ]]; do
        if ! kill -0 "$STOPPED_PID" 2>/dev/null || ((SECONDS > deadline)); then
            log "the stopped subscriber did not subscribe"
            return 1
        fi
        sleep 0.02
    done
}

stopped_stop() {
    if [[ -n $STOPPED_PID ]]; then
        kill "$STOPPED_PID" 2>/dev/null || true
        wait "$STOPPED_PID" 2>/dev/null || true
        STOPPED_PID=""
    fi
}
trap 'stopped_stop; server_stop' EXIT

ARGS="pubsub --publishers 1 --subscribers 1 --size $SIZE --duration $DURATION --subject bench.slow"

: >"$RESULTS/runs.jsonl"
for run in $(seq 1 "$RUNS"); do
    for server in $SERVERS; do
        for load in alone stopped; do
            server_start "$server" "$RESULTS/server.log" || continue
            if [[ $load == stopped ]]; then
                stopped_start || { stopped_stop; server_stop; continue; }
            fi
            log "run $run, $server, $load: loadgen $ARGS"
            # shellcheck disable=SC2086
            output=$(timeout "$RUN_TIMEOUT" "$LOADGEN" $ARGS --url "nats://127.0.0.1:$PORT" --json) \
                && status=0 || status=$?
            stopped_stop
            server_stop
            cut=$(grep -c "Slow Consumer Detected" "$RESULTS/server.log" || true)
            json=$(tail -n 1 <<<"$output")
            [[ ${json:0:1} == "{" ]] || { log "no JSON from loadgen (status $status)"; json='{}'; }
            printf '{"server":"%s","load":"%s","run":%d,"status":%d,"cut":%d,"result":%s}\n' \
                "$server" "$load" "$run" "$status" "$cut" "$json" >>"$RESULTS/runs.jsonl"
        done
    done
done

log "raw results: $RESULTS/runs.jsonl"
python3 - "$RESULTS/runs.jsonl" "$SERVERS" <<'EOF'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
print("| server | healthy sub msgs/s alone (median) | with a stopped subscriber (median) "
      "| ratio | lost | stopped one cut during the run |")
print("|---|---|---|---|---|---|")
for server in sys.argv[2].split():
    def rates(load):
        return [r["result"].get("sub_msgs_per_sec") for r in runs
                if r["server"] == server and r["load"] == load
                and r["result"].get("sub_msgs_per_sec") is not None]
    alone, stopped = rates("alone"), rates("stopped")
    if not alone or not stopped:
        print(f"| {server} | - | - | - | - | - |")
        continue
    a, s = statistics.median(alone), statistics.median(stopped)
    lost = sum(r["result"].get("lost", 0) for r in runs if r["server"] == server)
    cut = sum(1 for r in runs if r["server"] == server and r["load"] == "stopped" and r["cut"])
    runs_stopped = sum(1 for r in runs if r["server"] == server and r["load"] == "stopped")
    print(f"| {server} | {a:,.0f} | {s:,.0f} | {s / a:.2f} | {lost} | {cut} of {runs_stopped} |")
EOF
