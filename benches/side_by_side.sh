#!/usr/bin/env bash
# Runs the same loadgen workloads against nats-server and ringmq, alternating servers run by
# run (the box is shared and noisy), and prints a markdown table of medians and ratios.
# Usage and knobs: benches/README.md.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

RUNS=${RUNS:-3}
PORT=${PORT:-14333}
NATS_BIN=${NATS_BIN:-/usr/sbin/nats-server}
RINGMQ_BIN=${RINGMQ_BIN:-$ROOT/target/release/ringmq}
LOADGEN=${LOADGEN:-$ROOT/target/release/loadgen}
RESULTS=${RESULTS:-$(mktemp -d /tmp/side_by_side.XXXXXX)}
REQREP_RATE=${REQREP_RATE:-5000}
REQREP_MSGS=${REQREP_MSGS:-50000}
CONNS=${CONNS:-10000}
SERVER_START_TIMEOUT=${SERVER_START_TIMEOUT:-10}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
ALL_CASES="pub-16 pub-128 pub-1k 1to1-16 1to1-128 1to1-1k 1to4-16 1to4-128 1to4-1k \
queue3-16 queue3-128 queue3-1k reqrep conns"
if [[ ${QUICK:-0} == 1 ]]; then
    CASES=${CASES:-1to1-16}
fi
CASES=${CASES:-$ALL_CASES}

log() { echo "[side_by_side] $*" >&2; }

# --- build -----------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    if ! cargo build --release --workspace >&2; then
        log "workspace build failed; building loadgen alone (ringmq runs are skipped)"
        cargo build --release -p loadgen >&2
    fi
fi

# --- which servers ---------------------------------------------------------------------
if [[ -z ${SERVERS:-} ]]; then
    SERVERS="nats"
    if [[ -x $RINGMQ_BIN ]]; then
        SERVERS="$SERVERS ringmq-c1 ringmq-c2"
    else
        log "no ringmq binary at $RINGMQ_BIN: measuring nats-server only"
    fi
    # An earlier ringmq build to compare with in the same run (before/after a change).
    if [[ -n ${BASE_BIN:-} ]]; then
        SERVERS="$SERVERS base-c1 base-c2"
    fi
fi
# 10,000 connections need 10,000 descriptors in the server as well as in loadgen.
ulimit -n "$(ulimit -Hn)" || true

# shellcheck source=benches/lib.sh
source "$ROOT/benches/lib.sh"
trap server_stop EXIT

# utime + stime of a process, in clock ticks (fields 14 and 15, counted after the ')').
server_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    read -r -a fields <<<"$stat"
    echo $((fields[11] + fields[12]))
}

msgs_for_size() {
    case $1 in
        16) echo "${MSGS_16:-2000000}" ;;
        128) echo "${MSGS_128:-1000000}" ;;
        1k) echo "${MSGS_1K:-1500000}" ;;
    esac
}

bytes_for_size() {
    case $1 in 16) echo 16 ;; 128) echo 128 ;; 1k) echo 1024 ;; esac
}

# The loadgen arguments for one case (without --url/--json).
case_args() {
    local case=$1 shape=${1%-*} size=${1##*-}
    case $case in
        reqrep) echo "reqrep --requesters 1 --responders 1 --msgs $REQREP_MSGS --rate $REQREP_RATE"
            return ;;
        conns) echo "conns --count $CONNS --server-pid $SERVER_PID"; return ;;
    esac
    local common="pubsub --publishers 1 --msgs $(msgs_for_size "$size") --size $(bytes_for_size "$size")"
    case $shape in
        pub) echo "$common --subscribers 0" ;;
        1to1) echo "$common --subscribers 1" ;;
        1to4) echo "$common --subscribers 4" ;;
        queue3) echo "$common --subscribers 3 --queue q" ;;
        *) log "unknown case $case"; return 1 ;;
    esac
}

# --- runs ------------------------------------------------------------------------------
mkdir -p "$RESULTS"
: >"$RESULTS/runs.jsonl"
for case in $CASES; do
    for run in $(seq 1 "$RUNS"); do
        for server in $SERVERS; do
            server_start "$server" "$RESULTS/$server.log" || continue
            args=$(case_args "$case")
            # reqrep is the latency case: keep each run's histogram for reqrep.svg.
            if [[ $case == reqrep ]]; then
                args="$args --hdr-out $RESULTS/reqrep-$server-run$run.hdr"
            fi
            before=$(server_ticks "$SERVER_PID")
            log "$case run $run on $server: loadgen $args"
            # shellcheck disable=SC2086
            output=$(timeout "$RUN_TIMEOUT" "$LOADGEN" $args --url "nats://127.0.0.1:$PORT" --json) && status=0 || status=$?
            after=$(server_ticks "$SERVER_PID")
            server_stop
            json=$(tail -n 1 <<<"$output")
            if [[ ${json:0:1} != "{" ]]; then
                log "no JSON from loadgen (status $status)"
                json='{}'
            fi
            printf '{"case":"%s","server":"%s","run":%d,"status":%d,"server_cpu_sec":%s,"result":%s}\n' \
                "$case" "$server" "$run" "$status" "$(awk "BEGIN{print ($after-$before)/100}")" \
                "$json" >>"$RESULTS/runs.jsonl"
        done
    done
done

# --- reqrep.svg ------------------------------------------------------------------------
# One chart of the reqrep round trip, a line per server: of each server's clean runs, the one
# whose p99 is the median (the lower middle for an even count), so the picture shows a
# typical tail rather than the best or the worst run.
plot_reqrep() {
    local picks
    picks=$(python3 - "$RESULTS/runs.jsonl" "$SERVERS" "$RESULTS" "$RUNS" <<'PY'
import json, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
names = {"nats": "nats-server", "ringmq-c1": "ringmq --cores 1", "ringmq-c2": "ringmq --cores 2",
         "base-c1": "baseline ringmq --cores 1", "base-c2": "baseline ringmq --cores 2"}
for server in sys.argv[2].split():
    rows = [r for r in runs if r["case"] == "reqrep" and r["server"] == server
            and r["status"] == 0 and (r["result"].get("latency_us") or {}).get("p99") is not None]
    if not rows:
        continue
    rows.sort(key=lambda r: r["result"]["latency_us"]["p99"])
    pick = rows[(len(rows) - 1) // 2]
    label = f"{names.get(server, server)}, reqrep run {pick['run']} of {sys.argv[4]}, median p99"
    print(f"{label}={sys.argv[3]}/reqrep-{server}-run{pick['run']}.hdr")
PY
    ) || return 1
    [[ -n $picks ]] || { log "no clean reqrep run to plot"; return 0; }
    local inputs=()
    mapfile -t inputs <<<"$picks"
    # Log latency axis: on a shared box the tail is orders of magnitude above the median.
    "$LOADGEN" plot "${inputs[@]}" --out "$RESULTS/reqrep.svg" --log-y --title \
        "reqrep round trip: 1 requester, 1 responder, 16 B, $REQREP_RATE req/s ($(date -u +%F))" &&
        log "reqrep chart: $RESULTS/reqrep.svg"
}
if [[ " $CASES " == *" reqrep "* ]]; then
    plot_reqrep || log "reqrep.svg not drawn"
fi

# --- table -----------------------------------------------------------------------------
log "raw results: $RESULTS/runs.jsonl"
python3 - "$RESULTS/runs.jsonl" "$SERVERS" <<'EOF'
import json, statistics, sys
runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
servers = sys.argv[2].split()
baseline = "nats"

def metrics(run):
    r, cpu = run["result"], run["server_cpu_sec"]
    if r.get("mode") == "conns":
        return {"bytes/conn": r.get("server_rss_per_conn_bytes"),
                "conns/s": r.get("conns_per_sec"), "server CPU s": cpu}
    sent, lat = r.get("msgs_sent") or 0, r.get("latency_us") or {}
    out = {}
    if r.get("mode") == "reqrep":
        out["replies/s"] = r.get("sub_msgs_per_sec")
    elif r.get("subscribers", 0) == 0:
        out["pub msgs/s"] = r.get("pub_msgs_per_sec")
        out["pub MB/s"] = r.get("pub_mb_per_sec")
    else:
        out["pub msgs/s"] = r.get("pub_msgs_per_sec")
        out["sub msgs/s"] = r.get("sub_msgs_per_sec")
        out["sub MB/s"] = r.get("sub_mb_per_sec")
    out["p50 us"] = lat.get("p50")
    out["p99 us"] = lat.get("p99")
    out["server CPU s/M msgs"] = cpu / sent * 1e6 if sent else None
    out["loadgen CPU s/M msgs"] = r["loadgen_cpu_sec"] / sent * 1e6 if sent else None
    return out

def fmt(value, key):
    if value is None:
        return "-"
    if key.endswith(" us"):
        return f"{value:.0f}" if value >= 100 else f"{value:.3g}"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f} M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.0f} k"
    return f"{value:.3g}"

cases = list(dict.fromkeys(run["case"] for run in runs))
header = ["case", "metric"] + [f"{s} (median)" for s in servers]
header += [f"{s} / {baseline}" for s in servers if s != baseline]
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
for case in cases:
    per_server = {}
    failures = {}
    for server in servers:
        rows = [run for run in runs if run["case"] == case and run["server"] == server]
        failures[server] = sum(1 for run in rows if run["status"] != 0)
        per_server[server] = [metrics(run) for run in rows]
    keys = list(dict.fromkeys(k for rows in per_server.values() for m in rows for k in m))
    for key in keys:
        medians = {}
        for server in servers:
            values = [m[key] for m in per_server[server] if m.get(key) is not None]
            medians[server] = statistics.median(values) if values else None
        if all(value is None for value in medians.values()):
            continue
        cells = [case, key]
        for server in servers:
            mark = f" ({failures[server]} failed)" if failures[server] else ""
            cells.append(fmt(medians[server], key) + mark)
        for server in servers:
            if server == baseline:
                continue
            a, b = medians[server], medians.get(baseline)
            cells.append(f"{a / b:.2f}" if a is not None and b else "-")
        print("| " + " | ".join(cells) + " |")
EOF
