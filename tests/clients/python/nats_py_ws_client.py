#!/usr/bin/env python3
"""Runs nats-py over WebSocket (its aiohttp transport, `ws://` URLs) against a server
binary and asserts exact results, with the server's compression off and on.

Each case starts its own server (ringmq by default, or nats-server with
`--server-bin /usr/sbin/nats-server`) with a config file whose `websocket {}` block
listens on a free port (read from `Listening for websocket clients on ws://HOST:PORT`),
and drives it with WebSocket clients, and TCP clients for the mixed cases. Every case
runs twice: `compression: false`, and `compression: true` with the client offering
permessage-deflate (see `offer_deflate`), so both directions go through deflate.

Synchronisation as in nats_py_client.py (both use harness.py): a flush after the
client's queue is written out, markers, deadlines; never sleeps.

Prints one line per case and mode and `N passed, N failed`; exits 1 on any failure.
    .venv-clients/bin/python tests/clients/python/nats_py_ws_client.py --server-bin target/release/ringmq
"""

import aiohttp
import nats.aio.client

from harness import (MSG_TIMEOUT, Mismatch, connect, expect_eq, expect_no_pending, next_payload,
                     parse_args, queue_group_deliveries, run_cases, sync, take)


class Endpoint:
    """What `connect` needs of a server: its URL (ws:// or nats://)."""

    def __init__(self, url):
        self.url = url


def offer_deflate(enabled):
    """nats-py 2.16 calls aiohttp's ws_connect without `compress`, so it never offers
    permessage-deflate. With compression on, make its transport offer it (compress=15,
    the window aiohttp supports), so the server's deflate is exercised both ways."""
    original = aiohttp.ClientSession.ws_connect

    def ws_connect(self, *args, **kwargs):
        if enabled:
            kwargs.setdefault("compress", 15)
        return original(self, *args, **kwargs)

    aiohttp.ClientSession.ws_connect = ws_connect
    return lambda: setattr(aiohttp.ClientSession, "ws_connect", original)


class Servers:
    def __init__(self, server, deflate):
        self.ws = Endpoint(server.ws_url)
        self.tcp = Endpoint(server.url)
        self.deflate = deflate


def negotiated(nc):
    """The deflate window aiohttp negotiated for nc's WebSocket (0: none)."""
    return nc._transport._ws.compress


# ---------------------------------------------------------------------------------------
# Cases: each takes Servers and raises on any mismatch.


async def case_connect(s):
    nc = await connect(s.ws, name="nats-py-ws-connect")
    try:
        version = nc.connected_server_version
        expect_eq((version.major, version.minor, version.patch), (2, 9, 10), "server version")
        expect_eq(nc._server_info.get("headers"), True, "INFO headers")
        expect_eq(nc.max_payload, 1024 * 1024, "max_payload")
        expect_eq(negotiated(nc), 15 if s.deflate else 0, "permessage-deflate negotiated")
        await sync(nc)
        expect_eq(nc.last_error, None, "last_error")
    finally:
        await nc.close()
    expect_eq(nc.is_closed, True, "is_closed after close")


async def case_pubsub(s):
    """200 messages of 0..398 bytes (both sides of the 64-byte deflate threshold)
    WebSocket → WebSocket in order; then TCP → WebSocket and WebSocket → TCP."""
    sub_nc, pub_nc, tcp_nc = await connect(s.ws), await connect(s.ws), await connect(s.tcp)
    try:
        sub = await sub_nc.subscribe("ws.ps")
        tcp_sub = await tcp_nc.subscribe("tcp.ps")
        await sync(sub_nc)
        await sync(tcp_nc)
        sent = [bytes([65 + i % 26]) * (2 * i) for i in range(200)]
        for payload in sent:
            await pub_nc.publish("ws.ps", payload)
        await sync(pub_nc)
        expect_eq([m.data for m in await take(sub, 200)], sent, "ws → ws")
        for i in range(50):
            await tcp_nc.publish("ws.ps", f"tcp{i}".encode())
            await pub_nc.publish("tcp.ps", f"ws{i}".encode())
        await sync(tcp_nc)
        await sync(pub_nc)
        expect_eq([m.data for m in await take(sub, 50)], [f"tcp{i}".encode() for i in range(50)],
                  "tcp → ws")
        expect_eq([m.data for m in await take(tcp_sub, 50)],
                  [f"ws{i}".encode() for i in range(50)], "ws → tcp")
        await sub_nc.publish("ws.ps", b"marker")
        expect_eq(await next_payload(sub), b"marker", "marker")
        expect_no_pending(sub, "ws subscriber")
    finally:
        for nc in (sub_nc, pub_nc, tcp_nc):
            await nc.close()


async def case_queue_groups(s):
    """Two WebSocket members and one TCP member of `workers` plus a plain WebSocket
    subscriber; 300 messages from a WebSocket publisher: each exactly once in the group,
    every member some, the plain subscriber all in order."""
    total = 300
    members = [await connect(s.ws), await connect(s.ws), await connect(s.tcp)]
    plain_nc, pub_nc = await connect(s.ws), await connect(s.ws)
    try:
        plain = await plain_nc.subscribe("wq")
        await sync(plain_nc)
        per_member = await queue_group_deliveries(members, pub_nc, "wq", "workers", total)
        counts = [len(items) for items in per_member]
        expect_eq(sorted(i for items in per_member for i in items), list(range(total)),
                  f"each message to exactly one member (per member {counts})")
        if min(counts) == 0:
            raise Mismatch(f"a member received nothing: {counts}")
        expect_eq([int(m.data) for m in await take(plain, total)], list(range(total)),
                  "plain subscriber")
    finally:
        for nc in members + [plain_nc, pub_nc]:
            await nc.close()


async def case_request_reply(s):
    """25 requests WebSocket → TCP responder, 25 TCP → WebSocket responder."""
    ws_nc, tcp_nc = await connect(s.ws), await connect(s.tcp)
    try:
        async def echo(msg):
            await msg.respond(b"re:" + msg.data)

        await tcp_nc.subscribe("svc.tcp", cb=echo)
        await ws_nc.subscribe("svc.ws", cb=echo)
        await sync(tcp_nc)
        await sync(ws_nc)
        for i in range(25):
            reply = await ws_nc.request("svc.tcp", f"w{i}".encode(), timeout=MSG_TIMEOUT)
            expect_eq(reply.data, f"re:w{i}".encode(), f"ws request {i}")
            reply = await tcp_nc.request("svc.ws", f"t{i}".encode(), timeout=MSG_TIMEOUT)
            expect_eq(reply.data, f"re:t{i}".encode(), f"tcp request {i}")
    finally:
        await ws_nc.close()
        await tcp_nc.close()


async def case_headers(s):
    """Headers WebSocket → WebSocket and → TCP, a headers-only message, none; then
    headers both ways through request/reply."""
    sub_nc, pub_nc, tcp_nc = await connect(s.ws), await connect(s.ws), await connect(s.tcp)
    try:
        sub = await sub_nc.subscribe("hdr.ws")
        tcp_sub = await tcp_nc.subscribe("hdr.ws")
        await sync(sub_nc)
        await sync(tcp_nc)
        sent = {"X-Trace": "abc-123", "X-Spaces": "a b  c", "X-Colon": "k: v", "X-Long": "v" * 100}
        await pub_nc.publish("hdr.ws", b"with headers", headers=sent)
        await pub_nc.publish("hdr.ws", b"", headers={"Only": "headers"})
        await pub_nc.publish("hdr.ws", b"no headers")
        await sync(pub_nc)
        for who, s_ in (("ws", sub), ("tcp", tcp_sub)):
            got = [(m.data, m.headers) for m in await take(s_, 3)]
            expect_eq(got, [(b"with headers", sent), (b"", {"Only": "headers"}),
                            (b"no headers", None)], f"headers to {who}")

        async def echo_headers(msg):
            await tcp_nc.publish(msg.reply, msg.data[::-1], headers={"Echo": msg.headers["Ask"]})

        await tcp_nc.subscribe("hdr.svc", cb=echo_headers)
        await sync(tcp_nc)
        reply = await pub_nc.request("hdr.svc", b"abc", timeout=MSG_TIMEOUT,
                                     headers={"Ask": "value 42"})
        expect_eq((reply.data, reply.headers), (b"cba", {"Echo": "value 42"}), "reply")
    finally:
        for nc in (sub_nc, pub_nc, tcp_nc):
            await nc.close()


async def case_large(s):
    """512 KiB and 1 MiB (max_payload) payloads WebSocket → WebSocket, byte for byte."""
    sub_nc, pub_nc = await connect(s.ws), await connect(s.ws)
    try:
        sub = await sub_nc.subscribe("big")
        await sync(sub_nc)
        sent = [bytes((i * 7 + n) % 251 for i in range(n)) for n in (512 * 1024, 1024 * 1024)]
        for payload in sent:
            await pub_nc.publish("big", payload)
        await sync(pub_nc)
        got = [m.data for m in await take(sub, 2)]
        expect_eq([len(g) for g in got], [len(p) for p in sent], "sizes")
        expect_eq(got == sent, True, "payload bytes")
    finally:
        await sub_nc.close()
        await pub_nc.close()


CASES = [
    ("connect", case_connect),
    ("pubsub", case_pubsub),
    ("queue_groups", case_queue_groups),
    ("request_reply", case_request_reply),
    ("headers", case_headers),
    ("large", case_large),
]


def run(case, deflate):
    """The body of one run: `case` with the client offering deflate when `deflate`."""

    async def body(server):
        restore = offer_deflate(deflate)
        try:
            await case(Servers(server, deflate))
        finally:
            restore()

    return body


def main():
    args, binary, chosen = parse_args(__doc__, CASES)
    print(f"nats-py {nats.aio.client.__version__} over WebSocket (aiohttp {aiohttp.__version__})"
          f" against {binary}", flush=True)
    runs = [
        (f"python-ws {name} [{'compression' if deflate else 'no-compression'}]",
         {"websocket": deflate}, run(case, deflate))
        for deflate in (False, True)
        for name, case in chosen
    ]
    run_cases(runs, args, binary, "clients-py-ws-")


if __name__ == "__main__":
    main()
