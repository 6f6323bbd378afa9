#!/usr/bin/env python3
"""TLS handshakes per second, and resident memory per idle TLS connection, for ringmq and
nats-server side by side (same certificates, same client, servers alternating).

A handshake here is a whole NATS TLS connection: connect, read the plain INFO, TLS
handshake, CONNECT + PING, read PONG, close. Clients are Python processes (OpenSSL), so
on a small machine the client's share of the CPU limits the rate as much as the server's:
compare the two servers' figures, not the absolute numbers.

Reported per server (medians over the runs): connections per second, the server's CPU
time (user + system) per connection, and the growth of its resident memory per idle TLS
connection (each has completed CONNECT and PING/PONG).

Usage: benches/tls_handshakes.py [--seconds 10] [--clients 4] [--idle 2000] [--runs 3]
(run from the repository root after `cargo build --release`; needs openssl and
nats-server on PATH or in /usr/sbin).
"""

import argparse
import multiprocessing
import os
import re
import resource
import shutil
import socket
import ssl
import statistics
import subprocess
import tempfile
import threading
import time

RINGMQ = "target/release/ringmq"
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def make_certificates(directory):
    def run(*args):
        subprocess.run(args, check=True, cwd=directory, capture_output=True)

    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench ca")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", "server-key.pem", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(directory, "ext.cnf"), "w") as ext:
        ext.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
        "-CAcreateserial", "-out", "server-cert.pem", "-days", "2", "-extfile", "ext.cnf")


def start(command, directory):
    """Starts `command` (a list) with TLS on a free port; returns (process, port)."""
    args = [*command, "-a", "127.0.0.1", "-p", "-1", "--tls",
            "--tlscert", os.path.join(directory, "server-cert.pem"),
            "--tlskey", os.path.join(directory, "server-key.pem")]
    process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
    for line in process.stderr:
        match = re.search(r"Listening for client connections on .*:(\d+)", line)
        if match:
            # Keep draining stderr so the server never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, int(match.group(1))
    process.kill()
    raise RuntimeError(f"{command[0]} did not start")


def tls_context(directory):
    context = ssl.create_default_context(cafile=os.path.join(directory, "ca.pem"))
    return context


def open_connection(port, context):
    tcp = socket.create_connection(("127.0.0.1", port))
    # Without this, Nagle holds CONNECT behind the Finished until a delayed ACK (40 ms).
    tcp.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    info = b""
    while not info.endswith(b"\r\n"):
        chunk = tcp.recv(1)
        if not chunk:
            raise RuntimeError("EOF inside INFO")
        info += chunk
    session = context.wrap_socket(tcp, server_hostname="localhost")
    session.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
    reply = b""
    while not reply.endswith(b"PONG\r\n"):
        chunk = session.recv(100)
        if not chunk:
            raise RuntimeError("EOF before PONG")
        reply += chunk
    return session


def handshake_loop(port, directory, seconds, counter):
    context = tls_context(directory)
    end = time.time() + seconds
    count = 0
    while time.time() < end:
        open_connection(port, context).close()
        count += 1
    with counter.get_lock():
        counter.value += count


def handshakes_per_second(port, directory, seconds, clients):
    counter = multiprocessing.Value("i", 0)
    workers = [multiprocessing.Process(target=handshake_loop,
                                       args=(port, directory, seconds, counter))
               for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counter.value / seconds


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); fields[0] here is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def bytes_per_idle_connection(process, port, directory, count):
    context = tls_context(directory)
    open_connection(port, context).close()
    before = resident_bytes(process.pid)
    # Each connection has had its PONG, so the server has done all its allocating for it.
    held = [open_connection(port, context) for _ in range(count)]
    after = resident_bytes(process.pid)
    for session in held:
        session.close()
    return (after - before) / count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, options.idle + 256)), hard))
    directory = tempfile.mkdtemp(prefix="ringmq-tls-bench-")
    make_certificates(directory)
    servers = {"nats-server": [NATS_SERVER], "ringmq-c1": [RINGMQ, "--cores", "1"],
               "ringmq-c2": [RINGMQ, "--cores", "2"]}
    rates = {name: [] for name in servers}
    cpu = {name: [] for name in servers}
    memory = {name: [] for name in servers}
    for _ in range(options.runs):
        for name, command in servers.items():
            process, port = start(command, directory)
            try:
                cpu_before = cpu_seconds(process.pid)
                rate = handshakes_per_second(port, directory, options.seconds, options.clients)
                used = cpu_seconds(process.pid) - cpu_before
                rates[name].append(rate)
                cpu[name].append(used * 1e6 / (rate * options.seconds))
                memory[name].append(bytes_per_idle_connection(process, port, directory,
                                                              options.idle))
            finally:
                process.kill()
                process.wait()
    print("| server | TLS connections/s | server CPU us per connection "
          "| bytes per idle TLS connection |")
    print("|---|---|---|---|")
    for name in servers:
        print(f"| {name} | {statistics.median(rates[name]):.0f} "
              f"| {statistics.median(cpu[name]):.0f} "
              f"| {statistics.median(memory[name]):.0f} |")
    shutil.rmtree(directory)


if __name__ == "__main__":
    main()
