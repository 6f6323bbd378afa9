# Shared by the benchmark scripts (sourced, not run): start a server on 127.0.0.1:$PORT, wait
# for its port with a deadline, stop it. The caller defines `log` and sets PORT, NATS_BIN,
# RINGMQ_BIN and SERVER_START_TIMEOUT (seconds).

SERVER_PID=""

# wait_for_port PID WHAT LOGFILE: until 127.0.0.1:$PORT accepts a connection; fails (after
# logging where to look) if PID exits or SERVER_START_TIMEOUT passes first.
wait_for_port() {
    local pid=$1 what=$2 logfile=$3
    local deadline=$((SECONDS + SERVER_START_TIMEOUT))
    until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null || ((SECONDS > deadline)); then
            log "$what did not start; see $logfile"
            return 1
        fi
        sleep 0.05 # the readiness poll's interval, not synchronisation
    done
}

# server_start NAME LOGFILE: NAME is `nats`, `ringmq-cN` for ringmq with N cores, or `base-cN`
# for the ringmq binary at $BASE_BIN (an earlier build, for before/after runs). Sets
# SERVER_PID; on failure the server is stopped and the status is 1.
server_start() {
    local name=$1 logfile=$2
    case $name in
        nats) "$NATS_BIN" -a 127.0.0.1 -p "$PORT" >"$logfile" 2>&1 & ;;
        ringmq-c*) "$RINGMQ_BIN" -a 127.0.0.1 -p "$PORT" --cores "${name#ringmq-c}" \
                       >"$logfile" 2>&1 & ;;
        base-c*) "$BASE_BIN" -a 127.0.0.1 -p "$PORT" --cores "${name#base-c}" \
                     >"$logfile" 2>&1 & ;;
        *) log "unknown server $name"; return 1 ;;
    esac
    SERVER_PID=$!
    wait_for_port "$SERVER_PID" "$name" "$logfile" || { server_stop; return 1; }
}

server_stop() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
