#!/usr/bin/env python3
"""JetStream consume (issue 14): `loadgen js consume` against ringmq and nats-server 2.9.10 -js.

Servers start as in js_bench.py (a config file each with a fresh store dir, the port read
from the log), alternating run by run (nats, ringmq-c1, ringmq-c2, nats, ...), RUNS times
per case, a fresh server and store per run; medians over clean runs.

Case: `loadgen js consume --mode pull|push --msgs MSGS --size 16|1024`: fills stream BENCH
(file storage, js pub with 256 PubAcks outstanding), creates durable consumer LOADGEN_C
(ack explicit, max_ack_pending 20000; push: a deliver subject the consume connection
subscribes to), consumes every message acking each (pull: batches of 256, a new request
when at most half a batch is still to come) and fails unless exactly sequences 1..=MSGS
arrived and the ack floor reached MSGS. The rate counts from the consumer's creation to the
last new sequence; server CPU is utime+stime around the whole loadgen run (fill included).

Target (issue 14): ringmq consumed msgs/s >= 1.5x nats-server's.

Writes js_consume_bench.jsonl and js_consume_bench.md to --out (default benches/results/).
Usage: benches/js_consume_bench.py [--runs 3] [--msgs 20000] [--servers nats,ringmq-c1,ringmq-c2]
                                   [--sizes 16,1024] [--modes pull,push]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from js_bench import HZ, ROOT, TARGET, Server, fmt, median, ratio, verdict
from link_bench import cpu_ticks

RUN_TIMEOUT = 300
NAMES = {"nats": "nats-server", "ringmq-c1": "ringmq --cores 1",
         "ringmq-c2": "ringmq --cores 2"}


def log(text):
    print(f"[js_consume_bench] {text}", file=sys.stderr, flush=True)


def run_case(mode, size, server_name, binaries, workdir, store_root, run, msgs):
    store_dir = os.path.join(store_root, f"{server_name}-{mode}-{size}-run{run}")
    record = {"mode": mode, "size": size, "server": server_name, "run": run, "msgs": msgs}
    server = Server(server_name, binaries, workdir, store_dir)
    try:
        cpu_before = cpu_ticks(server.pid)
        args = [binaries["loadgen"], "js", "consume", "--url",
                f"nats://127.0.0.1:{server.port}", "--mode", mode, "--msgs", str(msgs),
                "--size", str(size), "--stream", "BENCH", "--subject", "js.bench", "--json"]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT)
            status, stdout, stderr = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired:
            status, stdout, stderr = 124, "", "timeout"
        record["server_cpu_sec"] = (cpu_ticks(server.pid) - cpu_before) / HZ
        last = (stdout.strip().splitlines() or [""])[-1]
        try:
            record["result"] = json.loads(last)
        except json.JSONDecodeError:
            record["result"] = {}
        if status != 0:
            log(f"loadgen exited {status}: {stdout.strip()[-400:]} {stderr.strip()[-400:]}")
        record["status"] = status
    finally:
        server.stop()
    shutil.rmtree(store_dir)
    return record


def table(records, servers):
    lines = ["| mode | payload | server | consumed msgs/s | rate / nats (>= 1.5) |"
             " server CPU s (fill + consume) | failed runs |",
             "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["mode"], r["size"]) for r in records})
    for mode, size in keys:
        def stats(server):
            group = [r for r in records
                     if (r["mode"], r["size"], r["server"]) == (mode, size, server)]
            clean = [r for r in group if r["status"] == 0 and r["result"]]
            rate = median([r["result"]["consumed_msgs_per_sec"] for r in clean])
            cpu = median([r["server_cpu_sec"] for r in clean])
            return rate, cpu, len(group) - len(clean), len(group)
        base = stats("nats")[0]
        for server in servers:
            rate, cpu, failed, runs = stats(server)
            payload = "1 KiB" if size == 1024 else f"{size} B"
            rel = "1.00" if server == "nats" else verdict(ratio(rate, base), 1.5, True, True)
            lines.append(f"| {mode} | {payload} | {NAMES.get(server, server)} | {fmt(rate)} |"
                         f" {rel} | {fmt(cpu)} | {failed} of {runs} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--msgs", type=int, default=20000)
    parser.add_argument("--servers", default="nats,ringmq-c1,ringmq-c2")
    parser.add_argument("--sizes", default="16,1024")
    parser.add_argument("--modes", default="pull,push")
    parser.add_argument("--loadgen", default=os.path.join(TARGET, "release", "loadgen"))
    parser.add_argument("--ringmq", default=os.path.join(TARGET, "release", "ringmq"))
    parser.add_argument("--nats-server", default="/usr/sbin/nats-server")
    parser.add_argument("--out", default=os.path.join(ROOT, "benches", "results"))
    opts = parser.parse_args()
    servers = opts.servers.split(",")
    binaries = {"loadgen": opts.loadgen, "ringmq": opts.ringmq, "nats": opts.nats_server}
    os.makedirs(opts.out, exist_ok=True)
    raw_path = os.path.join(opts.out, "js_consume_bench.jsonl")
    records = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="js_consume_bench.") as workdir, \
            tempfile.TemporaryDirectory(prefix="js_consume_store.", dir="/tmp") as store_root, \
            open(raw_path, "w") as raw:
        for mode in opts.modes.split(","):
            for size in [int(s) for s in opts.sizes.split(",")]:
                for run in range(1, opts.runs + 1):
                    for server in servers:
                        log(f"{mode} {size} B run {run} on {server} "
                            f"({time.monotonic() - started:.0f} s)")
                        record = run_case(mode, size, server, binaries, workdir, store_root,
                                          run, opts.msgs)
                        records.append(record)
                        raw.write(json.dumps(record) + "\n")
                        raw.flush()
    text = table(records, servers)
    header = (f"# JetStream consume benchmark "
              f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n\n"
              f"`benches/js_consume_bench.py --runs {opts.runs} --msgs {opts.msgs}`: servers "
              f"alternating run by run, medians of {opts.runs} runs per case.\n\n")
    with open(os.path.join(opts.out, "js_consume_bench.md"), "w") as f:
        f.write(header + text)
    print(text)


if __name__ == "__main__":
    main()
