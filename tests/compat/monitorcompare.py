#!/usr/bin/env python3
"""Monitoring comparison: ringmq's HTTP endpoints against nats-server's.

Starts both servers with `-m -1`, drives the same client traffic into each (a named
subscriber, a publisher, a connection closed for a protocol violation, one closed by
its client), fetches every endpoint from both, and compares per document:

* the HTTP status and Content-Type;
* the JSON layout: every key path (array elements merged under `[]`), each object's
  key order, and each value's JSON type (numbers of any kind count as one type);
* for error answers, the body text.

A second round starts each server as a leaf node hub (`leafnodes { port: -1 }`) with a
nats-server leaf connected to it, and compares LEAF_ENDPOINTS the same way; a third
starts each as a cluster node with a nats-server peer routed to it (CLUSTER_ENDPOINTS);
a fourth starts each with JetStream on a fresh store, makes streams, consumers and
messages (JS_TRAFFIC) and compares JS_ENDPOINTS.

Values are not compared (ids, times and counts of internal subscriptions differ); the
Rust integration tests (`tests/monitoring.rs`) check values exactly. Known deliberate
differences are listed in KNOWN_DIFFERENCES and reported, not failed.

Python 3 standard library only:

    python3 tests/compat/monitorcompare.py --ringmq target/debug/ringmq
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

START_DEADLINE = 20.0
STEP_DEADLINE = 10.0

ENDPOINTS = [
    "/varz",
    "/connz",
    "/connz?subs=1",
    "/connz?subs=detail",
    "/connz?state=closed&subs=detail",
    "/connz?state=all&sort=cid",
    "/connz?sort=msgs_to&limit=1&offset=1",
    "/subsz",
    "/subsz?subs=1",
    "/subsz?subs=1&test=foo",
    "/healthz",
    "/routez",
    "/leafz",
    "/gatewayz",
    "/accountz",
    "/jsz",
    "/jsz?accounts=true&streams=true&consumers=true&config=true",
    "/jsz?leader-only=true",
    "/connz?sort=bogus",
    "/connz?sort=stop",
    "/connz?limit=x",
    "/subsz?test=a.*",
    "/jsz?accounts=x",
    "/nope",
]

# Fetched from each hub with a nats-server leaf connected.
LEAF_ENDPOINTS = [
    "/varz",
    "/connz",
    "/leafz",
    "/leafz?subs=1",
    "/leafz?acc=$G",
    "/leafz?acc=NONE",
    "/leafz?subs=x",
]

HUB_CONF = "leafnodes { host: 127.0.0.1, port: -1 }\n"

# Fetched from each node with a nats-server peer routed to it.
CLUSTER_ENDPOINTS = [
    "/varz",
    "/routez",
    "/routez?subs=1",
    "/routez?subs=x",
    "/connz",
]

# Fetched from each server started with JetStream (`-js -sd DIR`), after JS_TRAFFIC.
JS_ENDPOINTS = [
    "/varz",
    "/jsz",
    "/jsz?accounts=true",
    "/jsz?streams=true",
    "/jsz?consumers=true",
    "/jsz?consumers=true&config=true",
    "/jsz?acc=$G",
    "/jsz?acc=NONE",
    "/jsz?accounts=1&offset=1",
    "/jsz?accounts=1&limit=1",
    "/jsz?leader-only=true",
    "/jsz?limit=x",
]

# (subject, body) requests for the JetStream round, each answered before the next: a file
# and a memory stream, messages in both, a pull consumer with one message pulled, a push
# consumer, and an API error.
JS_TRAFFIC = [
    ("$JS.API.STREAM.CREATE.ORDERS", '{"name":"ORDERS","subjects":["orders.>"]}'),
    ("$JS.API.STREAM.CREATE.MEM", '{"name":"MEM","subjects":["mem.>"],"storage":"memory"}'),
    ("orders.new", "one"),
    ("orders.new", "two"),
    ("mem.x", "abc"),
    ("$JS.API.CONSUMER.DURABLE.CREATE.ORDERS.PULL",
     '{"stream_name":"ORDERS","config":{"durable_name":"PULL","ack_policy":"explicit"}}'),
    ("$JS.API.CONSUMER.MSG.NEXT.ORDERS.PULL", "1"),
    ("$JS.API.CONSUMER.DURABLE.CREATE.MEM.PUSH",
     '{"stream_name":"MEM","config":{"durable_name":"PUSH","deliver_subject":"push.here"}}'),
    ("$JS.API.STREAM.INFO.NONE", ""),
]

# (endpoint, start of a difference) that are by design, with the reason.
KNOWN_DIFFERENCES = {
    ("/varz", "only in nats-server: .system_account"):
        "nats-server always runs a system account; ringmq has none (omitempty)",
    ("/accountz", "only in nats-server: .system_account"):
        "nats-server always runs a system account; ringmq has none (omitempty)",
    ("/connz?state=all&sort=cid", "only in nats-server: .connections[].subscriptions_list_detail"):
        "nats-server bug: an earlier ?state=closed&subs=detail writes the detail list into "
        "its closed-connection ring (no copy is made for subs=detail), so every later "
        "/connz shows it; ringmq shows it only when asked",
}


def known(path, problem):
    """The reason if this difference is a known one, else None."""
    for (endpoint, start), reason in KNOWN_DIFFERENCES.items():
        if endpoint == path and problem.startswith(start):
            return reason
    return None


class Server:
    def __init__(self, name, command):
        self.name = name
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.ready = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()
        if not self.ready.wait(START_DEADLINE):
            self.stop()
            sys.exit("%s did not start:\n%s" % (name, "\n".join(self.lines)))
        self.client_port = self._port("Listening for client connections on ")
        self.http_port = self._port("Starting http monitor on ")

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip())
            if "Server is ready" in line:
                self.ready.set()

    def _port(self, marker):
        # nats-server logs its route port after "Server is ready": wait for the line.
        deadline = time.monotonic() + START_DEADLINE
        while True:
            for line in list(self.lines):
                if marker in line:
                    return int(line.rsplit(":", 1)[1])
            if time.monotonic() > deadline:
                sys.exit("%s: no %r line" % (self.name, marker))
            time.sleep(0.01)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=STEP_DEADLINE)
        self.buf = b""
        self.read_until(b"\r\n")  # INFO

    def send(self, data):
        self.sock.sendall(data)

    def read_until(self, marker):
        while marker not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("closed while waiting for %r" % marker)
            self.buf += data
        head, self.buf = self.buf.split(marker, 1)
        return head + marker

    def sync(self):
        self.send(b"PING\r\n")
        return self.read_until(b"PONG\r\n")

    def read_to_eof(self):
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            self.buf += data


def drive(port):
    """The same traffic for both servers; returns the clients to keep them open."""
    named = Client(port)
    named.send(b'CONNECT {"verbose":false,"pedantic":false,"name":"cmp","lang":"py",'
               b'"version":"1.0"}\r\nSUB foo 1\r\nSUB bar q 2\r\nUNSUB 2 5\r\nSUB a.> 3\r\n')
    named.sync()
    publisher = Client(port)
    publisher.send(b'CONNECT {"verbose":false,"pedantic":false}\r\n'
                   b"PUB foo 5\r\nhello\r\nPUB a.b 1\r\nx\r\n")
    publisher.sync()
    named.read_until(b"MSG a.b 3 1\r\nx\r\n")
    violator = Client(port)
    violator.send(b'CONNECT {"verbose":false}\r\nSUB gone 9\r\nxyz\r\n')
    violator.read_to_eof()
    leaver = Client(port)
    leaver.sync()
    leaver.sock.shutdown(socket.SHUT_WR)
    leaver.read_to_eof()
    return [named, publisher]


def fetch(port, path):
    sock = socket.create_connection(("127.0.0.1", port), timeout=STEP_DEADLINE)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                  % path).encode())
    raw = b""
    while True:
        data = sock.recv(65536)
        if not data:
            break
        raw += data
    sock.close()
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, value = line.split(":", 1)
        headers[key.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return status, headers, body.decode()


def dechunk(data):
    out = b""
    while True:
        size_line, data = data.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            return out
        out += data[:size]
        data = data[size + 2:]


def json_type(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if value is None:
        return "null"
    return {str: "string", list: "array", dict: "object"}[type(value)]


def layout(value, path="", out=None):
    """{path: set of types} and {path: key order} for a parsed document."""
    if out is None:
        out = ({}, {})
    types, orders = out
    types.setdefault(path or ".", set()).add(json_type(value))
    if isinstance(value, dict):
        orders.setdefault(path or ".", list(value.keys()))
        for key, child in value.items():
            layout(child, "%s.%s" % (path, key), out)
    elif isinstance(value, list):
        for child in value:
            layout(child, path + "[]", out)
    return out


def compare(path, reference, candidate):
    """Differences between the two servers' answers for one endpoint."""
    problems = []
    ref_status, ref_headers, ref_body = reference
    cand_status, cand_headers, cand_body = candidate
    if ref_status != cand_status:
        problems.append("status %d vs %d" % (ref_status, cand_status))
    ref_type = ref_headers.get("content-type")
    cand_type = cand_headers.get("content-type")
    if ref_type != cand_type:
        problems.append("content-type %r vs %r" % (ref_type, cand_type))
    if ref_type != "application/json":
        if ref_body != cand_body:
            problems.append("body %r vs %r" % (ref_body, cand_body))
        return problems
    ref_types, ref_orders = layout(json.loads(ref_body))
    cand_types, cand_orders = layout(json.loads(cand_body))
    for key in sorted(set(ref_types) - set(cand_types)):
        problems.append("only in nats-server: %s" % key)
    for key in sorted(set(cand_types) - set(ref_types)):
        problems.append("only in ringmq: %s" % key)
    for key in sorted(set(ref_types) & set(cand_types)):
        if ref_types[key] != cand_types[key]:
            problems.append("type of %s: %s vs %s" % (
                key, sorted(ref_types[key]), sorted(cand_types[key])))
    for key in sorted(set(ref_orders) & set(cand_orders)):
        common = [k for k in ref_orders[key] if k in cand_orders[key]]
        mine = [k for k in cand_orders[key] if k in ref_orders[key]]
        if common != mine:
            problems.append("key order of %s: %s vs %s" % (key, common, mine))
    return problems


def compare_all(endpoints, answers):
    """Prints one line per endpoint; returns (unexpected, known) counts."""
    unexpected = 0
    known_count = 0
    for path, reference, candidate in zip(endpoints, answers[0], answers[1]):
        problems = compare(path, reference, candidate)
        surprises = [p for p in problems if known(path, p) is None]
        reasons = {}
        for p in problems:
            reason = known(path, p)
            if reason is not None:
                known_count += 1
                reasons.setdefault(reason, []).append(p)
        for reason, matched in reasons.items():
            more = " (+%d more)" % (len(matched) - 1) if len(matched) > 1 else ""
            print("KNOWN %s: %s%s: %s" % (path, matched[0], more, reason))
        if surprises:
            unexpected += 1
            print("DIFF  %s" % path)
            for p in surprises:
                print("      " + p)
        else:
            print("SAME  %s" % path)
    return unexpected, known_count


def leaf_round(nats_server, hub_commands, workdir):
    """Each hub with a nats-server leaf dialling it, a subscription and messages across
    the link; the LEAF_ENDPOINTS answers of each hub."""
    conf = os.path.join(workdir, "hub.conf")
    with open(conf, "w") as f:
        f.write(HUB_CONF)
    answers = []
    for name, command in hub_commands:
        hub = Server(name + " hub", command + ["-c", conf])
        leaf = None
        try:
            leaf_port = hub._port("Listening for leafnode connections on ")
            leaf_conf = os.path.join(workdir, "leaf-%s.conf" % name)
            with open(leaf_conf, "w") as f:
                f.write('leafnodes { remotes [ { url: "nats-leaf://127.0.0.1:%d" } ] }\n'
                        % leaf_port)
            leaf = Server("nats-server leaf", [nats_server, "-a", "127.0.0.1", "-p", "-1",
                                               "-m", "-1", "-c", leaf_conf])
            wait_for(hub.http_port, "/leafz", lambda doc: doc["leafnodes"] == 1)
            subscriber = Client(leaf.client_port)
            subscriber.send(b"CONNECT {}\r\nSUB across.> 1\r\n")
            subscriber.sync()
            wait_for(hub.http_port, "/leafz?subs=1",
                     lambda doc: "across.>" in doc["leafs"][0].get("subscriptions_list", []))
            publisher = Client(hub.client_port)
            publisher.send(b"CONNECT {}\r\nPUB across.x 2\r\nhi\r\n")
            publisher.sync()
            subscriber.read_until(b"hi\r\n")
            answers.append([fetch(hub.http_port, path) for path in LEAF_ENDPOINTS])
        finally:
            if leaf is not None:
                leaf.stop()
            hub.stop()
    return answers


def cluster_round(nats_server, node_commands):
    """Each node in a cluster with a nats-server peer that dials it, a subscription on the
    peer and messages across the route; the CLUSTER_ENDPOINTS answers of each node."""
    answers = []
    for name, command in node_commands:
        # A configured route that never answers: /varz then lists it in cluster.urls.
        node = Server(name + " node", command + ["--cluster", "nats://127.0.0.1:-1",
                                                 "--cluster_name", "cmp",
                                                 "--routes", "nats://127.0.0.1:9"])
        peer = None
        try:
            route_port = node._port("Listening for route connections on ")
            peer = Server("nats-server peer", [
                nats_server, "-a", "127.0.0.1", "-p", "-1", "-m", "-1",
                "--cluster", "nats://127.0.0.1:-1", "--cluster_name", "cmp",
                "--routes", "nats://127.0.0.1:%d" % route_port])
            wait_for(node.http_port, "/routez", lambda doc: doc["num_routes"] == 1)
            subscriber = Client(peer.client_port)
            subscriber.send(b"CONNECT {}\r\nSUB across.> 1\r\n")
            subscriber.sync()
            wait_for(node.http_port, "/routez?subs=1",
                     lambda doc: "across.>" in doc["routes"][0].get("subscriptions_list", []))
            publisher = Client(node.client_port)
            publisher.send(b"CONNECT {}\r\nPUB across.x 2\r\nhi\r\n")
            publisher.sync()
            subscriber.read_until(b"hi\r\n")
            answers.append([fetch(node.http_port, path) for path in CLUSTER_ENDPOINTS])
        finally:
            if peer is not None:
                peer.stop()
            node.stop()
    return answers


def jetstream_round(commands, workdir):
    """Each server with JetStream on a fresh store, JS_TRAFFIC answered; the JS_ENDPOINTS
    answers of each."""
    import jsclient
    answers = []
    for name, command in commands:
        store = os.path.join(workdir, "store-" + name)
        server = Server(name + " with JetStream", command + ["-js", "-sd", store])
        try:
            client = jsclient.Client(server.client_port)
            for subject, body in JS_TRAFFIC:
                if not client.request(subject, body, any_subject=True):
                    sys.exit("%s: no answer to %s" % (name, subject))
            wait_for(server.http_port, "/jsz", lambda doc: doc["messages"] == 3)
            answers.append([fetch(server.http_port, path) for path in JS_ENDPOINTS])
            client.close()
        finally:
            server.stop()
    return answers


def wait_for(port, path, settled):
    deadline = time.monotonic() + STEP_DEADLINE
    while True:
        status, _, body = fetch(port, path)
        if status == 200 and settled(json.loads(body)):
            return
        if time.monotonic() > deadline:
            sys.exit("%s never settled: %s" % (path, body))
        time.sleep(0.01)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ringmq", required=True, help="path of the ringmq binary")
    parser.add_argument("--nats-server", default=shutil.which("nats-server") or "/usr/sbin/nats-server")
    args = parser.parse_args()
    servers = [
        Server("nats-server", [args.nats_server, "-a", "127.0.0.1", "-p", "-1", "-m", "-1"]),
        Server("ringmq", [args.ringmq, "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--cores", "2"]),
    ]
    try:
        kept = [drive(server.client_port) for server in servers]
        answers = [[fetch(server.http_port, path) for path in ENDPOINTS] for server in servers]
    finally:
        for server in servers:
            server.stop()
    del kept
    unexpected, known_count = compare_all(ENDPOINTS, answers)
    print("-- with a nats-server leaf connected to each hub")
    hubs = [
        ("nats-server", [args.nats_server, "-a", "127.0.0.1", "-p", "-1", "-m", "-1"]),
        ("ringmq", [args.ringmq, "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "--cores", "2"]),
    ]
    with tempfile.TemporaryDirectory() as workdir:
        leaf_answers = leaf_round(args.nats_server, hubs, workdir)
    more_unexpected, more_known = compare_all(LEAF_ENDPOINTS, leaf_answers)
    unexpected += more_unexpected
    known_count += more_known
    print("-- in a cluster with a nats-server peer routed to each node")
    cluster_answers = cluster_round(args.nats_server, hubs)
    more_unexpected, more_known = compare_all(CLUSTER_ENDPOINTS, cluster_answers)
    unexpected += more_unexpected
    known_count += more_known
    print("-- with JetStream")
    with tempfile.TemporaryDirectory() as workdir:
        js_answers = jetstream_round(hubs, workdir)
    more_unexpected, more_known = compare_all(JS_ENDPOINTS, js_answers)
    unexpected += more_unexpected
    known_count += more_known
    total = len(ENDPOINTS) + len(LEAF_ENDPOINTS) + len(CLUSTER_ENDPOINTS) + len(JS_ENDPOINTS)
    print("%d endpoints, %d with unexpected differences, %d known differences"
          % (total, unexpected,
             known_count))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
