"""What the link benchmarks (leaf_link.py, route_link.py) share: ports, readiness, CPU
ticks of a process, a raw client, and the wait for loadgen's subscriber. Python 3 standard
library only."""

import json
import socket
import time
import urllib.request

DEADLINE = 10.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited: %s" % proc.args)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.02)  # readiness poll interval
    raise SystemExit("port %d never opened" % port)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
        self.sock.recv(4096)
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')

    def send(self, data):
        self.sock.sendall(data)

    def received(self, needle, timeout):
        self.sock.settimeout(timeout)
        buf = b""
        try:
            while needle not in buf:
                data = self.sock.recv(65536)
                if not data:
                    break
                buf += data
        except socket.timeout:
            pass
        return needle in buf


def wait_for_second_subscriber(monitor, subject):
    """Until two client connections of the server at `monitor` subscribe to `subject`."""
    url = "http://127.0.0.1:%d/connz?subs=1" % monitor
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        with urllib.request.urlopen(url, timeout=DEADLINE) as response:
            connz = json.load(response)
        holders = [c for c in connz.get("connections", [])
                   if subject in (c.get("subscriptions_list") or [])]
        if len(holders) >= 2:
            return
        time.sleep(0.002)  # poll interval of the condition, not synchronisation
    raise SystemExit("loadgen's subscriber never appeared")
