#!/usr/bin/env python3
"""NATS over WebSocket (issue 13): ringmq against nats-server 2.9.10, side by side in one run.

Every server starts from the same config file (`listen: 127.0.0.1:-1` and a `websocket {}`
block on `127.0.0.1:-1`, `no_tls: true`, `compression: true|false`); the ports are read from
the log lines "Listening for websocket clients on ws://HOST:PORT" and "Listening for client
connections on HOST:PORT", which both servers print. Servers alternate run by run (nats,
ringmq-c1, ringmq-c2, nats, ...), RUNS times per case, a fresh server per run; medians.
ringmq runs as `--cores 1` and `--cores 2`. Nothing is pinned: the servers and loadgen share
the machine's vCPUs as in benches/side_by_side.sh.

Cases (loadgen over `--url ws://...`, with `--ws-compression` when compression is on):
- ws-1to1 / ws-1to4 at 16 B and 1 KiB, compression off and on: `loadgen pubsub`, one
  publisher; throughput is what the subscribers received per second; server CPU is utime +
  stime (from /proc/PID/stat, before and after the loadgen run) per million published.
- reqrep: one requester, one responder, 16 B, a fixed 5,000 requests/s (as the README's
  reqrep figure), compression off: round-trip p50/p99; CPU per million requests.
- conns: 10,000 idle connections (CONNECT, one SUB, PING/PONG) over WebSocket and over
  TCP to the same server: the server's resident memory growth per connection.

Targets (issue 13): ringmq >= 1.5x nats-server's throughput and <= its CPU per message in
every pub/sub case; reqrep p99 <= 0.8x; memory per idle WebSocket connection <= 1.5x ringmq's
own TCP figure (same --cores).

Writes the raw runs (`ws_bench.jsonl`) and the tables (`ws_bench.md`) to --out
(default benches/results/). Usage:
  benches/ws_bench.py [--runs 5] [--servers nats,ringmq-c1,ringmq-c2] [--cases ...]
                      [--loadgen PATH] [--ringmq PATH] [--nats-server PATH] [--out DIR]
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from link_bench import cpu_ticks, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
START_DEADLINE = 10.0
RUN_TIMEOUT = 300
HZ = os.sysconf("SC_CLK_TCK")

MSGS = {16: 1_000_000, 1024: 300_000}
REQREP_RATE = 5000
REQREP_MSGS = 50_000
CONNS = 10_000

PUBSUB_CASES = [f"ws-{shape}-{size}-{comp}" for shape in ("1to1", "1to4")
                for size in ("16", "1k") for comp in ("plain", "deflate")]
ALL_CASES = PUBSUB_CASES + ["reqrep", "conns"]
NAMES = {"nats": "nats-server", "ringmq-c1": "ringmq --cores 1",
         "ringmq-c2": "ringmq --cores 2"}


def log(text):
    print(f"[ws_bench] {text}", file=sys.stderr, flush=True)


class Server:
    """One server process started from a websocket config; ws_url and tcp_port once ready."""

    def __init__(self, name, binaries, compression, workdir):
        config = os.path.join(workdir, f"ws-{compression}.conf")
        with open(config, "w") as f:
            f.write("listen: 127.0.0.1:-1\nwebsocket {\n  listen: \"127.0.0.1:-1\"\n"
                    f"  no_tls: true\n  compression: {str(compression).lower()}\n}}\n")
        self.log_path = os.path.join(workdir, f"{name}.log")
        if name == "nats":
            argv = [binaries["nats"], "-c", config]
        else:
            argv = [binaries["ringmq"], "-c", config, "--cores", name.rsplit("-c", 1)[1]]
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + START_DEADLINE
        ws = tcp = None
        while ws is None or tcp is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"{name} did not start; see {self.log_path}")
            text = open(self.log_path).read()
            ws = re.search(r"Listening for websocket clients on (ws://[0-9.]+:\d+)", text)
            tcp = re.search(r"Listening for client connections on [0-9.]+:(\d+)", text)
            time.sleep(0.02)  # readiness poll interval, not synchronisation
        self.ws_url = ws.group(1)
        self.tcp_port = int(tcp.group(1))
        wait_port(self.tcp_port, self.proc)
        wait_port(int(self.ws_url.rsplit(":", 1)[1]), self.proc)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=START_DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


def loadgen(binary, args):
    """Runs loadgen with --json; (exit status, last stdout line as JSON or {})."""
    try:
        done = subprocess.run([binary] + args + ["--json"], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return 124, {}
    last = (done.stdout.strip().splitlines() or [""])[-1]
    try:
        result = json.loads(last)
    except json.JSONDecodeError:
        log(f"no JSON from loadgen {' '.join(args)}: {done.stderr.strip()[-300:]}")
        result = {}
    return done.returncode, result


def pubsub_args(case, url):
    _, shape, size, comp = case.split("-")
    size = 1024 if size == "1k" else int(size)
    args = ["pubsub", "--url", url, "--publishers", "1",
            "--subscribers", "1" if shape == "1to1" else "4",
            "--msgs", str(MSGS[size]), "--size", str(size)]
    return args + (["--ws-compression"] if comp == "deflate" else [])


def run_case(case, server_name, binaries, workdir):
    """One run of one case on a fresh server; the record for ws_bench.jsonl."""
    record = {"case": case, "server": server_name}
    if case == "conns":
        # A fresh server per transport: memory freed by closed connections stays resident.
        for transport in ("ws", "tcp"):
            server = Server(server_name, binaries, False, workdir)
            url = server.ws_url if transport == "ws" else f"nats://127.0.0.1:{server.tcp_port}"
            try:
                before = cpu_ticks(server.pid)
                status, result = loadgen(binaries["loadgen"], [
                    "conns", "--url", url, "--count", str(CONNS),
                    "--server-pid", str(server.pid)])
                record[transport] = {"status": status, "result": result,
                                     "server_cpu_sec": (cpu_ticks(server.pid) - before) / HZ}
            finally:
                server.stop()
        return record
    server = Server(server_name, binaries, case.endswith("-deflate"), workdir)
    try:
        if case == "reqrep":
            args = ["reqrep", "--url", server.ws_url, "--requesters", "1", "--responders",
                    "1", "--msgs", str(REQREP_MSGS), "--rate", str(REQREP_RATE)]
        else:
            args = pubsub_args(case, server.ws_url)
        before = cpu_ticks(server.pid)
        status, result = loadgen(binaries["loadgen"], args)
        record.update(status=status, result=result,
                      server_cpu_sec=(cpu_ticks(server.pid) - before) / HZ)
        return record
    finally:
        server.stop()


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def pubsub_metrics(records):
    """Medians of one case on one server: rate, CPU s/M, loadgen CPU s/M, failed runs."""
    rates, cpus, loadgen_cpus, failed = [], [], [], 0
    for r in records:
        res = r.get("result") or {}
        if r.get("status") != 0 or not res:
            failed += 1
            continue
        sent = res.get("msgs_sent") or 0
        rates.append(res.get("sub_msgs_per_sec"))
        cpus.append(r["server_cpu_sec"] / sent * 1e6 if sent else None)
        loadgen_cpus.append(res.get("loadgen_cpu_sec", 0) / sent * 1e6 if sent else None)
    return median(rates), median(cpus), median(loadgen_cpus), failed


def fmt(value, digits=3):
    if value is None:
        return "-"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f} M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.0f} k"
    return f"{value:.{digits}g}"


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(value, target, higher_is_better):
    if value is None:
        return "-"
    ok = value >= target if higher_is_better else value <= target
    return f"{value:.2f} {'met' if ok else '**missed**'}"


def tables(records, servers, runs):
    by = {}
    for r in records:
        by.setdefault((r["case"], r["server"]), []).append(r)
    ringmqs = [s for s in servers if s != "nats"]
    lines = []
    cases = [c for c in ALL_CASES if any(k[0] == c for k in by)]
    pub_cases = [c for c in cases if c.startswith("ws-")]
    if pub_cases:
        lines += ["| case | server | sub msgs/s | server CPU s/M msgs | loadgen CPU s/M |"
                  " rate / nats (>= 1.5) | CPU / nats (<= 1.0) | failed runs |",
                  "|---|---|---|---|---|---|---|---|"]
        for case in pub_cases:
            base = pubsub_metrics(by.get((case, "nats"), []))
            for server in servers:
                rate, cpu, lg, failed = pubsub_metrics(by.get((case, server), []))
                is_base = server == "nats"
                lines.append(
                    f"| {case} | {NAMES.get(server, server)} | {fmt(rate)} | {fmt(cpu)} | "
                    f"{fmt(lg)} | "
                    f"{'1.00' if is_base else verdict(ratio(rate, base[0]), 1.5, True)} | "
                    f"{'1.00' if is_base else verdict(ratio(cpu, base[1]), 1.0, False)} | "
                    f"{failed} of {len(by.get((case, server), []))} |")
        lines.append("")
    if "reqrep" in cases:
        lines += [f"| reqrep {REQREP_RATE:,}/s over ws | server | p50 us | p99 us |"
                  " server CPU s/M req | p99 / nats (<= 0.8) | failed runs |",
                  "|---|---|---|---|---|---|---|"]
        stats = {}
        for server in servers:
            rows = [r for r in by.get(("reqrep", server), []) if r.get("status") == 0]
            lat = [(r["result"].get("latency_us") or {}) for r in rows]
            cpu = [r["server_cpu_sec"] / r["result"]["msgs_sent"] * 1e6 for r in rows
                   if r["result"].get("msgs_sent")]
            stats[server] = (median([x.get("p50") for x in lat]),
                             median([x.get("p99") for x in lat]), median(cpu),
                             len(by.get(("reqrep", server), [])) - len(rows))
        for server in servers:
            p50, p99, cpu, failed = stats[server]
            check = "1.00" if server == "nats" else verdict(
                ratio(p99, stats.get("nats", (None,) * 4)[1]), 0.8, False)
            lines.append(f"| reqrep | {NAMES.get(server, server)} | {fmt(p50)} | {fmt(p99)} | "
                         f"{fmt(cpu)} | {check} | {failed} of {runs} |")
        lines.append("")
    if "conns" in cases:
        lines += [f"| {CONNS:,} idle conns | server | bytes/conn ws | bytes/conn tcp |"
                  " ws / own tcp (<= 1.5) | ws / nats ws | conns/s ws |",
                  "|---|---|---|---|---|---|---|"]
        stats = {}
        for server in servers:
            rows = by.get(("conns", server), [])

            def pick(transport, key, rows=rows):
                return median([(r[transport]["result"] or {}).get(key) for r in rows
                               if r[transport]["status"] == 0])
            stats[server] = (pick("ws", "server_rss_per_conn_bytes"),
                             pick("tcp", "server_rss_per_conn_bytes"),
                             pick("ws", "conns_per_sec"))
        for server in servers:
            ws, tcp, cps = stats[server]
            own = verdict(ratio(ws, tcp), 1.5, False) if server != "nats" else \
                f"{ratio(ws, tcp):.2f}" if ratio(ws, tcp) else "-"
            lines.append(f"| conns | {NAMES.get(server, server)} | {fmt(ws)} | {fmt(tcp)} | "
                         f"{own} | {fmt(ratio(ws, stats.get('nats', (None,))[0]), 2)} | "
                         f"{fmt(cps)} |")
        lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--servers", default="nats,ringmq-c1,ringmq-c2")
    parser.add_argument("--cases", default=",".join(ALL_CASES))
    parser.add_argument("--loadgen", default=os.path.join(TARGET, "release", "loadgen"))
    parser.add_argument("--ringmq", default=os.path.join(TARGET, "release", "ringmq"))
    parser.add_argument("--nats-server", default="/usr/sbin/nats-server")
    parser.add_argument("--out", default=os.path.join(ROOT, "benches", "results"))
    parser.add_argument("--tables-only", action="store_true",
                        help="redraw ws_bench.md from the ws_bench.jsonl in --out")
    opts = parser.parse_args()
    servers = opts.servers.split(",")
    cases = opts.cases.split(",")
    unknown = [c for c in cases if c not in ALL_CASES]
    if unknown:
        raise SystemExit(f"unknown cases {unknown}; known: {ALL_CASES}")
    binaries = {"loadgen": opts.loadgen, "ringmq": opts.ringmq, "nats": opts.nats_server}
    os.makedirs(opts.out, exist_ok=True)
    raw_path = os.path.join(opts.out, "ws_bench.jsonl")
    if opts.tables_only:
        records = [json.loads(line) for line in open(raw_path) if line.strip()]
    else:
        # 10,000 connections need 10,000 descriptors in the server as in loadgen.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if "conns" in cases and hard < CONNS + 100:
            raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} < {CONNS + 100}")
        records = []
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="ws_bench.") as workdir, \
                open(raw_path, "w") as raw:
            for case in cases:
                for run in range(1, opts.runs + 1):
                    for server in servers:
                        log(f"{case} run {run} on {server} "
                            f"({time.monotonic() - started:.0f} s)")
                        record = run_case(case, server, binaries, workdir)
                        record["run"] = run
                        records.append(record)
                        raw.write(json.dumps(record) + "\n")
                        raw.flush()
        log(f"done in {time.monotonic() - started:.0f} s; raw runs in {raw_path}")
    text = tables(records, servers, opts.runs)
    header = (f"# WebSocket benchmark ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n\n"
              f"`benches/ws_bench.py --runs {opts.runs}`, servers alternating run by run, "
              f"medians; CPU = server utime+stime per million published messages "
              f"(requests for reqrep).\n\n")
    with open(os.path.join(opts.out, "ws_bench.md"), "w") as f:
        f.write(header + text)
    print(text)


if __name__ == "__main__":
    main()
