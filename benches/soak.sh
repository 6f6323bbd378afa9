#!/usr/bin/env bash
# Soak: a mixed workload against one ringmq for SOAK_SECS (default 30 minutes): fan-out,
# a queue group, request/reply and connection churn, all at once and all paced, while the
# server's resident memory is sampled. Fails (exit 1) if any loadgen run reports a lost,
# duplicated, corrupted or out-of-order message or a protocol error, if the server logs an
# error, or if resident memory still grows in the second half of the run (bound below).
#
#   SOAK_SECS=1800 benches/soak.sh          # the issue's 30-minute run
#   SOAK_SECS=60 ROUND_SECS=15 RSS_CHECK=0 benches/soak.sh   # a short run: messages and errors only
#
# Knobs: SOAK_SECS, ROUND_SECS (length of one loadgen run, default 30), CORES (2), PORT,
# RINGMQ_BIN, LOADGEN, RESULTS (directory for logs, samples and per-run JSON),
# RSS_GROWTH_MAX_KB (allowed growth of the post-warm-up peak, default 8192), RSS_CHECK.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

SOAK_SECS=${SOAK_SECS:-1800}
ROUND_SECS=${ROUND_SECS:-30}
CORES=${CORES:-2}
PORT=${PORT:-14777}
RINGMQ_BIN=${RINGMQ_BIN:-$ROOT/target/release/ringmq}
LOADGEN=${LOADGEN:-$ROOT/target/release/loadgen}
RESULTS=${RESULTS:-$(mktemp -d /tmp/soak.XXXXXX)}
# Memory: the pools (receive buffers, outbound chunks, mail blocks) are bounded and keep
# the size of the largest burst they have seen, so resident memory rises in steps while
# bursts grow and then stays flat; a leak keeps rising. The check: over the second half of
# the run, the peak may exceed the first half's peak by at most RSS_GROWTH_MAX_KB (2 MiB;
# a leak of one buffer per message would be gigabytes over 30 minutes).
RSS_GROWTH_MAX_KB=${RSS_GROWTH_MAX_KB:-2048}
# RSS_CHECK=0 skips the memory bound: a run of a minute or two ends while the pools are
# still growing to their working size (CI's short run checks messages and errors only).
RSS_CHECK=${RSS_CHECK:-1}
URL="nats://127.0.0.1:$PORT"

log() { echo "[soak] $*" >&2; }
SERVER_START_TIMEOUT=${SERVER_START_TIMEOUT:-10}
# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    cargo build --release --workspace >&2
fi
ulimit -n "$(ulimit -Hn)" || true

"$RINGMQ_BIN" -a 127.0.0.1 -p "$PORT" --cores "$CORES" >"$RESULTS/ringmq.log" 2>&1 &
SERVER_PID=$!
WORKERS=()
cleanup() {
    for pid in "${WORKERS[@]}"; do kill "$pid" 2>/dev/null || true; done
    kill "$SERVER_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap cleanup EXIT
wait_for_port "$SERVER_PID" ringmq "$RESULTS/ringmq.log" || exit 1
log "ringmq pid $SERVER_PID on $URL, $CORES cores, ${SOAK_SECS}s; results in $RESULTS"

END=$((SECONDS + SOAK_SECS))

# One workload: runs `loadgen ARGS` in rounds until the end, one JSON line per round.
workload() {
    local name=$1
    shift
    local round=0
    while ((SECONDS + ROUND_SECS <= END)); do
        round=$((round + 1))
        local status=0
        "$LOADGEN" "$@" --url "$URL" --json >"$RESULTS/$name.$round.out" 2>"$RESULTS/$name.$round.err" ||
            status=$?
        local json
        json=$(tail -n 1 "$RESULTS/$name.$round.out")
        printf '{"workload":"%s","round":%d,"status":%d,"result":%s}\n' \
            "$name" "$round" "$status" "${json:-null}" >>"$RESULTS/runs.jsonl"
    done
}

: >"$RESULTS/runs.jsonl"
workload fanout pubsub --subject soak.fanout --publishers 2 --subscribers 4 --size 128 \
    --rate 20000 --duration "$ROUND_SECS" &
WORKERS+=($!)
workload queue pubsub --subject soak.queue --publishers 2 --subscribers 3 --queue workers \
    --size 512 --rate 10000 --duration "$ROUND_SECS" &
WORKERS+=($!)
workload reqrep reqrep --subject soak.service --requesters 2 --responders 3 --size 64 \
    --rate 2000 --msgs $((2000 * ROUND_SECS)) &
WORKERS+=($!)
# Churn: 500 connections with 4 subscriptions each, opened, confirmed with PING/PONG and
# closed, round after round, as fast as loadgen completes them.
workload churn conns --count 500 --subs-per-conn 4 &
WORKERS+=($!)

# Resident memory every 5 s.
: >"$RESULTS/rss.csv"
while ((SECONDS < END)); do
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo "")
    if [[ -z $rss ]]; then
        log "ringmq exited during the soak; see $RESULTS/ringmq.log"
        exit 1
    fi
    echo "$((SOAK_SECS - (END - SECONDS))),$rss" >>"$RESULTS/rss.csv"
    sleep 5
done
for pid in "${WORKERS[@]}"; do wait "$pid" || true; done
WORKERS=()

python3 - "$RESULTS" "$((SOAK_SECS / 2))" "$RSS_GROWTH_MAX_KB" "$RSS_CHECK" <<'EOF'
import json, sys
results, half, growth_max = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
check_rss = sys.argv[4] == "1"
failures = []
totals = {}
for line in open(f"{results}/runs.jsonl"):
    run = json.loads(line)
    name, r = run["workload"], run["result"]
    t = totals.setdefault(name, {"rounds": 0, "sent": 0, "received": 0, "lost": 0,
                                 "duplicated": 0, "corrupted": 0, "out_of_order": 0,
                                 "errors": 0})
    t["rounds"] += 1
    if run["status"] != 0 or r is None:
        failures.append(f"{name} round {run['round']}: exit {run['status']}")
        continue
    t["sent"] += r.get("msgs_sent", 0)
    t["received"] += r.get("msgs_received", 0)
    # Replies from a queue group of responders arrive in whatever order the responders
    # answer: out-of-order replies are expected there, not a fault.
    keys = ["lost", "duplicated", "corrupted"]
    if r.get("mode") != "reqrep":
        keys.append("out_of_order")
    for key in keys:
        t[key] += r.get(key, 0)
    t["errors"] += len(r.get("errors", []))
for name, t in totals.items():
    bad = {k: t[k] for k in ("lost", "duplicated", "corrupted", "out_of_order", "errors") if t[k]}
    if bad:
        failures.append(f"{name}: {bad}")
samples = [tuple(map(int, l.split(","))) for l in open(f"{results}/rss.csv") if l.strip()]
first = [kb for t, kb in samples if t <= half]
second = [kb for t, kb in samples if t > half]
rss = {"start_kb": samples[0][1] if samples else None,
       "first_half_peak_kb": max(first) if first else None,
       "second_half_peak_kb": max(second) if second else None,
       "end_kb": samples[-1][1] if samples else None,
       "samples": len(samples),
       "every_minute_kb": [kb for t, kb in samples if t % 60 < 5]}
if check_rss and first and second and max(second) - max(first) > growth_max:
    failures.append(f"resident memory grew {max(second) - max(first)} KiB in the second half "
                    f"(bound {growth_max} KiB)")
errors = [l for l in open(f"{results}/ringmq.log") if "[ERR]" in l or "[FTL]" in l]
if errors:
    failures.append(f"{len(errors)} error lines in the server log, first: {errors[0].strip()}")
print(json.dumps({"workloads": totals, "rss": rss, "failures": failures}, indent=1))
sys.exit(1 if failures else 0)
EOF
