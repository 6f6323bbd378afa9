// Runs the NATS JavaScript client over WebSocket (@nats-io/nats-core's `wsconnect`, on the
// `ws` package: Node 20 has no global WebSocket) against a server binary and asserts exact
// results; the mixed case adds a TCP client (@nats-io/transport-node) on the same server.
//
// Every case runs twice, with `compression: false` and `compression: true` in the server's
// `websocket {}` block; `ws` always offers permessage-deflate, so the second run checks that
// the server accepts it and that frames both ways are compressed.
//
// Each case starts its own server (ringmq by default, or nats-server with
// `--server-bin /usr/sbin/nats-server`) from a config file (harness.mjs), both ports read from
// its log. Synchronisation is by protocol, never by sleeping: `flush()` is a PING/PONG round
// trip, and a marker message proves that everything before it on that connection arrived.
//
// Prints one line per case and `N passed, N failed` at the end; exits 1 on any failure.
//   cd tests/clients/node && npm ci && node ws_test.mjs --server-bin /usr/sbin/nats-server

import { mkdtempSync, readFileSync, rmSync, accessSync, constants } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import WebSocket from "ws";
import { wsconnect, headers, errors } from "@nats-io/nats-core";
import { connect as tcpconnect } from "@nats-io/transport-node";

import { CASE_TIMEOUT, MSG_TIMEOUT, Inbox, Mismatch, WsServerProcess, expectEq, parseArgs, text, within } from "./harness.mjs";

// Errors the clients reported asynchronously during the current case. A case fails if any
// were reported.
let clientErrors = [];
const onError = (e) => clientErrors.push(e);

function watchStatus(nc) {
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "error" || status.type === "slowConsumer") {
        clientErrors.push(`${status.type}: ${status.error ?? status.pending}`);
      }
    }
  })().catch((e) => clientErrors.push(`status iterator: ${e}`));
}

// The `ws` socket under each WebSocket connection, to read the negotiated extension and the
// bytes on the TCP socket below it.
const socketOf = new WeakMap();

async function connectWs(server, options = {}) {
  let socket = null;
  const nc = await wsconnect({
    servers: server.wsUrl,
    reconnect: false,
    timeout: 5_000,
    // What the transport does with a global WebSocket, with a handle kept. `ws` offers
    // `permessage-deflate; client_max_window_bits` by default.
    wsFactory: async (url) => {
      socket = new WebSocket(url);
      return { socket, encrypted: false };
    },
    ...options,
  });
  socketOf.set(nc, socket);
  watchStatus(nc);
  return nc;
}

async function connectTcp(server, options = {}) {
  const nc = await tcpconnect({ servers: server.url, reconnect: false, timeout: 5_000, ...options });
  watchStatus(nc);
  return nc;
}

const range = (n) => [...Array(n).keys()];

// ---------------------------------------------------------------------------------------
// Cases. Each takes a started server and whether compression is on, and throws on any
// mismatch.

async function caseConnect(server, compression) {
  const nc = await connectWs(server, { name: "ws-connect" });
  const socket = socketOf.get(nc);
  expectEq(nc.isClosed(), false, "isClosed after connect");
  const info = nc.info;
  expectEq(info.version, "2.9.10", "INFO version");
  expectEq(info.headers, true, "INFO headers");
  expectEq(info.max_payload, 1048576, "INFO max_payload");
  // nats-server 2.9.10 gives WebSocket clients the client INFO, whose port is the TCP one.
  expectEq(info.port, server.port, "INFO port (the TCP client port)");
  expectEq(socket.extensions, compression ? "permessage-deflate" : "", "negotiated WebSocket extensions");

  const inbox = new Inbox(nc, "ws.echo", {}, onError);
  nc.publish("ws.echo", "hello");
  expectEq(await inbox.payloads(1), ["hello"], "round trip");

  // A large, very compressible payload: with deflate on, both directions carry a small
  // fraction of it on the TCP socket; off, all of it each way.
  const big = "ringmq over websocket ".repeat(12_000); // 264,000 bytes
  await within(nc.flush(), MSG_TIMEOUT, "flush before the large message");
  const tcp = socket._socket;
  const [read0, written0] = [tcp.bytesRead, tcp.bytesWritten];
  nc.publish("ws.echo", big);
  expectEq(await inbox.payloads(1), [big], "large payload round trip");
  await within(nc.flush(), MSG_TIMEOUT, "flush after the large message");
  const [read, written] = [tcp.bytesRead - read0, tcp.bytesWritten - written0];
  const bytes = `(${written} bytes written, ${read} read on the TCP socket)`;
  if (compression && (written > big.length / 10 || read > big.length / 10)) {
    throw new Mismatch(`compression on, but ${big.length} payload bytes took ${bytes}`);
  }
  if (!compression && (written < big.length || read < big.length)) {
    throw new Mismatch(`compression off, but ${big.length} payload bytes took only ${bytes}`);
  }

  await nc.close();
  expectEq(nc.isClosed(), true, "isClosed after close");
  expectEq(await nc.closed(), undefined, "close reason (none: closed by us)");
}

function matches(pattern, subject) {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

async function caseWildcards(server) {
  const subNc = await connectWs(server);
  const pubNc = await connectWs(server);
  try {
    const patterns = ["wild.*", "wild.>", "wild.*.c", "wild.a.b", "*.a"];
    const inboxes = patterns.map((p) => new Inbox(subNc, p, {}, onError));
    const marker = new Inbox(subNc, "marker.wild", {}, onError);
    await within(subNc.flush(), MSG_TIMEOUT, "subscriber flush");

    const published = ["wild", "wild.a", "wild.a.b", "wild.x.c", "wild.a.b.c", "other.a", "wild.b"];
    published.forEach((subject, i) => pubNc.publish(subject, `${i}:${subject}`));
    pubNc.publish("marker.wild", "end");
    await within(pubNc.flush(), MSG_TIMEOUT, "publisher flush");

    expectEq(await marker.payloads(1), ["end"], "marker");
    // Written out, so a wrong matcher cannot hide a wrong server.
    const expectedCounts = { "wild.*": 2, "wild.>": 5, "wild.*.c": 1, "wild.a.b": 1, "*.a": 2 };
    for (const inbox of inboxes) {
      const expected = published
        .map((subject, i) => [subject, `${i}:${subject}`])
        .filter(([subject]) => matches(inbox.subject, subject));
      expectEq(expected.length, expectedCounts[inbox.subject], `matches of ${inbox.subject}`);
      const got = (await inbox.take(expected.length)).map((m) => [m.subject, text(m.data)]);
      expectEq(got, expected, `messages on ${inbox.subject}`);
      inbox.expectNoMore(inbox.subject);
    }
  } finally {
    await subNc.close();
    await pubNc.close();
  }
}

/**
 * Members (connections) in queue group `group` on `subject`, publishers each sending
 * `perPublisher` messages `<tag><i>` then a marker: each message reaches exactly one member,
 * every member gets some, each publisher's messages reach a member in order.
 */
async function checkQueueGroup(members, publishers, subject, group, perPublisher) {
  const inboxes = [];
  for (const nc of members) {
    inboxes.push([new Inbox(nc, subject, { queue: group }, onError), new Inbox(nc, `${subject}.done`, {}, onError)]);
    await within(nc.flush(), MSG_TIMEOUT, "member flush");
  }
  for (const [tag, nc] of publishers) {
    for (let i = 0; i < perPublisher; i++) nc.publish(subject, `${tag}${i}`);
    nc.publish(`${subject}.done`, tag);
  }
  for (const [, nc] of publishers) await within(nc.flush(), MSG_TIMEOUT, "publisher flush");

  const tags = publishers.map(([tag]) => tag);
  const perMember = [];
  for (const [work, done] of inboxes) {
    // One marker per publisher: it follows that publisher's items on this connection.
    expectEq((await done.payloads(tags.length)).sort(), [...tags].sort(), "done markers");
    perMember.push(work.messages.splice(0).map((m) => text(m.data)));
  }
  const counts = perMember.map((items) => items.length);
  const expected = tags.flatMap((tag) => range(perPublisher).map((i) => `${tag}${i}`)).sort();
  expectEq(perMember.flat().sort(), expected, `each message to exactly one member (per member ${counts})`);
  perMember.forEach((items, index) => {
    if (items.length === 0) throw new Mismatch(`member ${index} received nothing: ${counts}`);
    for (const tag of tags) {
      const seq = items.filter((s) => s.startsWith(tag)).map((s) => Number(s.slice(tag.length)));
      expectEq(seq, [...seq].sort((a, b) => a - b), `member ${index} order of ${tag}`);
    }
  });
}

async function caseQueueGroups(server) {
  const total = 300;
  const members = [];
  for (let i = 0; i < 3; i++) members.push(await connectWs(server));
  const plainNc = await connectWs(server);
  const pubNc = await connectWs(server);
  try {
    const plain = new Inbox(plainNc, "work", {}, onError);
    const plainDone = new Inbox(plainNc, "work.done", {}, onError);
    await within(plainNc.flush(), MSG_TIMEOUT, "plain flush");
    await checkQueueGroup(members, [["w", pubNc]], "work", "workers", total);
    expectEq(await plainDone.payloads(1), ["w"], "plain done marker");
    expectEq(await plain.payloads(total), range(total).map((i) => `w${i}`), "plain subscriber alongside the group");
    plain.expectNoMore("plain subscriber");
  } finally {
    for (const nc of [...members, plainNc, pubNc]) await nc.close();
  }
}

async function caseRequestReply(server) {
  const svcNc = await connectWs(server);
  const reqNc = await connectWs(server);
  try {
    const seen = [];
    svcNc.subscribe("svc.echo", {
      callback: (err, msg) => {
        if (err) return onError(String(err));
        seen.push(text(msg.data));
        msg.respond(`re:${text(msg.data)}`);
      },
    });
    await within(svcNc.flush(), MSG_TIMEOUT, "service flush");
    for (let i = 0; i < 50; i++) {
      const reply = await reqNc.request("svc.echo", `q${i}`, { timeout: MSG_TIMEOUT });
      expectEq(text(reply.data), `re:q${i}`, `reply ${i}`);
    }
    expectEq(seen, range(50).map((i) => `q${i}`), "requests seen by the service");
    const reply = await reqNc.request("svc.echo", "nomux", { timeout: MSG_TIMEOUT, noMux: true });
    expectEq(text(reply.data), "re:nomux", "noMux reply");
  } finally {
    await svcNc.close();
    await reqNc.close();
  }
}

async function caseHeaders(server) {
  const subNc = await connectWs(server);
  const pubNc = await connectWs(server);
  try {
    const inbox = new Inbox(subNc, "hdr.test", {}, onError);
    await within(subNc.flush(), MSG_TIMEOUT, "subscriber flush");
    const h = headers();
    h.append("X-Trace", "abc-123");
    h.append("X-Multi", "a");
    h.append("X-Multi", "b c");
    h.append("X-Colon", "k: v");
    pubNc.publish("hdr.test", "with headers", { headers: h });
    const only = headers();
    only.set("Only", "headers");
    pubNc.publish("hdr.test", undefined, { headers: only });
    pubNc.publish("hdr.test", "no headers");
    await within(pubNc.flush(), MSG_TIMEOUT, "publisher flush");

    const [first, second, third] = await inbox.take(3);
    expectEq(text(first.data), "with headers", "payload 1");
    expectEq([...first.headers.keys()], ["X-Trace", "X-Multi", "X-Colon"], "header names 1");
    expectEq(first.headers.values("X-Multi"), ["a", "b c"], "X-Multi values");
    expectEq(first.headers.get("X-Trace"), "abc-123", "X-Trace");
    expectEq(first.headers.get("X-Colon"), "k: v", "X-Colon");
    expectEq(text(second.data), "", "payload 2");
    expectEq([...second.headers.keys()], ["Only"], "header names 2");
    expectEq(text(third.data), "no headers", "payload 3");
    expectEq(third.headers, undefined, "headers 3");

    subNc.subscribe("hdr.svc", {
      callback: (err, msg) => {
        if (err) return onError(String(err));
        const back = headers();
        back.set("Echo", msg.headers.get("Ask"));
        msg.respond(text(msg.data).split("").reverse().join(""), { headers: back });
      },
    });
    await within(subNc.flush(), MSG_TIMEOUT, "service flush");
    const ask = headers();
    ask.set("Ask", "value 42");
    const reply = await pubNc.request("hdr.svc", "abc", { timeout: MSG_TIMEOUT, headers: ask });
    expectEq(text(reply.data), "cba", "reply payload");
    expectEq([...reply.headers.keys()], ["Echo"], "reply header names");
    expectEq(reply.headers.get("Echo"), "value 42", "reply header value");
  } finally {
    await subNc.close();
    await pubNc.close();
  }
}

async function caseNoResponders(server) {
  const nc = await connectWs(server);
  try {
    for (const noMux of [false, true]) {
      let error = null;
      try {
        await nc.request("nobody.home", "anyone?", { timeout: MSG_TIMEOUT, noMux });
      } catch (e) {
        error = e;
      }
      if (error === null) throw new Mismatch("request without subscribers returned a reply");
      if (!(error instanceof errors.RequestError) || !error.isNoResponders()) {
        throw new Mismatch(`noMux=${noMux}: expected no responders, got ${error?.name}: ${error?.message}`);
      }
      expectEq(error.cause.subject, "nobody.home", "subject in NoRespondersError");
    }
    nc.subscribe("nobody.home", { callback: (_err, msg) => msg.respond("here") });
    await within(nc.flush(), MSG_TIMEOUT, "flush");
    const reply = await nc.request("nobody.home", "anyone?", { timeout: MSG_TIMEOUT });
    expectEq(text(reply.data), "here", "reply once a responder exists");
  } finally {
    await nc.close();
  }
}

/** A TCP client and a WebSocket client, both ways: headers, queue groups, request/reply. */
async function caseMixed(server) {
  const tcp = await connectTcp(server, { name: "mixed-tcp" });
  const ws = await connectWs(server, { name: "mixed-ws" });
  const more = [await connectTcp(server), await connectWs(server)];
  try {
    // Headers both ways, 100 messages each, in order.
    const atWs = new Inbox(ws, "mix.to_ws", {}, onError);
    const atTcp = new Inbox(tcp, "mix.to_tcp", {}, onError);
    await within(ws.flush(), MSG_TIMEOUT, "ws flush");
    await within(tcp.flush(), MSG_TIMEOUT, "tcp flush");
    const count = 100;
    for (const [from, nc, subject] of [["tcp", tcp, "mix.to_ws"], ["ws", ws, "mix.to_tcp"]]) {
      for (let i = 0; i < count; i++) {
        const h = headers();
        h.set("From", from);
        h.append("Seq", String(i));
        nc.publish(subject, `${from}->${i}`, { headers: h });
      }
    }
    await within(tcp.flush(), MSG_TIMEOUT, "tcp publisher flush");
    await within(ws.flush(), MSG_TIMEOUT, "ws publisher flush");
    const seen = (msgs) => msgs.map((m) => [text(m.data), [...m.headers.keys()], m.headers.get("From"), m.headers.get("Seq")]);
    expectEq(seen(await atWs.take(count)), range(count).map((i) => [`tcp->${i}`, ["From", "Seq"], "tcp", String(i)]), "TCP to WebSocket");
    expectEq(seen(await atTcp.take(count)), range(count).map((i) => [`ws->${i}`, ["From", "Seq"], "ws", String(i)]), "WebSocket to TCP");

    // One queue group with two members on each transport, fed from both transports.
    await checkQueueGroup([tcp, ws, ...more], [["t", tcp], ["w", ws]], "mix.work", "mixq", 200);

    // Request/reply both ways, headers on the request and on the reply.
    for (const [svc, req, name] of [[ws, tcp, "ws"], [tcp, ws, "tcp"]]) {
      svc.subscribe(`mix.svc.${name}`, {
        callback: (err, msg) => {
          if (err) return onError(String(err));
          const back = headers();
          back.set("Served-By", name);
          back.set("Echo", msg.headers.get("Ask"));
          msg.respond(`${name}:${text(msg.data)}`, { headers: back });
        },
      });
      await within(svc.flush(), MSG_TIMEOUT, "service flush");
      for (let i = 0; i < 25; i++) {
        const ask = headers();
        ask.set("Ask", `a ${i}`);
        const reply = await req.request(`mix.svc.${name}`, `r${i}`, { timeout: MSG_TIMEOUT, headers: ask });
        expectEq([text(reply.data), reply.headers.get("Served-By"), reply.headers.get("Echo")], [`${name}:r${i}`, name, `a ${i}`], `reply ${i} from ${name}`);
      }
    }
    atWs.expectNoMore("mix.to_ws");
    atTcp.expectNoMore("mix.to_tcp");
  } finally {
    for (const nc of [tcp, ws, ...more]) await nc.close();
  }
}

const CASES = [
  ["connect", caseConnect],
  ["wildcards", caseWildcards],
  ["queue_groups", caseQueueGroups],
  ["request_reply", caseRequestReply],
  ["headers", caseHeaders],
  ["no_responders", caseNoResponders],
  ["mixed", caseMixed],
];

async function main() {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const args = parseArgs(
    process.argv.slice(2),
    path.resolve(here, "..", "..", "..", "target", "release", "ringmq"),
    "usage: node ws_test.mjs [--server-bin PATH] [--cores N] [--repeat N] [CASE...]",
  );
  const binary = path.resolve(args.serverBin);
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    console.error(`server binary ${args.serverBin} is not executable`);
    process.exit(2);
  }
  const known = CASES.map(([name]) => name);
  const unknown = args.cases.filter((c) => !known.includes(c));
  if (unknown.length) {
    console.error(`unknown cases ${unknown}; known: ${known}`);
    process.exit(2);
  }
  const chosen = CASES.filter(([name]) => args.cases.length === 0 || args.cases.includes(name));
  // Not every package exports its package.json: read it from node_modules.
  const v = (pkg) => JSON.parse(readFileSync(path.join(here, "node_modules", pkg, "package.json"), "utf8")).version;
  console.log(`@nats-io/nats-core ${v("@nats-io/nats-core")} wsconnect on ws ${v("ws")}, @nats-io/transport-node ${v("@nats-io/transport-node")} (node ${process.version}) against ${binary}`);

  const workdir = mkdtempSync(path.join(os.tmpdir(), "clients-ws-"));
  let passed = 0;
  let failed = 0;
  try {
    for (let r = 0; r < args.repeat; r++) {
      for (const [name, fn] of chosen) {
        for (const compression of [false, true]) {
          const label = `ws ${name} (compression ${compression ? "on" : "off"})`;
          const server = new WsServerProcess(binary, args.cores, workdir, `${name}-${compression}`);
          const started = Date.now();
          clientErrors = [];
          try {
            await server.start({ compression });
            await within(fn(server, compression), CASE_TIMEOUT, `case ${label}`);
            server.checkAlive("running the case");
            if (clientErrors.length) throw new Mismatch(`client reported errors: ${clientErrors}`);
            await server.stop();
            passed++;
            console.log(`ok   node ${label} (${Date.now() - started} ms)`);
          } catch (e) {
            failed++;
            console.log(`FAIL node ${label}: ${e?.stack ?? e}`);
            console.log(`--- server log ---\n${server.log()}\n---`);
          } finally {
            await server.kill();
          }
        }
      }
    }
  } finally {
    rmSync(workdir, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
