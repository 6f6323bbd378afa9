#!/usr/bin/env python3
"""Messages through a cluster route (issue 12): publisher on node A, subscriber on node B,
two ringmq nodes against two nats-server 2.9.10 nodes, 16 B and 1 KiB payloads.

For each case, run and server (alternating, RUNS times): node A starts with
`--cluster nats://127.0.0.1:-1 --cluster_name bench`, its route port is read from its log
line "Listening for route connections on 127.0.0.1:PORT", and node B starts with
`--routes nats://127.0.0.1:PORT`. An anchor client subscribes to the case's subject on B
and a sentinel is published on A until it arrives, so the interest has crossed the route
before the measured run (none of loadgen's messages can be dropped for want of it); then
`loadgen pubsub --pub-url A --sub-url B`. Once loadgen's subscriber is in (B's /connz), the
anchor unsubscribes. Reports the median subscriber rate, its ratio to nats-server's, and
CPU seconds per million published messages of A, of B and of both summed (utime + stime
deltas from /proc/PID/stat over the loadgen run). ringmq runs as `ringmq-c1` (`--cores 1`
per node) and `ringmq-c2` (`--cores 2` per node; four event loops on this 2-core box).

Usage: benches/route_link.py [--runs N] [--loadgen PATH] [--ringmq PATH] [--nats-server PATH]
                             [--servers nats,ringmq-c1,ringmq-c2] [--cases 16,1k]

2026-12-07, this 2-vCPU VM (shared, load average 3-5), release build at e44188c, `--runs 7`,
nodes alternating run by run; medians over the runs that lost nothing; CPU in s per million
published messages, A + B summed (each node's share in brackets):

| payload | nodes | sub msgs/s | rate / nats | CPU s/M msgs (A + B) | CPU / nats | runs with loss |
|---|---|---|---|---|---|---|
| 16 B | nats | 1,230,739 | 1.00 | 1.110 (0.440 + 0.705) | 1.00 | 0 of 7 |
| 16 B | ringmq-c1 | 2,075,842 | 1.69 | 0.455 (0.175 + 0.265) | 0.41 | 0 of 7 |
| 16 B | ringmq-c2 | 2,333,858 | 1.90 | 0.475 (0.205 + 0.245) | 0.43 | 0 of 7 |
| 1024 B | nats | 311,385 | 1.00 | 4.520 (1.980 + 2.580) | 1.00 | 0 of 7 |
| 1024 B | ringmq-c1 | 425,410 | 1.37 | 2.070 (1.040 + 1.030) | 0.46 | 5 of 7 |
| 1024 B | ringmq-c2 | 385,174 | 1.24 | 2.060 (1.120 + 0.980) | 0.46 | 4 of 7 |

At 1 KiB ringmq loses messages in most runs: A forwards faster than loadgen's one
subscriber reads, and B does not stall the route that feeds the subscriber (a message from
a route or leaf link clears the stall gate, `Shard::route_from_link`), so the subscriber's
queue reaches max_pending (64 MiB) and B cuts it ("Slow Consumer Detected" in B's log).
nats-server, slower per message, never gets there. ringmq's 1 KiB medians (2 clean runs of 7 for
c1, 3 for c2) are those of the runs where the subscriber kept up, so they understate the
route; the 1 KiB ratio stands only once a link feeding a slow client is gated.

Where the instructions go (callgrind, each node `--cores 1`, 300,000 messages of 16 B A to
B, counters zeroed once the route was up): A 1,587 per message (client PUB parsing about
520, `send_to_links` building the RMSG line 301, `Outbound::write` 189), B 2,189 (the
route's RMSG parsing about 890: `protocol::link::first_field` 460 and `last_field` 226,
byte-by-byte scans run once per field over the line, which is split twice, for its length
and for its fields; then `route_from_link` 181, `deliver` 165, `Outbound::write` 189,
a hash lookup 111). B is the costlier node, as with nats-server (see the table).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time

from link_bench import Client, cpu_ticks, free_port, wait_for_second_subscriber, wait_port

DEADLINE = 10.0
MSGS = {"16": 2_000_000, "1k": 500_000}
SIZE = {"16": 16, "1k": 1024}
ROUTE_LINE = re.compile(rb"Listening for route connections on [^\s:]+:(\d+)")


def route_port(log_path, proc):
    """The route port node A printed in its log (waits for the line with a deadline)."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        with open(log_path, "rb") as f:
            found = ROUTE_LINE.search(f.read())
        if found:
            return int(found.group(1))
        if proc.poll() is not None:
            raise SystemExit("server exited: %s" % proc.args)
        time.sleep(0.02)  # readiness poll interval
    raise SystemExit("no route listener line in %s" % log_path)


def server_argv(args, name):
    if name == "nats":
        return [args.nats_server]
    return [args.ringmq, "--cores", name[len("ringmq-c"):]]


def start_node(args, server, name, client_port, monitor, extra, log_path):
    argv = server_argv(args, server) + [
        "-a", "127.0.0.1", "-p", str(client_port), "-m", str(monitor), "-n", name,
        "--cluster", "nats://127.0.0.1:-1", "--cluster_name", "bench"] + extra
    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    log.close()
    return proc


def one_run(args, server, case, tmp):
    a_port, b_port, b_monitor, a_monitor = free_port(), free_port(), free_port(), free_port()
    a_log, b_log = os.path.join(tmp, "a.log"), os.path.join(tmp, "b.log")
    a = start_node(args, server, "a", a_port, a_monitor, [], a_log)
    b = None
    try:
        wait_port(a_port, a)
        routes = "nats://127.0.0.1:%d" % route_port(a_log, a)
        b = start_node(args, server, "b", b_port, b_monitor, ["--routes", routes], b_log)
        wait_port(b_port, b)
        subject = b"bench.route"
        anchor = Client(b_port)
        anchor.send(b"SUB " + subject + b" 1\r\n")
        probe = Client(a_port)
        deadline = time.monotonic() + DEADLINE
        while True:
            probe.send(b"PUB " + subject + b" 4\r\nsync\r\n")
            if anchor.received(b"sync", 0.1):
                break
            if time.monotonic() > deadline:
                raise SystemExit("the route never carried the interest (%s, %s)" % (server, case))
        before = (cpu_ticks(a.pid), cpu_ticks(b.pid))
        loadgen = subprocess.Popen(
            [args.loadgen, "pubsub", "--publishers", "1", "--subscribers", "1",
             "--msgs", str(MSGS[case]), "--size", str(SIZE[case]),
             "--subject", subject.decode(),
             "--pub-url", "nats://127.0.0.1:%d" % a_port,
             "--sub-url", "nats://127.0.0.1:%d" % b_port, "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # Once loadgen's subscription is in, the anchor's goes: B's interest in the subject
        # never drops to zero, so the route keeps it, and the anchor (which does not read)
        # receives nothing more of the run.
        wait_for_second_subscriber(b_monitor, subject.decode())
        anchor.send(b"UNSUB 1\r\n")
        stdout, _ = loadgen.communicate(timeout=300)
        after = (cpu_ticks(a.pid), cpu_ticks(b.pid))
        result = json.loads(stdout.decode().strip().splitlines()[-1])
        sent = result.get("msgs_sent") or 1
        return {
            "rate": result.get("sub_msgs_per_sec") or 0,
            "lost": result.get("lost", 0) + result.get("duplicated", 0)
            + result.get("corrupted", 0),
            "a_cpu": (after[0] - before[0]) / 100 / sent * 1e6,
            "b_cpu": (after[1] - before[1]) / 100 / sent * 1e6,
        }
    finally:
        for proc in (b, a):
            if proc is not None:
                proc.terminate()
                proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--loadgen", default="target/release/loadgen")
    ap.add_argument("--ringmq", default="target/release/ringmq")
    ap.add_argument("--nats-server", default="/usr/sbin/nats-server")
    ap.add_argument("--servers", default="nats,ringmq-c1,ringmq-c2")
    ap.add_argument("--cases", default="16,1k")
    args = ap.parse_args()
    servers = args.servers.split(",")
    cases = args.cases.split(",")
    results = {(c, s): [] for c in cases for s in servers}
    with tempfile.TemporaryDirectory(prefix="route_link.") as tmp:
        for case in cases:
            for run in range(args.runs):
                for server in servers:
                    r = one_run(args, server, case, tmp)
                    results[(case, server)].append(r)
                    print("# %s run %d %s: %.0f msgs/s, A %.3f + B %.3f s/M, lost %d" % (
                        case, run + 1, server, r["rate"], r["a_cpu"], r["b_cpu"], r["lost"]),
                        flush=True)
    print("| payload | nodes | sub msgs/s | rate / nats | CPU s/M msgs (A + B) | CPU / nats "
          "| runs with loss |")
    print("|---|---|---|---|---|---|---|")
    for case in cases:
        def median(server, key):
            # Over clean runs only: a run that lost messages ended early (its subscriber
            # cut), so its rate and CPU say nothing about the route.
            clean = [r for r in results[(case, server)] if r["lost"] == 0]
            return statistics.median(key(r) for r in clean) if clean else 0

        def total(r):
            return r["a_cpu"] + r["b_cpu"]

        base_rate = median("nats", lambda r: r["rate"]) if "nats" in servers else 0
        base_cpu = median("nats", total) if "nats" in servers else 0
        for server in servers:
            rate, cpu = median(server, lambda r: r["rate"]), median(server, total)
            print("| %s B | %s | %.0f | %.2f | %.3f (%.3f + %.3f) | %.2f | %d of %d |" % (
                SIZE[case], server, rate, rate / base_rate if base_rate else 0, cpu,
                median(server, lambda r: r["a_cpu"]), median(server, lambda r: r["b_cpu"]),
                cpu / base_cpu if base_cpu else 0,
                sum(1 for r in results[(case, server)] if r["lost"]),
                len(results[(case, server)])))

if __name__ == "__main__":
    main()
