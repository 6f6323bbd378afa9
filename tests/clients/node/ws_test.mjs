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

import path from "node:path";

import WebSocket from "ws";
import { wsconnect, headers } from "@nats-io/nats-core";
import { connect as tcpconnect } from "@nats-io/transport-node";

import * as shared from "./cases.mjs";
import { MSG_TIMEOUT, Inbox, Mismatch, chooseCases, clientErrors, expectEq, packageVersion, parseArgs, range, report, requireExecutable, runCases, text, watchStatus, within } from "./harness.mjs";

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

  const inbox = new Inbox(nc, "ws.echo");
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

/**
 * Members (connections) in queue group `group` on `subject`, publishers each sending
 * `perPublisher` messages `<tag><i>` then a marker: each message reaches exactly one member,
 * every member gets some, each publisher's messages reach a member in order.
 */
async function checkQueueGroup(members, publishers, subject, group, perPublisher) {
  const inboxes = [];
  for (const nc of members) {
    inboxes.push([new Inbox(nc, subject, { queue: group }), new Inbox(nc, `${subject}.done`)]);
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
    const plain = new Inbox(plainNc, "work");
    const plainDone = new Inbox(plainNc, "work.done");
    await within(plainNc.flush(), MSG_TIMEOUT, "plain flush");
    await checkQueueGroup(members, [["w", pubNc]], "work", "workers", total);
    expectEq(await plainDone.payloads(1), ["w"], "plain done marker");
    expectEq(await plain.payloads(total), range(total).map((i) => `w${i}`), "plain subscriber alongside the group");
    plain.expectNoMore("plain subscriber");
  } finally {
    for (const nc of [...members, plainNc, pubNc]) await nc.close();
  }
}

/** A TCP client and a WebSocket client, both ways: headers, queue groups, request/reply. */
async function caseMixed(server) {
  const tcp = await connectTcp(server, { name: "mixed-tcp" });
  const ws = await connectWs(server, { name: "mixed-ws" });
  const more = [await connectTcp(server), await connectWs(server)];
  try {
    // Headers both ways, 100 messages each, in order.
    const atWs = new Inbox(ws, "mix.to_ws");
    const atTcp = new Inbox(tcp, "mix.to_tcp");
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
          if (err) return clientErrors.push(String(err));
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
  // Written out, so a wrong matcher cannot hide a wrong server.
  ["wildcards", (server) => shared.caseWildcards(server, connectWs, { "wild.*": 2, "wild.>": 5, "wild.*.c": 1, "wild.a.b": 1, "*.a": 2 })],
  ["queue_groups", caseQueueGroups],
  ["request_reply", (server) => shared.caseRequestReply(server, connectWs)],
  ["headers", (server) => shared.caseHeaders(server, connectWs)],
  ["no_responders", (server) => shared.caseNoResponders(server, connectWs)],
  ["mixed", caseMixed],
];

async function main() {
  const args = parseArgs(process.argv.slice(2), "usage: node ws_test.mjs [--server-bin PATH] [--cores N] [--repeat N] [CASE...]");
  const binary = path.resolve(args.serverBin);
  requireExecutable("server binary", binary);
  const chosen = chooseCases(CASES, args.cases);
  const v = packageVersion;
  console.log(`@nats-io/nats-core ${v("@nats-io/nats-core")} wsconnect on ws ${v("ws")}, @nats-io/transport-node ${v("@nats-io/transport-node")} (node ${process.version}) against ${binary}`);
  const runs = chosen.flatMap(([name, fn]) =>
    [false, true].map((compression) => ({
      label: `node ws ${name} (compression ${compression ? "on" : "off"})`,
      name: `${name}-${compression}`,
      start: { websocket: { compression } },
      body: (server) => fn(server, compression),
    })),
  );
  report(await runCases({ binary, cores: args.cores, repeat: args.repeat, tmpPrefix: "clients-ws-", runs }));
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
