#!/usr/bin/env python3
"""Messages through a leaf node link. `--role hub` (default): ringmq as the hub against
nats-server as the hub, the leaf being nats-server 2.9.10 in both; `--role leaf`: ringmq as
the leaf against nats-server as the leaf, the hub being nats-server 2.9.10 in both (issue
12's "ringmq-as-hub vs nats-server-as-hub" and "ringmq-as-leaf vs nats-server-as-leaf").

For each case, run and hub (alternating, RUNS times): the hub (client port and
`leafnodes { listen }`) and a nats-server leaf (`remotes` to it) are started; an anchor
client subscribes to the case's subject on the receiving side and a sentinel is published
from the sending side until it arrives, so the interest has crossed the link before the
measured run starts (none of loadgen's messages can be dropped for want of it); then
`loadgen pubsub --pub-url SENDER --sub-url RECEIVER`. Reports the median subscriber rate,
the hub's, the leaf's and loadgen's CPU per million messages, and the other load on the
machine during the run (cores busy outside these three processes: on a shared machine the
rates mean little when it is not near 0); "server" names the one under test.

Usage: benches/leaf_link.py [--runs N] [--loadgen PATH] [--ringmq PATH] [--nats-server PATH]
                            [--cases leaf-to-hub-16,hub-to-leaf-16,leaf-to-hub-1k,hub-to-leaf-1k]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time

from link_bench import Client, cpu_ticks, free_port, wait_for_second_subscriber, wait_port

DEADLINE = 10.0
MSGS = {"16": 1_000_000, "1k": 300_000}
SIZE = {"16": 16, "1k": 1024}


def machine_ticks():
    """(all, idle) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]


def start(argv, log):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)


def server_argv(args, name):
    if name == "nats":
        return [args.nats_server]
    return [args.ringmq, "--cores", name[-1]]


def one_run(args, server, case, tmp):
    direction, size = case.rsplit("-", 1)
    hub_port, leaf_port, link_port = free_port(), free_port(), free_port()
    hub_monitor, leaf_monitor = free_port(), free_port()
    hub_conf = os.path.join(tmp, "hub.conf")
    with open(hub_conf, "w") as f:
        f.write("leafnodes { listen: 127.0.0.1:%d }\n" % link_port)
    leaf_conf = os.path.join(tmp, "leaf.conf")
    with open(leaf_conf, "w") as f:
        f.write('leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:%d" } ] }\n' % link_port)
    log = open(os.path.join(tmp, "servers.log"), "ab")
    hub_argv = server_argv(args, server if args.role == "hub" else "nats")
    leaf_argv = server_argv(args, server if args.role == "leaf" else "nats")
    hub = server  # the server under test, for messages
    hub_proc = start(hub_argv + ["-a", "127.0.0.1", "-p", str(hub_port), "-m",
                                 str(hub_monitor), "-c", hub_conf], log)
    leaf_proc = start(leaf_argv + ["-a", "127.0.0.1", "-p", str(leaf_port), "-m",
                                   str(leaf_monitor), "-c", leaf_conf], log)
    try:
        wait_port(hub_port, hub_proc)
        wait_port(leaf_port, leaf_proc)
        sender, receiver = ((leaf_port, hub_port) if direction == "leaf-to-hub"
                            else (hub_port, leaf_port))
        subject = b"bench.link"
        anchor = Client(receiver)
        anchor.send(b"SUB " + subject + b" 1\r\n")
        probe = Client(sender)
        deadline = time.monotonic() + DEADLINE
        while True:
            probe.send(b"PUB " + subject + b" 4\r\nsync\r\n")
            if anchor.received(b"sync", 0.1):
                break
            if time.monotonic() > deadline:
                raise SystemExit("the link never carried the interest (%s, %s)" % (hub, case))
        before = (cpu_ticks(hub_proc.pid), cpu_ticks(leaf_proc.pid))
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine_before = machine_ticks()
        loadgen = subprocess.Popen(
            [args.loadgen, "pubsub", "--publishers", "1", "--subscribers", "1",
             "--msgs", str(MSGS[size]), "--size", str(SIZE[size]),
             "--subject", subject.decode(),
             "--pub-url", "nats://127.0.0.1:%d" % sender,
             "--sub-url", "nats://127.0.0.1:%d" % receiver, "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # Once loadgen's subscription is in, the anchor's goes: the subject's interest
        # never drops to zero, so nothing crosses the link again, and the anchor (which
        # does not read) receives nothing more of the run.
        monitor = hub_monitor if receiver == hub_port else leaf_monitor
        wait_for_second_subscriber(monitor, subject.decode())
        anchor.send(b"UNSUB 1\r\n")
        stdout, _ = loadgen.communicate(timeout=300)
        after = (cpu_ticks(hub_proc.pid), cpu_ticks(leaf_proc.pid))
        machine_after = machine_ticks()
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # Only loadgen is reaped between the two readings: the servers are still running.
        loadgen_cpu = (children_after.ru_utime + children_after.ru_stime
                       - children_before.ru_utime - children_before.ru_stime)
        all_ticks = machine_after[0] - machine_before[0]
        busy_cores = ((all_ticks - (machine_after[1] - machine_before[1]))
                      / max(1, all_ticks) * os.cpu_count())
        ours = (after[0] - before[0] + after[1] - before[1]) / 100 + loadgen_cpu
        ticks_per_core = all_ticks / os.cpu_count()
        result = json.loads(stdout.decode().strip().splitlines()[-1])
        sent = result.get("msgs_sent") or 1
        return {
            "rate": result.get("sub_msgs_per_sec") or 0,
            "lost": result.get("lost", 0),
            "hub_cpu": (after[0] - before[0]) / 100 / sent * 1e6,
            "leaf_cpu": (after[1] - before[1]) / 100 / sent * 1e6,
            "loadgen_cpu": loadgen_cpu / sent * 1e6,
            "other_cores": max(0.0, busy_cores - ours / (ticks_per_core / 100)),
        }
    finally:
        for proc in (leaf_proc, hub_proc):
            proc.terminate()
            proc.wait()
        log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--role", choices=("hub", "leaf"), default="hub",
                    help="which side is the server under test (the other is nats-server)")
    ap.add_argument("--loadgen", default="target/release/loadgen")
    ap.add_argument("--ringmq", default="target/release/ringmq")
    ap.add_argument("--nats-server", default="/usr/sbin/nats-server")
    ap.add_argument("--cases", default="leaf-to-hub-16,hub-to-leaf-16,leaf-to-hub-1k,hub-to-leaf-1k")
    args = ap.parse_args()
    hubs = ["nats", "ringmq-c1", "ringmq-c2"]
    cases = args.cases.split(",")
    results = {(c, h): [] for c in cases for h in hubs}
    with tempfile.TemporaryDirectory(prefix="leaf_link.") as tmp:
        for case in cases:
            for _ in range(args.runs):
                for hub in hubs:
                    results[(case, hub)].append(one_run(args, hub, case, tmp))
    print("| case | %s | sub msgs/s | hub CPU s/M msgs | leaf CPU s/M msgs | loadgen CPU s/M"
          " | other load, cores | lost | rate / nats |" % args.role)
    print("|---|---|---|---|---|---|---|---|---|")
    for case in cases:
        base = statistics.median(r["rate"] for r in results[(case, "nats")])
        for hub in hubs:
            rows = results[(case, hub)]
            rate = statistics.median(r["rate"] for r in rows)
            print("| %s | %s | %.0f | %.3f | %.3f | %.3f | %.2f | %d | %.2f |" % (
                case, hub, rate, statistics.median(r["hub_cpu"] for r in rows),
                statistics.median(r["leaf_cpu"] for r in rows),
                statistics.median(r["loadgen_cpu"] for r in rows),
                statistics.median(r["other_cores"] for r in rows),
                sum(r["lost"] for r in rows), rate / base if base else 0))


if __name__ == "__main__":
    main()
