#!/usr/bin/env python3
"""What holding a client's input behind a PONG that waits for the cross-core barrier costs.

A client that pipelines `SUB s.N N`, `PING`, `PUB s.N 2 hi` rounds without waiting for the
PONGs (the worst case: every PING follows an interest change, so under ringmq with several
cores every one waits for the other cores' acknowledgement) and then reads the N PONGs and N
MSGs; and a client that waits for each PONG before going on (what clients do after
subscribing: flush). Each server is started, measured and stopped in turn, alternating, RUNS
times; prints the median time per round.

Usage: benches/held_pong.py [--rounds N] [--runs N] NAME=COMMAND ...
  COMMAND gets `-a 127.0.0.1 -p PORT` appended, e.g.
  nats=/usr/sbin/nats-server c2=\"target/release/ringmq --cores 2\"
"""

import argparse
import shlex
import socket
import statistics
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command):
    port = free_port()
    proc = subprocess.Popen(shlex.split(command) + ["-a", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(5) == b"INFO ":
                    return proc, port
        except OSError:
            time.sleep(0.02)  # readiness poll interval
    proc.kill()
    raise SystemExit("server did not start: " + command)


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    while b"\r\n" not in buf:
        buf += sock.recv(4096)
    sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
    return sock


def read_until(sock, pongs, msgs, deadline=30.0):
    """Reads until `pongs` PONGs and `msgs` MSG payloads ('hi') have arrived."""
    buf = b""
    sock.settimeout(deadline)
    while buf.count(b"PONG\r\n") < pongs or buf.count(b"\r\nhi\r\n") < msgs:
        data = sock.recv(1 << 20)
        if not data:
            raise SystemExit("server closed the connection")
        buf += data
    return buf


def pipelined(port, rounds, base):
    sock = connect(port)
    data = b"".join(b"SUB s.%d %d\r\nPING\r\nPUB s.%d 2\r\nhi\r\n" % (base + i, i, base + i)
                    for i in range(rounds))
    started = time.perf_counter()
    sock.sendall(data)
    read_until(sock, rounds, rounds)
    elapsed = time.perf_counter() - started
    sock.close()
    return elapsed / rounds


def waiting(port, rounds, base):
    sock = connect(port)
    started = time.perf_counter()
    for i in range(rounds):
        sock.sendall(b"SUB w.%d %d\r\nPING\r\n" % (base + i, i))
        read_until(sock, 1, 0)
        sock.sendall(b"PUB w.%d 2\r\nhi\r\nPING\r\n" % (base + i))
        read_until(sock, 1, 1)
    elapsed = time.perf_counter() - started
    sock.close()
    return elapsed / rounds


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("servers", nargs="+", metavar="NAME=COMMAND")
    args = ap.parse_args()
    servers = [s.split("=", 1) for s in args.servers]
    results = {name: {"pipelined": [], "waiting": []} for name, _ in servers}
    for run in range(args.runs):
        for name, command in servers:
            proc, port = start(command)
            try:
                # A second client shares the first one's core or not; the first one, alone,
                # lands on core 0 under ringmq, and its interest must reach the others.
                results[name]["pipelined"].append(pipelined(port, args.rounds, run * args.rounds))
                results[name]["waiting"].append(waiting(port, args.rounds // 5, run * args.rounds))
            finally:
                proc.terminate()
                proc.wait()
    print("| server | pipelined SUB+PING+PUB, µs per round | waiting for each PONG, µs per round |")
    print("|---|---|---|")
    for name, _ in servers:
        p = statistics.median(results[name]["pipelined"]) * 1e6
        w = statistics.median(results[name]["waiting"]) * 1e6
        print("| %s | %.1f | %.1f |" % (name, p, w))


if __name__ == "__main__":
    main()
