#!/usr/bin/env python3
"""JetStream publish (issue 14): ringmq against nats-server 2.9.10 -js, side by side in one run.

Every server starts from a config file of its own: `listen: 127.0.0.1:-1` and
`jetstream { store_dir: "<fresh dir>" }`, the store dirs side by side under --store-root
(default: a temporary directory in /tmp, so all on the same disk). The client port is read
from the log line "Listening for client connections on HOST:PORT", which both servers
print. Servers alternate run by run (nats, ringmq-c1, ringmq-c2, ringmq-c1-sync2m, nats,
...), RUNS times per case, a fresh server and a fresh store dir per run; medians.

Servers:
- nats: nats-server 2.9.10 with its defaults: a PubAck leaves at once, the store is synced
  every 2 minutes (so never during a run).
- ringmq-c1 / ringmq-c2: `--cores 1` / `--cores 2`, the default durability: a PubAck leaves
  after the record is fdatasync'ed (group commit).
- ringmq-c1-sync2m: `--cores 1` with `jetstream { sync_interval: "2m" }`: acks after the
  write, syncs every 2 minutes, like nats-server's default.

Case: `loadgen js pub` (creates stream BENCH on subject js.bench, file storage, then
publishes MSGS messages with a reply subject each and 256 PubAcks outstanding; with
--publishers N, N connections share them, each with its own window), payload 16 B and
1 KiB. Per run, around the loadgen run only:
- server CPU: utime + stime from /proc/PID/stat, per million acknowledged messages;
- bytes written: /proc/PID/io `write_bytes` (bytes the process sent towards the block
  layer: counted when a page is dirtied, so nats-server's unsynced writes count too; a page
  dirtied again after an fdatasync counts again) per message; `syscw` is kept in the raw
  runs but not compared: ringmq writes through io_uring, which does not count there;
- fsyncs: `perf stat` counting, in the kernel, the tracepoints syscalls:sys_enter_fsync,
  syscalls:sys_enter_fdatasync and io_uring:io_uring_submit_req with opcode 3 (FSYNC, which
  ringmq submits with the DATASYNC flag), attached to the server's PID (no ptrace: strace
  would stop the server on every syscall), started disabled and enabled through perf's
  control fifo before loadgen starts; per second of the loadgen run;
- bytes on disk: after the server has been stopped (SIGTERM, it exits cleanly), the store
  dir's allocated size (st_blocks × 512, as du counts) and its apparent size, per message.

Targets (issue 14): ringmq-c1/c2 acked msgs/s >= 2x nats-server's; bytes on disk per
message <= nats-server's.

Writes the raw runs (`js_bench.jsonl`) and the table (`js_bench.md`) to --out
(default benches/results/). Usage:
  benches/js_bench.py [--runs 3] [--servers nats,ringmq-c1,ringmq-c2,ringmq-c1-sync2m]
                      [--sizes 16,1024] [--window 256] [--publishers 1] [--loadgen PATH]
                      [--ringmq PATH]
                      [--nats-server PATH] [--store-root DIR] [--no-perf] [--out DIR]
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from link_bench import cpu_ticks, wait_port

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
START_DEADLINE = 10.0
STOP_DEADLINE = 30.0
RUN_TIMEOUT = 300
HZ = os.sysconf("SC_CLK_TCK")

MSGS = {16: 1_000_000, 1024: 300_000}
STREAM = "BENCH"
SUBJECT = "js.bench"
PERF_EVENTS = ["-e", "syscalls:sys_enter_fsync", "-e", "syscalls:sys_enter_fdatasync",
               "-e", "io_uring:io_uring_submit_req", "--filter", "opcode == 3"]
NAMES = {"nats": "nats-server (acks at once, syncs every 2 min)",
         "ringmq-c1": "ringmq --cores 1 (fdatasync before PubAck)",
         "ringmq-c2": "ringmq --cores 2 (fdatasync before PubAck)",
         "ringmq-c1-sync2m": "ringmq --cores 1, sync_interval 2m"}


def log(text):
    print(f"[js_bench] {text}", file=sys.stderr, flush=True)


class Server:
    """One server process with a fresh store dir; `port` once it accepts connections."""

    def __init__(self, name, binaries, workdir, store_dir):
        self.store_dir = store_dir
        os.makedirs(store_dir)
        sync = "  sync_interval: \"2m\"\n" if name.endswith("-sync2m") else ""
        config = os.path.join(workdir, f"{name}.conf")
        with open(config, "w") as f:
            f.write(f"listen: 127.0.0.1:-1\njetstream {{\n  store_dir: \"{store_dir}\"\n"
                    f"{sync}}}\n")
        self.log_path = os.path.join(workdir, f"{name}.log")
        if name == "nats":
            argv = [binaries["nats"], "-c", config]
        else:
            cores = re.match(r"ringmq-c(\d+)", name).group(1)
            argv = [binaries["ringmq"], "-c", config, "--cores", cores]
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log_file, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        deadline = time.monotonic() + START_DEADLINE
        port = None
        while port is None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"{name} did not start; see {self.log_path}")
            text = open(self.log_path).read()
            port = re.search(r"Listening for client connections on [0-9.]+:(\d+)", text)
            time.sleep(0.02)  # readiness poll interval, not synchronisation
        self.port = int(port.group(1))
        wait_port(self.port, self.proc)

    def stop(self):
        """SIGTERM and wait for a clean exit (SIGKILL only past STOP_DEADLINE)."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            log(f"server {self.pid} ignored SIGTERM for {STOP_DEADLINE} s; killed")
            self.proc.kill()
            self.proc.wait()
        self.log_file.close()


def proc_io(pid):
    with open(f"/proc/{pid}/io") as f:
        return {k: int(v) for k, v in (line.split(": ") for line in f.read().splitlines())}


def disk_usage(path):
    """(allocated bytes as du counts them, apparent bytes) of every file under path."""
    allocated = apparent = 0
    for directory, _, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(directory, name))
            allocated += st.st_blocks * 512
            apparent += st.st_size
    return allocated, apparent


class FsyncCounter:
    """`perf stat` on the server's PID, counting fsync and fdatasync syscalls and io_uring
    FSYNC submissions in the kernel. Started disabled; `__init__` returns once perf has
    acknowledged the enable through its control fifo."""

    def __init__(self, pid, workdir):
        self.ctl = os.path.join(workdir, "perf-ctl")
        self.ack = os.path.join(workdir, "perf-ack")
        self.out = os.path.join(workdir, "perf-out.txt")
        for fifo in (self.ctl, self.ack):
            if os.path.exists(fifo):
                os.unlink(fifo)
            os.mkfifo(fifo)
        self.proc = subprocess.Popen(
            ["perf", "stat", "-x", ",", "-o", self.out, "-D", "-1",
             "--control", f"fifo:{self.ctl},{self.ack}"] + PERF_EVENTS + ["-p", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Opening the fifos blocks until perf opens its ends: perf is up when both return.
        self.ctl_file = open(self.ctl, "w")
        self.ack_file = open(self.ack)
        self.command("enable")

    def command(self, text):
        self.ctl_file.write(text + "\n")
        self.ctl_file.flush()
        # perf writes "ack\n" with the C string's NUL after it.
        answer = self.ack_file.readline().replace("\x00", "")
        if answer.strip() != "ack":
            raise SystemExit(f"perf answered {answer!r} to {text}")

    def stop(self):
        """Disables the counters, stops perf and returns {event: count}."""
        self.command("disable")
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=STOP_DEADLINE)
        self.ctl_file.close()
        self.ack_file.close()
        counts = {}
        for line in open(self.out):
            fields = line.strip().split(",")
            if len(fields) > 2 and fields[0].isdigit():
                key = fields[2] + ("/fsync" if fields[2].startswith("io_uring") else "")
                counts[key] = int(fields[0])
        if not counts:
            raise SystemExit(f"perf stat counted nothing: {err.decode()[-300:]}")
        return counts


def run_case(size, server_name, binaries, workdir, store_root, run, opts):
    """One run on a fresh server and store; the record for js_bench.jsonl."""
    store_dir = os.path.join(store_root, f"{server_name}-{size}-run{run}")
    record = {"size": size, "server": server_name, "run": run, "msgs": MSGS[size]}
    server = Server(server_name, binaries, workdir, store_dir)
    try:
        counter = None if opts.no_perf else FsyncCounter(server.pid, workdir)
        cpu_before, io_before = cpu_ticks(server.pid), proc_io(server.pid)
        args = [binaries["loadgen"], "js", "pub", "--url", f"nats://127.0.0.1:{server.port}",
                "--msgs", str(MSGS[size]), "--size", str(size), "--window", str(opts.window),
                "--publishers", str(opts.publishers),
                "--stream", STREAM, "--subject", SUBJECT, "--json"]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=RUN_TIMEOUT)
            status, stdout, stderr = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired:
            status, stdout, stderr = 124, "", "timeout"
        cpu_after, io_after = cpu_ticks(server.pid), proc_io(server.pid)
        record["fsyncs"] = counter.stop() if counter else None
        last = (stdout.strip().splitlines() or [""])[-1]
        try:
            record["result"] = json.loads(last)
        except json.JSONDecodeError:
            record["result"] = {}
        if status != 0:
            log(f"loadgen exited {status}: {stdout.strip()[-400:]} {stderr.strip()[-400:]}")
        record.update(status=status, server_cpu_sec=(cpu_after - cpu_before) / HZ,
                      io={k: io_after[k] - io_before[k] for k in io_after})
    finally:
        server.stop()
    record["disk_allocated"], record["disk_apparent"] = disk_usage(store_dir)
    shutil.rmtree(store_dir)
    return record


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def metrics(records):
    """Medians over the clean runs of one case on one server."""
    clean = [r for r in records if r.get("status") == 0 and r.get("result")]
    out = {"failed": len(records) - len(clean), "runs": len(records)}
    per = {k: [] for k in ("rate", "p50", "p99", "cpu", "fsyncs", "written", "disk",
                           "apparent")}
    for r in clean:
        res = r["result"]
        acks, seconds = res["acks"], res["elapsed_sec"]
        per["rate"].append(res["acked_msgs_per_sec"])
        per["p50"].append(res["latency_us"]["p50"])
        per["p99"].append(res["latency_us"]["p99"])
        per["cpu"].append(r["server_cpu_sec"] / acks * 1e6)
        if r.get("fsyncs") is not None:
            per["fsyncs"].append(sum(r["fsyncs"].values()) / seconds)
        per["written"].append(r["io"]["write_bytes"] / acks)
        per["disk"].append(r["disk_allocated"] / acks)
        per["apparent"].append(r["disk_apparent"] / acks)
    out.update({k: median(v) for k, v in per.items()})
    return out


def fmt(value, digits=3):
    if value is None:
        return "-"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f} M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.0f} k"
    if abs(value) >= 1e3:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(value, target, higher_is_better, judged):
    if value is None:
        return "-"
    if not judged:
        return f"{value:.2f}"
    ok = value >= target if higher_is_better else value <= target
    return f"{value:.2f} {'met' if ok else '**missed**'}"


def table(records, servers):
    by = {}
    for r in records:
        by.setdefault((r["size"], r["server"]), []).append(r)
    lines = ["| payload | server | acked msgs/s | rate / nats (>= 2) | ack p50 / p99 µs |"
             " server CPU s/M | fsyncs/s | bytes written/msg | on disk/msg (apparent) |"
             " disk / nats (<= 1) | failed runs |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for size in sorted({r["size"] for r in records}):
        base = metrics(by.get((size, "nats"), []))
        for server in servers:
            m = metrics(by.get((size, server), []))
            is_base = server == "nats"
            judged = server in ("ringmq-c1", "ringmq-c2")
            payload = "1 KiB" if size == 1024 else f"{size} B"
            lines.append(
                f"| {payload} | {NAMES.get(server, server)} | {fmt(m['rate'])} | "
                f"{'1.00' if is_base else verdict(ratio(m['rate'], base['rate']), 2, True, judged)}"
                f" | {fmt(m['p50'])} / {fmt(m['p99'])} | {fmt(m['cpu'])} | {fmt(m['fsyncs'])} | "
                f"{fmt(m['written'])} | {fmt(m['disk'])} ({fmt(m['apparent'])}) | "
                f"{'1.00' if is_base else verdict(ratio(m['disk'], base['disk']), 1, False, judged)}"
                f" | {m['failed']} of {m['runs']} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--servers", default="nats,ringmq-c1,ringmq-c2,ringmq-c1-sync2m")
    parser.add_argument("--sizes", default="16,1024")
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--publishers", type=int, default=1,
                        help="publishing connections, each with its own window")
    parser.add_argument("--loadgen", default=os.path.join(TARGET, "release", "loadgen"))
    parser.add_argument("--ringmq", default=os.path.join(TARGET, "release", "ringmq"))
    parser.add_argument("--nats-server", default="/usr/sbin/nats-server")
    parser.add_argument("--store-root", default="/tmp",
                        help="the fresh store dirs go in a temporary directory here")
    parser.add_argument("--no-perf", action="store_true", help="do not count fsyncs")
    parser.add_argument("--out", default=os.path.join(ROOT, "benches", "results"))
    parser.add_argument("--tables-only", action="store_true",
                        help="redraw js_bench.md from the js_bench.jsonl in --out")
    opts = parser.parse_args()
    servers = opts.servers.split(",")
    sizes = [int(s) for s in opts.sizes.split(",")]
    unknown = [s for s in servers if s != "nats" and not re.fullmatch(r"ringmq-c\d+(-sync2m)?", s)]
    if unknown or any(s not in MSGS for s in sizes):
        raise SystemExit(f"unknown servers {unknown} or sizes {sizes} (known: {list(MSGS)})")
    binaries = {"loadgen": opts.loadgen, "ringmq": opts.ringmq, "nats": opts.nats_server}
    os.makedirs(opts.out, exist_ok=True)
    raw_path = os.path.join(opts.out, "js_bench.jsonl")
    if opts.tables_only:
        records = [json.loads(line) for line in open(raw_path) if line.strip()]
    else:
        records = []
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="js_bench.") as workdir, \
                tempfile.TemporaryDirectory(prefix="js_bench_store.",
                                            dir=opts.store_root) as store_root, \
                open(raw_path, "w") as raw:
            for size in sizes:
                for run in range(1, opts.runs + 1):
                    for server in servers:
                        log(f"{size} B run {run} on {server} "
                            f"({time.monotonic() - started:.0f} s)")
                        record = run_case(size, server, binaries, workdir, store_root, run,
                                          opts)
                        records.append(record)
                        raw.write(json.dumps(record) + "\n")
                        raw.flush()
        log(f"done in {time.monotonic() - started:.0f} s; raw runs in {raw_path}")
    text = table(records, servers)
    runs = max(len([r for r in records if (r["size"], r["server"]) == key])
               for key in {(r["size"], r["server"]) for r in records})
    how = ("redrawn by --tables-only from js_bench.jsonl" if opts.tables_only else
           f"`benches/js_bench.py --runs {opts.runs} --window {opts.window} "
           f"--publishers {opts.publishers}`")
    header = (f"# JetStream publish benchmark "
              f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n\n"
              f"{how}: servers alternating run by run, medians of {runs} runs per case; CPU = "
              f"server utime+stime per million acked messages.\n\n")
    with open(os.path.join(opts.out, "js_bench.md"), "w") as f:
        f.write(header + text)
    print(text)


if __name__ == "__main__":
    main()
