#!/usr/bin/env python3
"""Runs the NATS Python client (nats-py) against a server binary and asserts exact results.

Each case starts its own server (ringmq by default, or nats-server with
`--server-bin /usr/sbin/nats-server`) on 127.0.0.1 with a free port, drives it with
nats-py, and compares payloads, counts and (where NATS guarantees it) order exactly.
The reconnect case stops the server and starts it again on the same port; the
cluster_failover case starts two cluster nodes of its own and kills the one its client
was given, which must find the other through INFO `connect_urls`.

Synchronisation is by protocol, never by sleeping: `flush()` is a PING/PONG round trip,
after which the server has processed everything the connection sent before it (for a
SUB: every later publish from any connection reaches it). Every wait has a deadline.

Prints one line per case and `N passed, N failed` at the end; exits 1 on any failure.
Run through .ci/clients.sh, or directly with a venv that has nats-py:
    .venv-clients/bin/python tests/clients/python/nats_py_client.py --server-bin target/release/ringmq
"""

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

import nats
import nats.aio.client
import nats.errors

# Deadlines. Generous: the CI machine is small and shared.
START_TIMEOUT = 20.0  # server start until it listens
STOP_TIMEOUT = 10.0  # SIGTERM until the process has exited
MSG_TIMEOUT = 10.0  # one expected message
RECONNECT_TIMEOUT = 20.0  # client notices the restart and reconnects
CASE_TIMEOUT = 60.0  # one whole case

READY_RE = re.compile(r"Listening for client connections on (\S+):(\d+)")


class Mismatch(AssertionError):
    pass


def short(value, limit=600):
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def expect_eq(actual, expected, what):
    if actual != expected:
        detail = ""
        if isinstance(actual, list) and isinstance(expected, list):
            first = next(
                (i for i, (a, e) in enumerate(zip(actual, expected)) if a != e),
                min(len(actual), len(expected)),
            )
            detail = f" (lengths {len(actual)} vs {len(expected)}, first difference at {first})"
        raise Mismatch(f"{what}: expected {short(expected)}, got {short(actual)}{detail}")


class ServerProcess:
    """One server child: ringmq or nats-server, started on 127.0.0.1."""

    def __init__(self, binary, cores, workdir):
        self.binary = binary
        self.is_nats_server = "nats-server" in os.path.basename(binary)
        self.cores = cores
        self.workdir = workdir
        self.proc = None
        self.port = None
        self.starts = 0
        self.log_path = None

    def start(self, port=-1, extra=()):
        """Starts on `port` (-1: the server picks a free one) and waits until it listens;
        `extra`: more arguments (a cluster node's)."""
        self.starts += 1
        self.log_path = os.path.join(
            self.workdir, f"server-{id(self)}-{self.starts}.log"
        )
        args = [self.binary, "-a", "127.0.0.1", "-p", str(port), *extra]
        if not self.is_nats_server:
            args += ["--cores", str(self.cores)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        # Wait for the ready line (it carries the port when -1 was asked for) ...
        while True:
            with open(self.log_path, "r", errors="replace") as f:
                match = READY_RE.search(f.read())
            if match:
                self.port = int(match.group(2))
                break
            self.check_alive("starting")
            if time.monotonic() > deadline:
                raise Mismatch(f"server did not report listening in time:\n{self.log()}")
            time.sleep(0.01)  # poll interval of a condition wait with a deadline
        # ... then until the port accepts.
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                self.check_alive("starting")
                if time.monotonic() > deadline:
                    raise Mismatch(f"port {self.port} never accepted:\n{self.log()}")
                time.sleep(0.01)

    def wait_log(self, pattern):
        """The first match of `pattern` in the log, waited for with a deadline."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with open(self.log_path, "r", errors="replace") as f:
                match = re.search(pattern, f.read())
            if match:
                return match
            self.check_alive("waiting for its log")
            if time.monotonic() > deadline:
                raise Mismatch(f"no {pattern!r} in the log:\n{self.log()}")
            time.sleep(0.01)  # poll interval of a condition wait with a deadline

    def check_alive(self, doing):
        if self.proc.poll() is not None:
            raise Mismatch(
                f"server exited with {self.proc.returncode} while {doing}:\n{self.log()}"
            )

    def stop(self):
        """SIGTERM, then wait for the exit (SIGKILL at the deadline)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Mismatch(f"server ignored SIGTERM for {STOP_TIMEOUT}s:\n{self.log()}")

    def restart(self):
        """Stops the server and starts it again on the same port."""
        port = self.port
        self.stop()
        self.start(port)
        expect_eq(self.port, port, "port after restart")

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return "(no log)"
        with open(self.log_path, "r", errors="replace") as f:
            lines = f.read().splitlines()
        return "\n".join(lines[-40:])

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"


# Errors nats-py reported through error_cb during the current case (an exception in a
# subscription callback lands here too). A case fails if any were reported.
CLIENT_ERRORS = []


async def connect(server, expect_disconnects=False, **options):
    async def error_cb(e):
        if expect_disconnects and isinstance(
            e, (OSError, nats.errors.UnexpectedEOF, nats.errors.StaleConnectionError)
        ):
            return  # the server restart of the reconnect case
        CLIENT_ERRORS.append(e)

    options.setdefault("error_cb", error_cb)
    options.setdefault("connect_timeout", 5)
    # No reconnects unless a case asks: a server that dies mid-case must fail it.
    options.setdefault("allow_reconnect", False)
    return await nats.connect(server.url, **options)


async def write_out(nc):
    """Waits until nc's flusher task has written every queued command to the socket."""
    await nc._flush_pending(force_flush=True)


async def sync(nc):
    """The NATS flush guarantee: returns once the server has processed everything nc sent
    before (a SUB is then visible to every later publish, from any connection).

    nats-py 2.16's flush() alone is not enough: it writes its PING straight to the socket,
    ahead of commands still queued for the client's flusher task, so a flush() right after
    subscribe() or publish() can be answered before the server has seen them (observed
    against nats-server 2.9.10 with -DV: PING, PONG, then the SUB). So write the queue out
    first, then PING.
    """
    await write_out(nc)
    await nc.flush(timeout=MSG_TIMEOUT)


async def next_msg(sub, what):
    try:
        return await sub.next_msg(timeout=MSG_TIMEOUT)
    except nats.errors.TimeoutError:
        raise Mismatch(f"{what}: no message on {sub.subject!r} within {MSG_TIMEOUT}s") from None


async def next_payload(sub, what="next message"):
    return (await next_msg(sub, what)).data


async def take(sub, count, what="messages"):
    """Exactly the next `count` messages of `sub` (each with a deadline)."""
    got = []
    for _ in range(count):
        got.append(await next_msg(sub, f"{what} ({len(got)} of {count} so far)"))
    return got


def expect_no_pending(sub, what):
    """Nothing more is queued on `sub`. Only meaningful once a later message on the same
    connection has arrived (a marker), because a connection's messages arrive in order."""
    if sub.pending_msgs != 0:
        extra = []
        while sub.pending_msgs:
            extra.append(sub._pending_queue.get_nowait())
        raise Mismatch(f"{what}: unexpected extra messages {[(m.subject, m.data) for m in extra]}")


# ---------------------------------------------------------------------------------------
# Cases. Each takes a started server and raises on any mismatch.


async def case_connect(server):
    nc = await connect(server, name="nats-py-connect")
    try:
        expect_eq(nc.is_connected, True, "is_connected")
        version = nc.connected_server_version
        expect_eq((version.major, version.minor, version.patch), (2, 9, 10), "server version")
        expect_eq(nc._server_info.get("headers"), True, "INFO headers")
        expect_eq(nc.max_payload, 1024 * 1024, "max_payload")
        # A round trip proves the CONNECT was accepted (no -ERR, no close).
        await sync(nc)
        expect_eq(nc.last_error, None, "last_error")
    finally:
        await nc.close()
    expect_eq(nc.is_closed, True, "is_closed after close")


async def case_wildcards(server):
    sub_nc = await connect(server)
    pub_nc = await connect(server)
    try:
        patterns = ["wild.*", "wild.>", "wild.*.c", "wild.a.b", "*.a"]
        subs = {p: await sub_nc.subscribe(p) for p in patterns}
        marker = await sub_nc.subscribe("marker.wild")
        await sync(sub_nc)

        published = ["wild", "wild.a", "wild.a.b", "wild.x.c", "wild.a.b.c", "other.a", "wild.b"]
        for i, subject in enumerate(published):
            await pub_nc.publish(subject, f"{i}:{subject}".encode())
        await pub_nc.publish("marker.wild", b"end")
        await sync(pub_nc)

        def matches(pattern, subject):
            p, s = pattern.split("."), subject.split(".")
            for i, token in enumerate(p):
                if token == ">":
                    return len(s) > i
                if i >= len(s) or (token != "*" and token != s[i]):
                    return False
            return len(p) == len(s)

        expect_eq(await next_payload(marker), b"end", "marker")
        for pattern, sub in subs.items():
            expected = [
                (subject, f"{i}:{subject}".encode())
                for i, subject in enumerate(published)
                if matches(pattern, subject)
            ]
            got = [(m.subject, m.data) for m in await take(sub, len(expected))]
            # In publish order: one publisher, one subscribing connection.
            expect_eq(got, expected, f"messages on {pattern}")
            expect_no_pending(sub, pattern)
        # The reference matcher above agrees with hand-written expectations.
        expect_eq(
            [matches("wild.>", s) for s in ["wild", "wild.a", "wild.a.b.c"]],
            [False, True, True],
            "self-check of the matcher",
        )
    finally:
        await sub_nc.close()
        await pub_nc.close()


async def case_queue_groups(server):
    total = 300
    members = [await connect(server) for _ in range(3)]
    plain_nc = await connect(server)
    pub_nc = await connect(server)
    try:
        member_subs = []
        for nc in members:
            work = await nc.subscribe("work", queue="workers")
            done = await nc.subscribe("work.done")
            await sync(nc)
            member_subs.append((work, done))
        plain = await plain_nc.subscribe("work")
        plain_done = await plain_nc.subscribe("work.done")
        await sync(plain_nc)

        for i in range(total):
            await pub_nc.publish("work", str(i).encode())
        await pub_nc.publish("work.done", b"")
        await sync(pub_nc)

        per_member = []
        for work, done in member_subs:
            # The marker follows every work item on that connection.
            expect_eq(await next_payload(done), b"", "done marker")
            items = []
            while work.pending_msgs:
                items.append(int((await work.next_msg(timeout=MSG_TIMEOUT)).data))
            per_member.append(items)
        counts = [len(items) for items in per_member]
        everything = sorted(i for items in per_member for i in items)
        expect_eq(len(everything), total, f"total delivered to the group (per member {counts})")
        expect_eq(everything, list(range(total)), "each message to exactly one member")
        for index, items in enumerate(per_member):
            expect_eq(items, sorted(items), f"member {index} order")
            if not items:
                raise Mismatch(f"member {index} received nothing: {counts}")

        expect_eq(await next_payload(plain_done), b"", "plain done marker")
        got = [int(m.data) for m in await take(plain, total)]
        expect_eq(got, list(range(total)), "plain subscriber alongside the group")
        expect_no_pending(plain, "plain subscriber")
    finally:
        for nc in members + [plain_nc, pub_nc]:
            await nc.close()


async def case_request_reply(server):
    svc_nc = await connect(server)
    req_nc = await connect(server)
    try:
        seen = []

        async def echo(msg):
            seen.append(msg.data)
            await msg.respond(b"re:" + msg.data)

        await svc_nc.subscribe("svc.echo", cb=echo)
        await sync(svc_nc)
        for i in range(50):
            reply = await req_nc.request("svc.echo", f"q{i}".encode(), timeout=MSG_TIMEOUT)
            expect_eq(reply.data, f"re:q{i}".encode(), f"reply {i}")
        expect_eq(seen, [f"q{i}".encode() for i in range(50)], "requests seen by the service")
    finally:
        await svc_nc.close()
        await req_nc.close()


async def case_headers(server):
    sub_nc = await connect(server)
    pub_nc = await connect(server)
    try:
        sub = await sub_nc.subscribe("hdr.test")
        await sync(sub_nc)
        sent = {"X-Trace": "abc-123", "X-Spaces": "a b  c", "X-Colon": "k: v", "Nats-Custom": "1"}
        await pub_nc.publish("hdr.test", b"with headers", headers=sent)
        await pub_nc.publish("hdr.test", b"", headers={"Only": "headers"})
        await pub_nc.publish("hdr.test", b"no headers")
        await sync(pub_nc)
        first, second, third = await take(sub, 3)
        expect_eq(first.data, b"with headers", "payload 1")
        expect_eq(first.headers, sent, "headers 1")
        expect_eq(second.data, b"", "payload 2")
        expect_eq(second.headers, {"Only": "headers"}, "headers 2")
        expect_eq(third.data, b"no headers", "payload 3")
        expect_eq(third.headers, None, "headers 3")

        # Headers survive a request/reply round trip both ways.
        async def echo_headers(msg):
            reply_headers = {"Echo": msg.headers["Ask"]}
            await sub_nc.publish(msg.reply, msg.data[::-1], headers=reply_headers)

        await sub_nc.subscribe("hdr.svc", cb=echo_headers)
        await sync(sub_nc)
        reply = await pub_nc.request(
            "hdr.svc", b"abc", timeout=MSG_TIMEOUT, headers={"Ask": "value 42"}
        )
        expect_eq(reply.data, b"cba", "reply payload")
        expect_eq(reply.headers, {"Echo": "value 42"}, "reply headers")
    finally:
        await sub_nc.close()
        await pub_nc.close()


async def case_no_responders(server):
    nc = await connect(server)
    try:
        started = time.monotonic()
        try:
            await nc.request("nobody.home", b"anyone?", timeout=MSG_TIMEOUT)
        except nats.errors.NoRespondersError:
            pass
        else:
            raise Mismatch("request without subscribers returned a reply")
        # A timeout would have raised nats.errors.TimeoutError instead; the 503 status
        # came from the server long before MSG_TIMEOUT.
        if time.monotonic() - started >= MSG_TIMEOUT:
            raise Mismatch("no-responders took as long as the timeout")
        # The connection is still usable, and a responder that appears is reached.
        async def here(msg):
            await msg.respond(b"here")

        await nc.subscribe("nobody.home", cb=here)
        await sync(nc)
        reply = await nc.request("nobody.home", b"anyone?", timeout=MSG_TIMEOUT)
        expect_eq(reply.data, b"here", "reply once a responder exists")
    finally:
        await nc.close()


async def case_unsubscribe_max(server):
    sub_nc = await connect(server)
    pub_nc = await connect(server)
    try:
        limited = await sub_nc.subscribe("limited")
        await limited.unsubscribe(limit=3)
        via_option = await sub_nc.subscribe("limited", max_msgs=5)
        marker = await sub_nc.subscribe("limited.end")
        await sync(sub_nc)
        for i in range(10):
            await pub_nc.publish("limited", f"m{i}".encode())
        await pub_nc.publish("limited.end", b"end")
        await sync(pub_nc)

        expect_eq(await next_payload(marker), b"end", "marker")
        got = [m.data for m in await take(limited, 3)]
        expect_eq(got, [b"m0", b"m1", b"m2"], "unsubscribe(limit=3)")
        expect_no_pending(limited, "after limit 3")
        got = [m.data for m in await take(via_option, 5)]
        expect_eq(got, [f"m{i}".encode() for i in range(5)], "subscribe(max_msgs=5)")
        expect_no_pending(via_option, "after max_msgs 5")
        # The server stopped sending too: the client counts every MSG it reads, also
        # those for subscriptions it already dropped. 3 for `limited` (UNSUB 3 went to
        # the server), all 10 for `via_option` (nats-py enforces max_msgs on its own and
        # sends no UNSUB), and the marker.
        expect_eq(sub_nc.stats["in_msgs"], 3 + 10 + 1, "MSGs the server sent")
    finally:
        await sub_nc.close()
        await pub_nc.close()


async def case_flush(server):
    sub_nc = await connect(server)
    pub_nc = await connect(server)
    try:
        # Interest barrier: after flush() returns, a publish from another connection
        # reaches the new subscription. Each round uses a fresh subject.
        for round_ in range(50):
            sub = await sub_nc.subscribe(f"flush.{round_}")
            await sync(sub_nc)
            await pub_nc.publish(f"flush.{round_}", f"r{round_}".encode())
            await sync(pub_nc)
            expect_eq(await next_payload(sub), f"r{round_}".encode(), f"round {round_}")
            await sub.unsubscribe()
        # Bulk: 1000 publishes, then one flush; the subscriber gets all 1000 in order.
        bulk = await sub_nc.subscribe("flush.bulk")
        await sync(sub_nc)
        for i in range(1000):
            await pub_nc.publish("flush.bulk", f"b{i}".encode() * 10)
        await pub_nc.flush(timeout=MSG_TIMEOUT)
        expect_eq(pub_nc.pending_data_size, 0, "bytes still queued in the client after flush")
        expect_eq(pub_nc.stats["out_msgs"], 1050, "messages the publisher sent")
        got = [m.data for m in await take(bulk, 1000, "bulk")]
        expect_eq(got, [f"b{i}".encode() * 10 for i in range(1000)], "bulk messages")
    finally:
        await sub_nc.close()
        await pub_nc.close()


async def case_drain(server):
    total = 500
    # Same connection: drain right after publishing, while the messages are still on
    # their way. drain() sends UNSUB after the PUBs, then waits for PONG and for the
    # handler to work through everything received, then closes.
    nc = await connect(server)
    got = []

    async def slow_handler(msg):
        got.append(msg.data)
        await asyncio.sleep(0)  # yield, so messages queue up behind the handler

    await nc.subscribe("drain.own", cb=slow_handler)
    for i in range(total):
        await nc.publish("drain.own", f"d{i}".encode())
    # On the socket, not yet answered: drain() must wait for all of them. (Written out
    # first because nats-py's drain PING could otherwise overtake its own queued PUBs,
    # the flush() problem described at sync().)
    await write_out(nc)
    await nc.drain()
    expect_eq(nc.is_closed, True, "closed after drain")
    expect_eq(got, [f"d{i}".encode() for i in range(total)], "messages delivered by drain")
    try:
        await nc.publish("drain.own", b"late")
    except nats.errors.ConnectionClosedError:
        pass
    else:
        raise Mismatch("publish after drain succeeded")

    # Across connections: everything the publisher had flushed before the subscriber
    # drains reaches the subscriber's handler before its connection closes.
    sub_nc = await connect(server)
    pub_nc = await connect(server)
    try:
        got = []
        await sub_nc.subscribe("drain.cross", cb=slow_handler)
        await sync(sub_nc)
        for i in range(total):
            await pub_nc.publish("drain.cross", f"c{i}".encode())
        await sync(pub_nc)
        await sub_nc.drain()
        expect_eq(sub_nc.is_closed, True, "subscriber closed after drain")
        expect_eq(got, [f"c{i}".encode() for i in range(total)], "cross-connection drain")
    finally:
        await pub_nc.close()
        if not sub_nc.is_closed:
            await sub_nc.close()


async def case_reconnect(server):
    reconnected = {"sub": asyncio.Event(), "pub": asyncio.Event()}
    disconnected = {"sub": asyncio.Event(), "pub": asyncio.Event()}

    def callbacks(who):
        async def on_disconnect():
            disconnected[who].set()

        async def on_reconnect():
            reconnected[who].set()

        return {"disconnected_cb": on_disconnect, "reconnected_cb": on_reconnect}

    options = dict(
        expect_disconnects=True,
        allow_reconnect=True,
        reconnect_time_wait=0.05,
        max_reconnect_attempts=-1,
        dont_randomize=True,
    )
    sub_nc = await connect(server, **options, **callbacks("sub"))
    pub_nc = await connect(server, **options, **callbacks("pub"))
    try:
        sub = await sub_nc.subscribe("recon.>")
        queue_sub = await sub_nc.subscribe("recon.q", queue="q")
        await sync(sub_nc)
        await pub_nc.publish("recon.a", b"before")
        await sync(pub_nc)
        expect_eq(await next_payload(sub), b"before", "before the restart")

        server.restart()
        for who in ("sub", "pub"):
            await asyncio.wait_for(disconnected[who].wait(), RECONNECT_TIMEOUT)
            await asyncio.wait_for(reconnected[who].wait(), RECONNECT_TIMEOUT)
        # The client re-sent its SUBs while reconnecting; this round trip makes sure the
        # server has them before the other connection publishes.
        await sync(sub_nc)
        for i in range(10):
            await pub_nc.publish(f"recon.{i % 3}", f"after{i}".encode())
        await pub_nc.publish("recon.q", b"queued")
        await sync(pub_nc)
        got = [(m.subject, m.data) for m in await take(sub, 11)]
        expected = [(f"recon.{i % 3}", f"after{i}".encode()) for i in range(10)]
        expected.append(("recon.q", b"queued"))
        expect_eq(got, expected, "after the restart")
        expect_eq(await next_payload(queue_sub), b"queued", "queue subscription after restart")
        # Request/reply works on the new server too (the response inbox was re-subscribed).
        async def ok(msg):
            await msg.respond(b"ok:" + msg.data)

        await sub_nc.subscribe("svc.recon", cb=ok)
        await sync(sub_nc)
        reply = await pub_nc.request("svc.recon", b"ping", timeout=MSG_TIMEOUT)
        expect_eq(reply.data, b"ok:ping", "request after restart")
        expect_no_pending(sub, "recon.>")
    finally:
        await sub_nc.close()
        await pub_nc.close()


async def case_cluster_failover(server):
    """Two cluster nodes; a client given only node A learns B from INFO `connect_urls`,
    and when A is killed it reconnects to B and goes on: subscriptions re-sent, messages
    from B's publisher reach it again."""
    cluster = ["--cluster", "nats://127.0.0.1:-1", "--cluster_name", "py"]
    a = ServerProcess(server.binary, server.cores, server.workdir)
    b = ServerProcess(server.binary, server.cores, server.workdir)
    try:
        a.start(extra=cluster)
        route_port = a.wait_log(r"Listening for route connections on \S+:(\d+)").group(1)
        b.start(extra=[*cluster, "--routes", f"nats://127.0.0.1:{route_port}"])
        b_url = f"127.0.0.1:{b.port}"
        # The cluster is formed once a new client of A is told about B.
        deadline = time.monotonic() + RECONNECT_TIMEOUT
        while True:
            probe = await connect(a)
            found = [f"{s.hostname}:{s.port}" for s in probe.discovered_servers]
            await probe.close()
            if b_url in found:
                break
            if time.monotonic() > deadline:
                raise Mismatch(f"A never listed B in connect_urls (got {found})")
            await asyncio.sleep(0.01)  # poll interval of a condition wait with a deadline

        reconnected = asyncio.Event()

        async def on_reconnect():
            reconnected.set()

        sub_nc = await connect(
            a,
            expect_disconnects=True,
            allow_reconnect=True,
            reconnect_time_wait=0.05,
            max_reconnect_attempts=-1,
            dont_randomize=True,
            reconnected_cb=on_reconnect,
        )
        pub_nc = await connect(b)
        try:
            sub = await sub_nc.subscribe("fo.>")
            await sync(sub_nc)
            # A's interest reaches B over the route: publish until it arrives.
            deadline = time.monotonic() + MSG_TIMEOUT
            while True:
                await pub_nc.publish("fo.probe", b"probe")
                await sync(pub_nc)
                try:
                    msg = await sub.next_msg(timeout=0.2)
                    expect_eq(msg.data, b"probe", "probe across the route")
                    break
                except nats.errors.TimeoutError:
                    if time.monotonic() > deadline:
                        raise Mismatch("B's publishes never reached A's subscriber")
            while sub.pending_msgs:
                sub._pending_queue.get_nowait()
            a.kill()
            await asyncio.wait_for(reconnected.wait(), RECONNECT_TIMEOUT)
            expect_eq(sub_nc.connected_url.port, b.port, "reconnected to B")
            await sync(sub_nc)
            for i in range(5):
                await pub_nc.publish(f"fo.{i}", f"after{i}".encode())
            await sync(pub_nc)
            got = [(m.subject, m.data) for m in await take(sub, 5)]
            expect_eq(
                got,
                [(f"fo.{i}", f"after{i}".encode()) for i in range(5)],
                "messages after the failover",
            )
        finally:
            await sub_nc.close()
            await pub_nc.close()
    finally:
        a.kill()
        b.kill()


CASES = [
    ("connect", case_connect),
    ("wildcards", case_wildcards),
    ("queue_groups", case_queue_groups),
    ("request_reply", case_request_reply),
    ("headers", case_headers),
    ("no_responders", case_no_responders),
    ("unsubscribe_max", case_unsubscribe_max),
    ("flush", case_flush),
    ("drain", case_drain),
    ("reconnect", case_reconnect),
    ("cluster_failover", case_cluster_failover),
]


def main():
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server-bin",
        default=os.path.join(repo, "target", "release", "ringmq"),
        help="server binary: ringmq (default target/release/ringmq) or nats-server",
    )
    parser.add_argument("--cores", type=int, default=2, help="ringmq --cores (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="run every case N times")
    parser.add_argument("cases", nargs="*", help="run only these cases")
    args = parser.parse_args()
    binary = shutil.which(args.server_bin) or args.server_bin
    if not os.access(binary, os.X_OK):
        sys.exit(f"server binary {args.server_bin!r} is not executable")
    chosen = [c for c in CASES if not args.cases or c[0] in args.cases]
    unknown = set(args.cases) - {name for name, _ in CASES}
    if unknown:
        sys.exit(f"unknown cases {sorted(unknown)}; known: {[n for n, _ in CASES]}")
    print(f"nats-py {nats.aio.client.__version__} against {binary}", flush=True)

    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="clients-py-") as workdir:
        for _ in range(args.repeat):
            for name, case in chosen:
                server = ServerProcess(binary, args.cores, workdir)
                started = time.monotonic()
                try:
                    CLIENT_ERRORS.clear()
                    server.start()
                    asyncio.run(asyncio.wait_for(case(server), CASE_TIMEOUT))
                    if CLIENT_ERRORS:
                        raise Mismatch(f"client reported errors: {CLIENT_ERRORS!r}")
                    server.check_alive("running the case")
                    server.stop()
                    passed += 1
                    ms = (time.monotonic() - started) * 1000
                    print(f"ok   python {name} ({ms:.0f} ms)", flush=True)
                except BaseException as e:  # noqa: BLE001 - report every failure
                    if isinstance(e, KeyboardInterrupt):
                        raise
                    failed += 1
                    print(f"FAIL python {name}: {e!r}", flush=True)
                    traceback.print_exc()
                    print(f"--- server log ---\n{server.log()}\n---", flush=True)
                finally:
                    server.kill()
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
