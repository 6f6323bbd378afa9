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

import asyncio
import time

import nats.aio.client
import nats.errors

from harness import (MSG_TIMEOUT, RECONNECT_TIMEOUT, Mismatch, ServerProcess, connect,
                     expect_eq, expect_no_pending, next_payload, parse_args,
                     queue_group_deliveries, run_cases, sync, take, write_out)

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
        plain = await plain_nc.subscribe("work")
        plain_done = await plain_nc.subscribe("work.done")
        await sync(plain_nc)
        per_member = await queue_group_deliveries(members, pub_nc, "work", "workers", total)
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
    args, binary, chosen = parse_args(__doc__, CASES)
    print(f"nats-py {nats.aio.client.__version__} against {binary}", flush=True)
    runs = [(f"python {name}", {}, case) for name, case in chosen]
    run_cases(runs, args, binary, "clients-py-")


if __name__ == "__main__":
    main()
