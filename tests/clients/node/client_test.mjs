// Runs the NATS JavaScript client (@nats-io/transport-node) against a server binary and
// asserts exact results.
//
// Each case starts its own server (ringmq by default, or nats-server with
// `--server-bin /usr/sbin/nats-server`) on 127.0.0.1 with a free port, drives it with the
// client, and compares payloads, counts and (where NATS guarantees it) order exactly. The
// reconnect case stops the server and starts it again on the same port.
//
// Synchronisation is by protocol, never by sleeping: `flush()` is a PING/PONG round trip
// after everything the connection queued before it, so once it resolves the server has
// processed those commands (for a SUB: every later publish from any connection reaches
// it). Subscriptions here use callbacks, which the client calls in arrival order as it
// parses, so a marker message proves that everything before it on that connection has
// arrived. Every wait has a deadline.
//
// Prints one line per case and `N passed, N failed` at the end; exits 1 on any failure.
//   cd tests/clients/node && npm ci && node client_test.mjs --server-bin ../../../target/release/ringmq

import { createRequire } from "node:module";
import path from "node:path";

import { connect, errors } from "@nats-io/transport-node";

import * as shared from "./cases.mjs";
import { MSG_TIMEOUT, RECONNECT_TIMEOUT, Inbox, Mismatch, chooseCases, expectEq, matches, parseArgs, report, requireExecutable, runCases, text, waitUntil, watchStatus, within } from "./harness.mjs";

async function connectTo(server, options = {}) {
  const nc = await connect({
    servers: server.url,
    // No reconnects unless a case asks: a server that dies mid-case must fail it.
    reconnect: false,
    timeout: 5_000,
    ...options,
  });
  watchStatus(nc);
  return nc;
}

// ---------------------------------------------------------------------------------------
// Cases. Each takes a started server and throws on any mismatch.

async function caseConnect(server) {
  const nc = await connectTo(server, { name: "node-connect" });
  expectEq(nc.isClosed(), false, "isClosed after connect");
  const info = nc.info;
  expectEq(info.version, "2.9.10", "INFO version");
  expectEq(info.headers, true, "INFO headers");
  expectEq(info.max_payload, 1024 * 1024, "INFO max_payload");
  expectEq(info.proto, 1, "INFO proto");
  // A round trip proves the CONNECT was accepted (no -ERR, no close).
  await within(nc.flush(), MSG_TIMEOUT, "flush after connect");
  await nc.close();
  expectEq(nc.isClosed(), true, "isClosed after close");
  expectEq(await nc.closed(), undefined, "close reason (none: closed by us)");
}

async function caseWildcards(server) {
  expectEq(["wild", "wild.a", "wild.a.b.c"].map((s) => matches("wild.>", s)), [false, true, true], "matcher self-check");
  await shared.caseWildcards(server, connectTo);
}

async function caseQueueGroups(server) {
  const total = 300;
  const members = [];
  for (let i = 0; i < 3; i++) members.push(await connectTo(server));
  const plainNc = await connectTo(server);
  const pubNc = await connectTo(server);
  try {
    const memberInboxes = [];
    for (const nc of members) {
      memberInboxes.push([new Inbox(nc, "work", { queue: "workers" }), new Inbox(nc, "work.done")]);
      await within(nc.flush(), MSG_TIMEOUT, "member flush");
    }
    const plain = new Inbox(plainNc, "work");
    const plainDone = new Inbox(plainNc, "work.done");
    await within(plainNc.flush(), MSG_TIMEOUT, "plain flush");

    for (let i = 0; i < total; i++) pubNc.publish("work", String(i));
    pubNc.publish("work.done");
    await within(pubNc.flush(), MSG_TIMEOUT, "publisher flush");

    const perMember = [];
    for (const [work, done] of memberInboxes) {
      // The marker follows every work item on that connection.
      expectEq(await done.payloads(1), [""], "done marker");
      perMember.push(work.messages.splice(0).map((m) => Number(text(m.data))));
    }
    const counts = perMember.map((items) => items.length);
    const everything = perMember.flat().sort((a, b) => a - b);
    expectEq(everything.length, total, `total delivered to the group (per member ${counts})`);
    expectEq(everything, [...Array(total).keys()], "each message to exactly one member");
    perMember.forEach((items, index) => {
      expectEq(items, [...items].sort((a, b) => a - b), `member ${index} order`);
      if (items.length === 0) throw new Mismatch(`member ${index} received nothing: ${counts}`);
    });

    expectEq(await plainDone.payloads(1), [""], "plain done marker");
    expectEq((await plain.payloads(total)).map(Number), [...Array(total).keys()], "plain subscriber alongside the group");
    plain.expectNoMore("plain subscriber");
  } finally {
    for (const nc of [...members, plainNc, pubNc]) await nc.close();
  }
}

function caseHeaders(server) {
  return shared.caseHeaders(server, connectTo, (first, second) => {
    expectEq(first.headers.hasError, false, "no status on a plain header message");
    expectEq(second.headers.get("Only"), "headers", "Only");
  });
}

async function caseUnsubscribeMax(server) {
  const subNc = await connectTo(server);
  const pubNc = await connectTo(server);
  try {
    const limited = new Inbox(subNc, "limited");
    limited.sub.unsubscribe(3);
    const viaOption = new Inbox(subNc, "limited", { max: 5 });
    const marker = new Inbox(subNc, "limited.end");
    await within(subNc.flush(), MSG_TIMEOUT, "subscriber flush");
    for (let i = 0; i < 10; i++) pubNc.publish("limited", `m${i}`);
    pubNc.publish("limited.end", "end");
    await within(pubNc.flush(), MSG_TIMEOUT, "publisher flush");

    expectEq(await marker.payloads(1), ["end"], "marker");
    expectEq(await limited.payloads(3), ["m0", "m1", "m2"], "unsubscribe(3)");
    limited.expectNoMore("after unsubscribe(3)");
    expectEq(await viaOption.payloads(5), ["m0", "m1", "m2", "m3", "m4"], "subscribe max 5");
    viaOption.expectNoMore("after max 5");
    expectEq(limited.sub.isClosed(), true, "unsubscribe(3) subscription closed");
    expectEq(viaOption.sub.isClosed(), true, "max 5 subscription closed");
    // The server stopped sending too: the client counts every MSG it reads. Both limits
    // went to the server as UNSUB <sid> <max>: 3 + 5 + the marker.
    expectEq(subNc.stats().inMsgs, 3 + 5 + 1, "MSGs the server sent");
  } finally {
    await subNc.close();
    await pubNc.close();
  }
}

async function caseFlush(server) {
  const subNc = await connectTo(server);
  const pubNc = await connectTo(server);
  try {
    // Interest barrier: after flush() resolves, a publish from another connection
    // reaches the new subscription. Each round uses a fresh subject.
    for (let round = 0; round < 50; round++) {
      const inbox = new Inbox(subNc, `flush.${round}`);
      await within(subNc.flush(), MSG_TIMEOUT, `subscriber flush ${round}`);
      pubNc.publish(`flush.${round}`, `r${round}`);
      await within(pubNc.flush(), MSG_TIMEOUT, `publisher flush ${round}`);
      expectEq(await inbox.payloads(1, `round ${round}`), [`r${round}`], `round ${round}`);
      inbox.sub.unsubscribe();
    }
    // Bulk: 1000 publishes, then one flush; the subscriber gets all 1000 in order.
    const bulk = new Inbox(subNc, "flush.bulk");
    await within(subNc.flush(), MSG_TIMEOUT, "subscriber flush");
    for (let i = 0; i < 1000; i++) pubNc.publish("flush.bulk", `b${i}`.repeat(10));
    await within(pubNc.flush(), MSG_TIMEOUT, "publisher flush");
    expectEq(pubNc.stats().outMsgs, 1050, "messages the publisher sent");
    expectEq(await bulk.payloads(1000, "bulk"), [...Array(1000).keys()].map((i) => `b${i}`.repeat(10)), "bulk messages");
  } finally {
    await subNc.close();
    await pubNc.close();
  }
}

async function caseDrain(server) {
  const total = 500;
  // Same connection: drain right after publishing, while the messages are still on their
  // way. drain() sends UNSUB after the PUBs, waits for the PONG and for the callbacks of
  // everything received, then closes.
  const nc = await connectTo(server);
  const own = new Inbox(nc, "drain.own");
  for (let i = 0; i < total; i++) nc.publish("drain.own", `d${i}`);
  await within(nc.drain(), MSG_TIMEOUT, "drain");
  expectEq(nc.isClosed(), true, "closed after drain");
  expectEq(own.messages.splice(0).map((m) => text(m.data)), [...Array(total).keys()].map((i) => `d${i}`), "messages delivered by drain");
  let late = null;
  try {
    nc.publish("drain.own", "late");
  } catch (e) {
    late = e;
  }
  if (!(late instanceof errors.ClosedConnectionError)) {
    throw new Mismatch(`publish after drain: expected ClosedConnectionError, got ${late}`);
  }

  // Across connections: everything the publisher had flushed before the subscriber
  // drains reaches the subscriber before its connection closes.
  const subNc = await connectTo(server);
  const pubNc = await connectTo(server);
  try {
    const cross = new Inbox(subNc, "drain.cross");
    await within(subNc.flush(), MSG_TIMEOUT, "subscriber flush");
    for (let i = 0; i < total; i++) pubNc.publish("drain.cross", `c${i}`);
    await within(pubNc.flush(), MSG_TIMEOUT, "publisher flush");
    await within(subNc.drain(), MSG_TIMEOUT, "subscriber drain");
    expectEq(subNc.isClosed(), true, "subscriber closed after drain");
    expectEq(cross.messages.splice(0).map((m) => text(m.data)), [...Array(total).keys()].map((i) => `c${i}`), "cross-connection drain");
  } finally {
    await pubNc.close();
    if (!subNc.isClosed()) await subNc.close();
  }
}

async function caseReconnect(server) {
  const events = { sub: [], pub: [] };
  const options = {
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 50,
    reconnectJitter: 0,
  };
  const subNc = await connectTo(server, options);
  const pubNc = await connectTo(server, options);
  for (const [who, nc] of [["sub", subNc], ["pub", pubNc]]) {
    (async () => {
      for await (const status of nc.status()) events[who].push(status.type);
    })();
  }
  try {
    const inbox = new Inbox(subNc, "recon.>");
    const queued = new Inbox(subNc, "recon.q", { queue: "q" });
    await within(subNc.flush(), MSG_TIMEOUT, "subscriber flush");
    pubNc.publish("recon.a", "before");
    await within(pubNc.flush(), MSG_TIMEOUT, "publisher flush");
    expectEq(await inbox.payloads(1), ["before"], "before the restart");

    await server.restart();
    for (const who of ["sub", "pub"]) {
      await waitUntil(() => events[who].includes("reconnect"), RECONNECT_TIMEOUT, `${who} reconnect`);
      if (!events[who].includes("disconnect")) throw new Mismatch(`${who}: reconnect without disconnect: ${events[who]}`);
    }
    // The client re-sent its SUBs on reconnecting, ahead of this PING.
    await within(subNc.flush(), MSG_TIMEOUT, "subscriber flush after restart");
    for (let i = 0; i < 10; i++) pubNc.publish(`recon.${i % 3}`, `after${i}`);
    pubNc.publish("recon.q", "queued");
    await within(pubNc.flush(), MSG_TIMEOUT, "publisher flush after restart");
    const expected = [...Array(10).keys()].map((i) => [`recon.${i % 3}`, `after${i}`]);
    expected.push(["recon.q", "queued"]);
    expectEq((await inbox.take(11)).map((m) => [m.subject, text(m.data)]), expected, "after the restart");
    expectEq(await queued.payloads(1), ["queued"], "queue subscription after restart");
    // Request/reply works on the new server too (the response inbox was re-subscribed).
    subNc.subscribe("svc.recon", { callback: (_err, msg) => msg.respond(`ok:${text(msg.data)}`) });
    await within(subNc.flush(), MSG_TIMEOUT, "service flush");
    const reply = await pubNc.request("svc.recon", "ping", { timeout: MSG_TIMEOUT });
    expectEq(text(reply.data), "ok:ping", "request after restart");
    inbox.expectNoMore("recon.>");
  } finally {
    await subNc.close();
    await pubNc.close();
  }
}

const CASES = [
  ["connect", caseConnect],
  ["wildcards", caseWildcards],
  ["queue_groups", caseQueueGroups],
  ["request_reply", (server) => shared.caseRequestReply(server, connectTo)],
  ["headers", caseHeaders],
  ["no_responders", (server) => shared.caseNoResponders(server, connectTo)],
  ["unsubscribe_max", caseUnsubscribeMax],
  ["flush", caseFlush],
  ["drain", caseDrain],
  ["reconnect", caseReconnect],
];

async function main() {
  const args = parseArgs(process.argv.slice(2), "usage: node client_test.mjs [--server-bin PATH] [--cores N] [--repeat N] [CASE...]");
  const binary = path.resolve(args.serverBin);
  requireExecutable("server binary", binary);
  const chosen = chooseCases(CASES, args.cases);
  const version = createRequire(import.meta.url)("@nats-io/transport-node/package.json").version;
  console.log(`@nats-io/transport-node ${version} (node ${process.version}) against ${binary}`);
  const runs = chosen.map(([name, fn]) => ({ label: `node ${name}`, name, start: {}, body: fn }));
  report(await runCases({ binary, cores: args.cores, repeat: args.repeat, tmpPrefix: "clients-node-", runs }));
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
