// Runs the NATS JavaScript client's JetStream and key-value APIs (@nats-io/jetstream,
// @nats-io/kv) against a server binary started with `-js -sd DIR` and asserts exact
// results: streams with their PubAcks, de-duplication and expectation errors, message get,
// direct get and delete; a pull consumer (fetch, ack, nak and the redelivery with its
// delivery count, the consumer's counts); a durable push consumer and ordered push and
// pull consumers; a key-value bucket (put, get, update at a revision, delete, history,
// keys, a watch of the current values and one update). The cases of nats-py's
// tests/clients/python/nats_py_js_client.py.
//
// Each case starts its own server (ringmq by default, `--cores 2`, or nats-server with
// `--server-bin /usr/sbin/nats-server`, which must give the same results) with its own
// store directory. The publisher and the consumer are separate connections, so with two
// cores they are served by different ones.
//
// Synchronisation is by protocol: every JetStream call is a request the server answers,
// acks are sent as requests (`ackAck()`, or a request with `-NAK`) whose reply says the
// server applied them, and every wait has a deadline.
//
// Prints one line per case and `N passed, N failed` at the end; exits 1 on any failure.
//   cd tests/clients/node && npm ci && node js_test.mjs --server-bin ../../../target/release/ringmq

import { mkdtempSync } from "node:fs";
import path from "node:path";

import { createInbox } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { AckPolicy, JetStreamApiError, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";

import { MSG_TIMEOUT, Mismatch, chooseCases, expectEq, packageVersion, parseArgs, report, requireExecutable, runCases, text, watchStatus, within } from "./harness.mjs";

async function connectTo(server) {
  // No reconnects: a server that dies mid-case must fail it.
  const nc = await connect({ servers: server.url, reconnect: false, timeout: 5_000 });
  watchStatus(nc);
  return nc;
}

/** Connections for the roles of a case, closed by `closeAll`. */
async function connections(server, count) {
  const ncs = [];
  for (let i = 0; i < count; i++) ncs.push(await connectTo(server));
  return ncs;
}

async function closeAll(ncs) {
  for (const nc of ncs) await nc.close();
}

/** `promise` must reject with a JetStreamApiError; returns its [code, description]. */
async function apiError(promise, what) {
  try {
    await promise;
  } catch (e) {
    if (e instanceof JetStreamApiError) return [e.code, e.apiError().description];
    throw new Mismatch(`${what}: expected a JetStream API error, got ${e?.stack ?? e}`);
  }
  throw new Mismatch(`${what}: succeeded`);
}

/** The async iterator of a consumer or watch; `take` reads from it. */
const iter = (iterable) => iterable[Symbol.asyncIterator]();

/** The next `count` messages of a consumer's iterator, each before the deadline. */
async function take(iterator, count, what) {
  const got = [];
  for (let i = 0; i < count; i++) {
    const next = await within(iterator.next(), MSG_TIMEOUT, `${what} (${got.length} of ${count})`);
    if (next.done) throw new Mismatch(`${what}: ended after ${got.length} of ${count}`);
    got.push(next.value);
  }
  return got;
}

/**
 * Closes a consumer's messages read through `iterator`: the client queues its stop behind
 * what was delivered, so the iterator is read to its end, which must hold nothing more.
 */
async function closeMessages(messages, iterator, what) {
  const closed = messages.close();
  const extra = [];
  for (;;) {
    const next = await within(iterator.next(), MSG_TIMEOUT, `${what}: end after close`);
    if (next.done) break;
    extra.push(next.value);
  }
  expectEq(extra.map((m) => [m.subject, m.string()]), [], `${what}: messages after the expected ones`);
  await within(closed, MSG_TIMEOUT, `${what}: closed`);
}

/** Every message of a fetch (it ends when the batch is full or it expires). */
async function fetchAll(consumer, opts, what) {
  const batch = await consumer.fetch(opts);
  const got = [];
  await within((async () => {
    for await (const m of batch) got.push(m);
  })(), MSG_TIMEOUT + (opts.expires ?? 0), what);
  return got;
}

/** A nak sent as a request: the server's empty reply says it was processed. */
async function nakSync(nc, msg) {
  await nc.request(msg.reply, "-NAK", { timeout: MSG_TIMEOUT });
}

const delivery = (m) => [m.subject, m.string(), m.info.streamSequence, m.info.deliverySequence, m.info.deliveryCount];

// ---------------------------------------------------------------------------------------
// Cases. Each takes a started server and throws on any mismatch.

async function caseStreamsAndPubAcks(server) {
  const ncs = await connections(server, 2);
  const [adminNc, pubNc] = ncs;
  try {
    const jsm = await jetstreamManager(adminNc);
    const js = jetstream(pubNc);
    const created = await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"], allow_direct: true });
    expectEq([created.config.name, created.config.subjects, created.state.messages], ["ORDERS", ["orders.>"], 0], "created");
    const acks = [];
    for (const [i, s] of ["a", "b", "a", "c"].entries()) acks.push(await js.publish(`orders.${s}`, `order ${i + 1}`));
    expectEq(acks.map((a) => [a.stream, a.seq, a.duplicate]), [1, 2, 3, 4].map((n) => ["ORDERS", n, false]), "PubAcks");
    const first = await js.publish("orders.d", "once", { msgID: "m1" });
    const again = await js.publish("orders.d", "once again", { msgID: "m1" });
    expectEq([first.seq, first.duplicate, again.seq, again.duplicate], [5, false, 5, true], "PubAcks of m1 twice");
    expectEq(await apiError(js.publish("orders.e", "late", { expect: { lastSequence: 4 } }), "wrong last sequence"),
      [10071, "wrong last sequence: 5"], "wrong last sequence");
    // Read back on the admin connection (the other core from the publisher).
    const info = await jsm.streams.info("ORDERS");
    expectEq([info.state.messages, info.state.first_seq, info.state.last_seq], [5, 1, 5], "state after publishes");
    const second = await jsm.streams.getMessage("ORDERS", { seq: 2 });
    expectEq([second.subject, second.seq, text(second.data)], ["orders.b", 2, "order 2"], "get seq 2");
    const lastA = await jsm.direct.getMessage("ORDERS", { last_by_subj: "orders.a" });
    expectEq([lastA.subject, lastA.seq, text(lastA.data)], ["orders.a", 3, "order 3"], "direct get last orders.a");
    expectEq(text((await jsm.streams.getMessage("ORDERS", { seq: 5 })).data), "once", "the first of the duplicates kept");
    expectEq(await jsm.streams.deleteMessage("ORDERS", 2), true, "delete seq 2");
    // @nats-io/jetstream 3 answers null for the server's 10037 "no message found".
    expectEq(await jsm.streams.getMessage("ORDERS", { seq: 2 }), null, "get of a deleted message");
    const purged = await jsm.streams.purge("ORDERS", { filter: "orders.a" });
    expectEq([purged.success, purged.purged], [true, 2], "purge orders.a");
    const after = await jsm.streams.info("ORDERS");
    expectEq([after.state.messages, after.state.first_seq, after.state.last_seq], [2, 4, 5], "state after delete and purge");
    expectEq(await jsm.streams.names().next(), ["ORDERS"], "stream names");
    expectEq(await jsm.streams.delete("ORDERS"), true, "delete stream");
    expectEq(await apiError(jsm.streams.info("ORDERS"), "info of a deleted stream"), [10059, "stream not found"], "deleted stream");
  } finally {
    await closeAll(ncs);
  }
}

async function casePullConsumer(server) {
  const ncs = await connections(server, 2);
  const [pubNc, workNc] = ncs;
  try {
    const pubJsm = await jetstreamManager(pubNc);
    await pubJsm.streams.add({ name: "WORK", subjects: ["work.>"] });
    const pubJs = jetstream(pubNc);
    for (let i = 0; i < 5; i++) await pubJs.publish(`work.${i}`, `job ${i}`);

    const jsm = await jetstreamManager(workNc);
    await jsm.consumers.add("WORK", { durable_name: "worker", ack_policy: AckPolicy.Explicit });
    const consumer = await jetstream(workNc).consumers.get("WORK", "worker");
    const first = await fetchAll(consumer, { max_messages: 3, expires: 2_000 }, "first batch");
    expectEq(first.map(delivery), [0, 1, 2].map((i) => [`work.${i}`, `job ${i}`, i + 1, i + 1, 1]), "first batch");
    expectEq(first.map((m) => m.info.pending), [4, 3, 2], "pending after each");
    for (const m of first.slice(0, 2)) expectEq(await m.ackAck(), true, "ack");
    await nakSync(workNc, first[2]);
    const again = await fetchAll(consumer, { max_messages: 1, expires: 2_000 }, "redelivery");
    expectEq(again.map(delivery), [["work.2", "job 2", 3, 4, 2]], "redelivered after nak");
    expectEq(again[0].redelivered, true, "redelivered flag");
    expectEq(await again[0].ackAck(), true, "ack redelivery");
    // The rest: two are there, the batch of five ends when the request expires.
    const rest = await fetchAll(consumer, { max_messages: 5, expires: 1_000 }, "the rest");
    expectEq(rest.map(delivery), [3, 4].map((i) => [`work.${i}`, `job ${i}`, i + 1, i + 2, 1]), "the rest");
    for (const m of rest) expectEq(await m.ackAck(), true, "ack the rest");
    const info = await jsm.consumers.info("WORK", "worker");
    expectEq([info.delivered.stream_seq, info.delivered.consumer_seq, info.ack_floor.stream_seq, info.ack_floor.consumer_seq],
      [5, 6, 5, 6], "consumer sequences");
    expectEq([info.num_ack_pending, info.num_pending, info.num_redelivered], [0, 0, 0], "consumer counts");
  } finally {
    await closeAll(ncs);
  }
}

async function casePushConsumers(server) {
  const ncs = await connections(server, 2);
  const [pubNc, subNc] = ncs;
  try {
    const pubJs = jetstream(pubNc);
    await (await jetstreamManager(pubNc)).streams.add({ name: "EVENTS", subjects: ["events.>"] });
    await pubJs.publish("events.a", "before");

    const jsm = await jetstreamManager(subNc);
    const js = jetstream(subNc);
    await jsm.consumers.add("EVENTS", { durable_name: "pusher", deliver_subject: createInbox(), ack_policy: AckPolicy.Explicit });
    const pusherMessages = await (await js.consumers.getPushConsumer("EVENTS", "pusher")).consume();
    const pusher = iter(pusherMessages);
    const [stored] = await take(pusher, 1, "stored message");
    expectEq(delivery(stored), ["events.a", "before", 1, 1, 1], "stored message");
    expectEq(await stored.ackAck(), true, "ack stored");
    // Published after the consumer exists, from the other connection (the other core).
    for (const [s, body] of [["b", "one"], ["c", "two"], ["b", "three"]]) await pubJs.publish(`events.${s}`, body);
    const live = await take(pusher, 3, "live messages");
    expectEq(live.map(delivery), [["events.b", "one", 2, 2, 1], ["events.c", "two", 3, 3, 1], ["events.b", "three", 4, 4, 1]], "live messages");
    for (const m of live) expectEq(await m.ackAck(), true, "ack live");
    const info = await jsm.consumers.info("EVENTS", "pusher");
    expectEq([info.delivered.stream_seq, info.ack_floor.stream_seq, info.num_ack_pending, info.num_pending, info.push_bound],
      [4, 4, 0, 0, true], "push consumer info");
    await closeMessages(pusherMessages, pusher, "durable push consumer");

    // Ordered consumers (ephemeral, acks none): push and pull, each sees all four in order.
    const expected = [["events.a", "before"], ["events.b", "one"], ["events.c", "two"], ["events.b", "three"]];
    // The ordered push consumer asks for `filter_subject: ">"` on a stream of `events.>`.
    for (const kind of ["push", "pull"]) {
      const consumer = kind === "push" ? await js.consumers.getPushConsumer("EVENTS") : await js.consumers.get("EVENTS");
      const messages = await consumer.consume();
      const it = iter(messages);
      expectEq((await take(it, 4, `ordered ${kind}`)).map((m) => [m.subject, m.string()]), expected, `ordered ${kind} consumer`);
      await closeMessages(messages, it, `ordered ${kind} consumer`);
    }
  } finally {
    await closeAll(ncs);
  }
}

async function caseKeyValue(server) {
  const ncs = await connections(server, 2);
  const [writerNc, readerNc] = ncs;
  try {
    const kv = await new Kvm(writerNc).create("settings", { history: 5 });
    expectEq(await kv.put("mode", "auto"), 1, "put revision");
    expectEq(await kv.put("level", "3"), 2, "second key revision");
    const view = await new Kvm(readerNc).open("settings");
    const entry = await view.get("mode");
    expectEq([entry.key, entry.string(), entry.revision, entry.operation], ["mode", "auto", 1, "PUT"], "get mode");
    expectEq(await view.update("mode", "manual", 1), 3, "update at revision 1");
    expectEq(await apiError(kv.update("mode", "stale", 1), "stale update"), [10071, "wrong last sequence: 3"], "update at a stale revision");
    expectEq(await apiError(kv.create("mode", "again"), "create existing"), [10071, "wrong last sequence: 3"], "create of an existing key");
    await kv.delete("level");
    const deleted = await view.get("level");
    expectEq([deleted.key, deleted.revision, deleted.operation, deleted.length], ["level", 4, "DEL", 0], "the delete marker");
    expectEq((await view.get("mode")).string(), "manual", "mode after update");
    const status = await view.status();
    expectEq([status.bucket, status.values, status.history], ["settings", 4, 5], "status");
  } finally {
    await closeAll(ncs);
  }
}

async function caseKeyValueHistoryAndWatch(server) {
  const ncs = await connections(server, 2);
  const [writerNc, readerNc] = ncs;
  try {
    const kv = await new Kvm(writerNc).create("cfg", { history: 5 });
    for (const value of ["1", "2", "3"]) await kv.put("n", value);
    await kv.put("m", "x");
    const view = await new Kvm(readerNc).open("cfg");
    const history = [];
    for await (const e of await view.history({ key: "n" })) history.push([e.string(), e.revision, e.operation]);
    expectEq(history, [["1", 1, "PUT"], ["2", 2, "PUT"], ["3", 3, "PUT"]], "history of n");
    const keys = [];
    for await (const k of await view.keys()) keys.push(k);
    expectEq(keys.sort(), ["m", "n"], "keys");
    // A watch starts with the current value of each key (isUpdate false), then updates.
    const watch = await view.watch();
    const updates = iter(watch);
    const initial = await take(updates, 2, "watch: current values");
    expectEq(initial.map((e) => [e.key, e.string(), e.revision, e.isUpdate]), [["n", "3", 3, false], ["m", "x", 4, true]], "watch: current values (the last one has nothing pending: isUpdate)");
    expectEq(await kv.put("m", "y"), 5, "put m");
    const [update] = await take(updates, 1, "watch: update");
    expectEq([update.key, update.string(), update.revision, update.operation, update.isUpdate], ["m", "y", 5, "PUT", true], "watch: update");
    await closeMessages({ close: async () => watch.stop() }, updates, "watch");
  } finally {
    await closeAll(ncs);
  }
}

const CASES = [
  ["streams_and_pubacks", caseStreamsAndPubAcks],
  ["pull_consumer", casePullConsumer],
  ["push_consumers", casePushConsumers],
  ["key_value", caseKeyValue],
  ["key_value_history_and_watch", caseKeyValueHistoryAndWatch],
];

async function main() {
  const args = parseArgs(process.argv.slice(2), "usage: node js_test.mjs [--server-bin PATH] [--cores N] [--repeat N] [CASE...]");
  const binary = path.resolve(args.serverBin);
  requireExecutable("server binary", binary);
  const chosen = chooseCases(CASES, args.cases);
  const version = (pkg) => `${pkg} ${packageVersion(pkg)}`;
  console.log(`${version("@nats-io/jetstream")}, ${version("@nats-io/kv")} (node ${process.version}) against ${binary}`);
  // Each run gets a fresh store directory inside the run's work directory (removed at the end).
  const start = (server) => ({ args: ["-js", "-sd", mkdtempSync(path.join(server.workdir, `${server.name}-store-`))] });
  const runs = chosen.map(([name, fn]) => ({ label: `node-js ${name}`, name, start, body: fn }));
  report(await runCases({ binary, cores: args.cores, repeat: args.repeat, tmpPrefix: "clients-node-js-", runs }));
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
