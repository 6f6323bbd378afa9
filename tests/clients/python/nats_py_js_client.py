#!/usr/bin/env python3
"""Runs nats-py's JetStream and key-value APIs against a server binary started with `-js`
and asserts exact results: streams (create, info, list, update, purge, delete), publishes
with their PubAcks, de-duplication, expectation headers, message get/delete, key-value
put/get/update/delete, and a kill -9 with every acknowledged message present after the
restart, pull and push consumers with acks, naks and redelivery, key-value history, keys
and watch.

Each case starts its own server (ringmq by default, or nats-server with
`--server-bin /usr/sbin/nats-server`, which must give the same results) with its own store
directory. Prints one line per case and `N passed, N failed`; exits 1 on any failure.
    .venv-clients/bin/python tests/clients/python/nats_py_js_client.py --server-bin target/release/ringmq
"""

import tempfile

import nats.aio.client
import nats.js.errors

from harness import Mismatch, connect, expect_eq, parse_args, run_cases


def js_args():
    return ["-js", "-sd", tempfile.mkdtemp(prefix="ringmq-js-client-")]


async def case_stream_lifecycle(server):
    nc = await connect(server)
    try:
        js = nc.jetstream()
        info = await js.add_stream(name="ORDERS", subjects=["orders.>"])
        expect_eq((info.config.name, info.config.subjects), ("ORDERS", ["orders.>"]), "config")
        expect_eq(info.state.messages, 0, "messages at create")
        acks = [await js.publish(f"orders.{s}", f"order {i}".encode())
                for i, s in enumerate(["a", "b", "a", "c"], 1)]
        expect_eq([(a.stream, a.seq, a.duplicate) for a in acks],
                  [("ORDERS", n, None) for n in (1, 2, 3, 4)], "PubAcks")
        info = await js.stream_info("ORDERS")
        expect_eq((info.state.messages, info.state.first_seq, info.state.last_seq),
                  (4, 1, 4), "state after 4 publishes")
        msg = await js.get_msg("ORDERS", 2)
        expect_eq((msg.subject, msg.seq, msg.data), ("orders.b", 2, b"order 2"), "get seq 2")
        last = await js.get_last_msg("ORDERS", "orders.a")
        expect_eq((last.seq, last.data), (3, b"order 3"), "last for orders.a")
        expect_eq(await js.delete_msg("ORDERS", 2), True, "delete seq 2")
        try:
            await js.get_msg("ORDERS", 2)
            raise Mismatch("get of a deleted message succeeded")
        except nats.js.errors.NotFoundError as e:
            expect_eq(e.err_code, 10037, "deleted message err_code")
        purged = await js.purge_stream("ORDERS", subject="orders.a")
        expect_eq(purged, True, "purge orders.a")
        info = await js.stream_info("ORDERS")
        expect_eq((info.state.messages, info.state.last_seq), (1, 4), "state after purge")
        info = await js.update_stream(name="ORDERS", subjects=["orders.>"], max_msgs=10)
        expect_eq(info.config.max_msgs, 10, "max_msgs after update")
        names = [s.config.name for s in await js.streams_info()]
        expect_eq(names, ["ORDERS"], "stream list")
        expect_eq(await js.delete_stream("ORDERS"), True, "delete stream")
        try:
            await js.stream_info("ORDERS")
            raise Mismatch("info of a deleted stream succeeded")
        except nats.js.errors.NotFoundError as e:
            expect_eq(e.err_code, 10059, "deleted stream err_code")
    finally:
        await nc.close()


async def case_dedupe_and_expectations(server):
    nc = await connect(server)
    try:
        js = nc.jetstream()
        await js.add_stream(name="D", subjects=["d.>"])
        first = await js.publish("d.x", b"1", headers={"Nats-Msg-Id": "m1"})
        again = await js.publish("d.x", b"1 again", headers={"Nats-Msg-Id": "m1"})
        expect_eq((first.seq, first.duplicate), (1, None), "first publish of m1")
        expect_eq((again.seq, again.duplicate), (1, True), "second publish of m1")
        ok = await js.publish("d.y", b"2", headers={"Nats-Expected-Last-Sequence": "1"})
        expect_eq(ok.seq, 2, "expected last sequence 1")
        try:
            await js.publish("d.y", b"3", headers={"Nats-Expected-Last-Sequence": "1"})
            raise Mismatch("a wrong expected last sequence was accepted")
        except nats.js.errors.APIError as e:
            expect_eq((e.err_code, e.description), (10071, "wrong last sequence: 2"),
                      "wrong last sequence")
        info = await js.stream_info("D")
        expect_eq(info.state.messages, 2, "messages stored")
    finally:
        await nc.close()


async def case_key_value(server):
    nc = await connect(server)
    try:
        js = nc.jetstream()
        kv = await js.create_key_value(bucket="settings", history=3)
        expect_eq(await kv.put("mode", b"auto"), 1, "put revision")
        expect_eq(await kv.put("level", b"3"), 2, "second key revision")
        entry = await kv.get("mode")
        expect_eq((entry.key, entry.value, entry.revision), ("mode", b"auto", 1), "get mode")
        expect_eq(await kv.update("mode", b"manual", last=1), 3, "update at revision 1")
        try:
            await kv.update("mode", b"stale", last=1)
            raise Mismatch("an update at a stale revision was accepted")
        except nats.js.errors.KeyWrongLastSequenceError:
            pass
        try:
            await kv.create("mode", b"again")
            raise Mismatch("create of an existing key was accepted")
        except nats.js.errors.KeyWrongLastSequenceError:
            pass
        await kv.delete("level")
        try:
            await kv.get("level")
            raise Mismatch("get of a deleted key succeeded")
        except nats.js.errors.KeyNotFoundError as e:
            # nats-py 2.16 turns the delete marker it read into KeyNotFoundError.
            expect_eq(e.op, "DEL", "the marker read for a deleted key")
        entry = await kv.get("mode")
        expect_eq((entry.value, entry.revision), (b"manual", 3), "mode after update")
        status = await kv.status()
        expect_eq((status.bucket, status.values, status.history), ("settings", 4, 3), "status")
    finally:
        await nc.close()


async def case_kill_and_restart(server):
    nc = await connect(server)
    js = nc.jetstream()
    await js.add_stream(name="LOG", subjects=["log.>"])
    acked = []
    for i in range(200):
        ack = await js.publish(f"log.{i % 7}", f"entry {i}".encode())
        acked.append(ack.seq)
    await nc.close()
    expect_eq(acked, list(range(1, 201)), "acknowledged sequences")
    port, args = server.port, server.js_args
    server.kill()  # SIGKILL: no shutdown path runs
    server.start(port, extra=args)
    nc = await connect(server)
    try:
        js = nc.jetstream()
        info = await js.stream_info("LOG")
        expect_eq((info.state.messages, info.state.first_seq, info.state.last_seq),
                  (200, 1, 200), "state after kill -9 and restart")
        for seq in (1, 100, 200):
            msg = await js.get_msg("LOG", seq)
            expect_eq((msg.subject, msg.data), (f"log.{(seq - 1) % 7}", f"entry {seq - 1}".encode()),
                      f"message {seq} after restart")
        ack = await js.publish("log.next", b"after")
        expect_eq(ack.seq, 201, "next sequence after restart")
    finally:
        await nc.close()


async def case_pull_consumer(server):
    nc = await connect(server)
    try:
        js = nc.jetstream()
        await js.add_stream(name="WORK", subjects=["work.>"])
        for i in range(5):
            await js.publish(f"work.{i}", f"job {i}".encode())
        psub = await js.pull_subscribe("work.>", durable="worker")
        msgs = await psub.fetch(3, timeout=5)
        expect_eq([m.data for m in msgs], [b"job 0", b"job 1", b"job 2"], "first batch")
        expect_eq([m.metadata.sequence.stream for m in msgs], [1, 2, 3], "stream sequences")
        expect_eq(msgs[0].metadata.num_pending, 4, "pending after the first")
        for m in msgs[:2]:
            await m.ack_sync()
        # A nak sent as a request: the server's empty answer says it was processed (nats-py's
        # nak() does not wait, and nats-server handles acks apart from pull requests).
        await nc.request(msgs[2].reply, b"-NAK", timeout=5)
        again = await psub.fetch(1, timeout=5)
        expect_eq((again[0].data, again[0].metadata.num_delivered), (b"job 2", 2),
                  "redelivered after nak")
        await again[0].ack_sync()
        rest = await psub.fetch(5, timeout=1)
        expect_eq([m.data for m in rest], [b"job 3", b"job 4"], "the rest")
        for m in rest:
            await m.ack_sync()
        info = await js.consumer_info("WORK", "worker")
        expect_eq((info.delivered.stream_seq, info.ack_floor.stream_seq, info.num_ack_pending,
                   info.num_pending, info.num_redelivered), (5, 5, 0, 0, 0), "consumer info")
    finally:
        await nc.close()


async def case_push_consumer(server):
    nc = await connect(server)
    try:
        js = nc.jetstream()
        await js.add_stream(name="EVENTS", subjects=["events.>"])
        await js.publish("events.a", b"before")
        sub = await js.subscribe("events.>", durable="pusher", manual_ack=True)
        first = await sub.next_msg(timeout=5)
        expect_eq((first.subject, first.data), ("events.a", b"before"), "stored message")
        await first.ack()
        await js.publish("events.b", b"after")
        second = await sub.next_msg(timeout=5)
        expect_eq((second.subject, second.data, second.metadata.sequence.consumer),
                  ("events.b", b"after", 2), "live message")
        await second.ack_sync()
        ordered = await js.subscribe("events.>", ordered_consumer=True)
        seen = [(await ordered.next_msg(timeout=5)).data for _ in range(2)]
        expect_eq(seen, [b"before", b"after"], "ordered consumer")
    finally:
        await nc.close()


async def case_key_value_history_and_watch(server):
    nc = await connect(server)
    try:
        js = nc.jetstream()
        kv = await js.create_key_value(bucket="cfg", history=5)
        for value in (b"1", b"2", b"3"):
            await kv.put("n", value)
        await kv.put("m", b"x")
        history = await kv.history("n")
        expect_eq([(e.value, e.revision) for e in history], [(b"1", 1), (b"2", 2), (b"3", 3)],
                  "history of n")
        expect_eq(sorted(await kv.keys()), ["m", "n"], "keys")
        watcher = await kv.watchall()
        initial = []
        while True:
            entry = await watcher.updates(timeout=5)
            if entry is None:
                break
            initial.append((entry.key, entry.value))
        expect_eq(initial, [("n", b"3"), ("m", b"x")], "watch: current values")
        await kv.put("m", b"y")
        update = await watcher.updates(timeout=5)
        expect_eq((update.key, update.value, update.revision), ("m", b"y", 5), "watch: update")
        await watcher.stop()
    finally:
        await nc.close()


async def case_retention(server):
    nc = await connect(server)
    try:
        js = nc.jetstream()
        await js.add_stream(name="WQ", subjects=["wq.>"], retention="workqueue")
        for i in range(3):
            await js.publish(f"wq.{i}", b"task")
        psub = await js.pull_subscribe("wq.>", durable="w")
        msgs = await psub.fetch(3, timeout=5)
        for m in msgs[:2]:
            await m.ack_sync()
        info = await js.stream_info("WQ")
        expect_eq((info.state.messages, info.state.first_seq), (1, 3), "work queue after 2 acks")
        await js.add_stream(name="INT", subjects=["int.>"], retention="interest")
        ack = await js.publish("int.none", b"nobody")
        expect_eq(ack.seq, 1, "PubAck with no consumer")
        info = await js.stream_info("INT")
        expect_eq(info.state.messages, 0, "interest stream without consumers keeps nothing")
        psub = await js.pull_subscribe("int.>", durable="i")
        await js.publish("int.a", b"a")
        await js.publish("int.b", b"b")
        msgs = await psub.fetch(2, timeout=5)
        await msgs[0].ack_sync()
        info = await js.stream_info("INT")
        expect_eq((info.state.messages, info.state.last_seq), (1, 3), "interest after one ack")
    finally:
        await nc.close()


CASES = [
    ("stream_lifecycle", case_stream_lifecycle),
    ("dedupe_and_expectations", case_dedupe_and_expectations),
    ("key_value", case_key_value),
    ("kill_and_restart", case_kill_and_restart),
    ("pull_consumer", case_pull_consumer),
    ("push_consumer", case_push_consumer),
    ("key_value_history_and_watch", case_key_value_history_and_watch),
    ("retention", case_retention),
]


def main():
    args, binary, chosen = parse_args(__doc__, CASES)
    print(f"nats-py {nats.aio.client.__version__} (JetStream) against {binary}", flush=True)

    def fresh(run):
        def start():
            run["args"] = js_args()
            return {"extra": run["args"]}
        return start

    def with_args(case, run):
        async def body(server):
            server.js_args = run["args"]
            await case(server)
        return body

    runs = []
    for name, case in chosen:
        run = {}
        runs.append((f"python-js {name}", fresh(run), with_args(case, run)))
    run_cases(runs, args, binary, "clients-py-js-")


if __name__ == "__main__":
    main()
