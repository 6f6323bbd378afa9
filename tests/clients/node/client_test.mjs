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

import { spawn } from "node:child_process";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, existsSync, accessSync, constants } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

import { connect, headers, errors } from "@nats-io/transport-node";

// Deadlines in ms. Generous: the CI machine is small and shared.
const START_TIMEOUT = 20_000; // server start until it listens
const STOP_TIMEOUT = 10_000; // SIGTERM until the process has exited
const MSG_TIMEOUT = 10_000; // expected messages
const RECONNECT_TIMEOUT = 20_000; // client notices the restart and reconnects
const CASE_TIMEOUT = 60_000; // one whole case
const POLL_MS = 10; // poll interval of the condition waits below

const READY_RE = /Listening for client connections on (\S+):(\d+)/;

class Mismatch extends Error {}

function short(value, limit = 600) {
  const text = JSON.stringify(value);
  return text.length <= limit ? text : `${text.slice(0, limit)}... (${text.length} chars)`;
}

function expectEq(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) {
    let detail = "";
    if (Array.isArray(actual) && Array.isArray(expected)) {
      let first = 0;
      while (first < actual.length && first < expected.length && JSON.stringify(actual[first]) === JSON.stringify(expected[first])) {
        first++;
      }
      detail = ` (lengths ${actual.length} vs ${expected.length}, first difference at ${first})`;
    }
    throw new Mismatch(`${what}: expected ${short(expected)}, got ${short(actual)}${detail}`);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with `promise`, or rejects with a Mismatch naming `what` after `ms`. */
async function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Mismatch(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` until it holds; throws a Mismatch naming `what` at the deadline. */
async function waitUntil(condition, ms, what) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Mismatch(`${what}: not within ${ms} ms`);
    await sleep(POLL_MS);
  }
}

class ServerProcess {
  constructor(binary, cores, workdir) {
    this.binary = binary;
    this.isNatsServer = path.basename(binary).includes("nats-server");
    this.cores = cores;
    this.workdir = workdir;
    this.child = null;
    this.exited = null; // promise of the exit code
    this.exitCode = undefined;
    this.port = null;
    this.starts = 0;
    this.logPath = null;
  }

  /** Starts on `port` (-1: the server picks a free one) and waits until it listens. */
  async start(port = -1) {
    this.starts += 1;
    this.logPath = path.join(this.workdir, `server-${this.starts}.log`);
    const args = ["-a", "127.0.0.1", "-p", String(port)];
    if (!this.isNatsServer) args.push("--cores", String(this.cores));
    const log = openSync(this.logPath, "w");
    this.child = spawn(this.binary, args, { stdio: ["ignore", log, log] });
    closeSync(log);
    this.exitCode = undefined;
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => {
        this.exitCode = code ?? signal;
        resolve(this.exitCode);
      });
    });
    // Wait for the ready line (it carries the port when -1 was asked for) ...
    await waitUntil(() => {
      this.checkAlive("starting");
      const match = READY_RE.exec(readFileSync(this.logPath, "utf8"));
      if (match) this.port = Number(match[2]);
      return match !== null;
    }, START_TIMEOUT, `server reporting that it listens\n${this.log()}`);
    // ... then until the port accepts.
    await waitUntil(() => {
      this.checkAlive("starting");
      return new Promise((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port: this.port });
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(false));
      });
    }, START_TIMEOUT, `port ${this.port} accepting`);
  }

  checkAlive(doing) {
    if (this.exitCode !== undefined) {
      throw new Mismatch(`server exited with ${this.exitCode} while ${doing}:\n${this.log()}`);
    }
  }

  /** SIGTERM, then wait for the exit (SIGKILL at the deadline). */
  async stop() {
    if (!this.child || this.exitCode !== undefined) return;
    this.child.kill("SIGTERM");
    try {
      await within(this.exited, STOP_TIMEOUT, "server exit after SIGTERM");
    } catch (e) {
      this.child.kill("SIGKILL");
      await this.exited;
      throw e;
    }
  }

  /** Stops the server and starts it again on the same port. */
  async restart() {
    const port = this.port;
    await this.stop();
    await this.start(port);
    expectEq(this.port, port, "port after restart");
  }

  async kill() {
    if (this.child && this.exitCode === undefined) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }

  log() {
    if (!this.logPath || !existsSync(this.logPath)) return "(no log)";
    return readFileSync(this.logPath, "utf8").split("\n").slice(-40).join("\n");
  }

  get url() {
    return `nats://127.0.0.1:${this.port}`;
  }
}

// Errors the client reported asynchronously during the current case (subscription
// errors, server -ERR). A case fails if any were reported.
let clientErrors = [];

async function connectTo(server, options = {}) {
  const nc = await connect({
    servers: server.url,
    // No reconnects unless a case asks: a server that dies mid-case must fail it.
    reconnect: false,
    timeout: 5_000,
    ...options,
  });
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "error" || status.type === "slowConsumer") {
        clientErrors.push(`${status.type}: ${status.error ?? status.pending}`);
      }
    }
  })().catch((e) => clientErrors.push(`status iterator: ${e}`));
  return nc;
}

const text = (data) => new TextDecoder().decode(data);

/**
 * A subscription whose messages are collected by the client's callback, in arrival
 * order; `take(n)` waits (with a deadline) until n are there and removes them.
 */
class Inbox {
  constructor(nc, subject, opts = {}) {
    this.messages = [];
    this.waiter = null;
    this.subject = subject;
    this.sub = nc.subscribe(subject, {
      ...opts,
      callback: (err, msg) => {
        if (err) {
          clientErrors.push(`subscription ${subject}: ${err}`);
          return;
        }
        this.messages.push(msg);
        if (this.waiter && this.messages.length >= this.waiter.count) this.waiter.resolve();
      },
    });
  }

  async take(count, what = `messages on ${this.subject}`) {
    if (this.messages.length < count) {
      const arrived = new Promise((resolve) => {
        this.waiter = { count, resolve };
      });
      try {
        await within(arrived, MSG_TIMEOUT, `${what} (${this.messages.length} of ${count} so far)`);
      } finally {
        this.waiter = null;
      }
    }
    return this.messages.splice(0, count);
  }

  async payloads(count, what) {
    return (await this.take(count, what)).map((m) => text(m.data));
  }

  /** Nothing more arrived. Only meaningful after a later marker on the same connection. */
  expectNoMore(what) {
    if (this.messages.length !== 0) {
      throw new Mismatch(`${what}: unexpected extra messages ${short(this.messages.map((m) => [m.subject, text(m.data)]))}`);
    }
  }
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
  const subNc = await connectTo(server);
  const pubNc = await connectTo(server);
  try {
    expectEq(["wild", "wild.a", "wild.a.b.c"].map((s) => matches("wild.>", s)), [false, true, true], "matcher self-check");
    const patterns = ["wild.*", "wild.>", "wild.*.c", "wild.a.b", "*.a"];
    const inboxes = patterns.map((p) => new Inbox(subNc, p));
    const marker = new Inbox(subNc, "marker.wild");
    await within(subNc.flush(), MSG_TIMEOUT, "subscriber flush");

    const published = ["wild", "wild.a", "wild.a.b", "wild.x.c", "wild.a.b.c", "other.a", "wild.b"];
    published.forEach((subject, i) => pubNc.publish(subject, `${i}:${subject}`));
    pubNc.publish("marker.wild", "end");
    await within(pubNc.flush(), MSG_TIMEOUT, "publisher flush");

    expectEq(await marker.payloads(1), ["end"], "marker");
    for (const inbox of inboxes) {
      const expected = published
        .map((subject, i) => [subject, `${i}:${subject}`])
        .filter(([subject]) => matches(inbox.subject, subject));
      const got = (await inbox.take(expected.length)).map((m) => [m.subject, text(m.data)]);
      // In publish order: one publisher, one subscribing connection.
      expectEq(got, expected, `messages on ${inbox.subject}`);
      inbox.expectNoMore(inbox.subject);
    }
  } finally {
    await subNc.close();
    await pubNc.close();
  }
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

async function caseRequestReply(server) {
  const svcNc = await connectTo(server);
  const reqNc = await connectTo(server);
  try {
    const seen = [];
    svcNc.subscribe("svc.echo", {
      callback: (err, msg) => {
        if (err) return clientErrors.push(String(err));
        seen.push(text(msg.data));
        msg.respond(`re:${text(msg.data)}`);
      },
    });
    await within(svcNc.flush(), MSG_TIMEOUT, "service flush");
    for (let i = 0; i < 50; i++) {
      const reply = await reqNc.request("svc.echo", `q${i}`, { timeout: MSG_TIMEOUT });
      expectEq(text(reply.data), `re:q${i}`, `reply ${i}`);
    }
    expectEq(seen, [...Array(50).keys()].map((i) => `q${i}`), "requests seen by the service");
    // Old-style requests (one inbox subscription per request, noMux) work too.
    const reply = await reqNc.request("svc.echo", "nomux", { timeout: MSG_TIMEOUT, noMux: true });
    expectEq(text(reply.data), "re:nomux", "noMux reply");
  } finally {
    await svcNc.close();
    await reqNc.close();
  }
}

async function caseHeaders(server) {
  const subNc = await connectTo(server);
  const pubNc = await connectTo(server);
  try {
    const inbox = new Inbox(subNc, "hdr.test");
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
    expectEq(first.headers.hasError, false, "no status on a plain header message");
    expectEq(text(second.data), "", "payload 2");
    expectEq([...second.headers.keys()], ["Only"], "header names 2");
    expectEq(second.headers.get("Only"), "headers", "Only");
    expectEq(text(third.data), "no headers", "payload 3");
    expectEq(third.headers, undefined, "headers 3");

    // Headers survive a request/reply round trip both ways.
    subNc.subscribe("hdr.svc", {
      callback: (err, msg) => {
        if (err) return clientErrors.push(String(err));
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
  const nc = await connectTo(server);
  try {
    for (const noMux of [false, true]) {
      let error = null;
      try {
        await nc.request("nobody.home", "anyone?", { timeout: MSG_TIMEOUT, noMux });
      } catch (e) {
        error = e;
      }
      if (error === null) throw new Mismatch("request without subscribers returned a reply");
      // A timeout would be a TimeoutError; the 503 status makes a RequestError caused by
      // NoRespondersError.
      if (!(error instanceof errors.RequestError) || !error.isNoResponders()) {
        throw new Mismatch(`noMux=${noMux}: expected no responders, got ${error?.name}: ${error?.message}`);
      }
      expectEq(error.cause.subject, "nobody.home", "subject in NoRespondersError");
    }
    // The connection is still usable, and a responder that appears is reached.
    nc.subscribe("nobody.home", { callback: (_err, msg) => msg.respond("here") });
    await within(nc.flush(), MSG_TIMEOUT, "flush");
    const reply = await nc.request("nobody.home", "anyone?", { timeout: MSG_TIMEOUT });
    expectEq(text(reply.data), "here", "reply once a responder exists");
  } finally {
    await nc.close();
  }
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
  ["request_reply", caseRequestReply],
  ["headers", caseHeaders],
  ["no_responders", caseNoResponders],
  ["unsubscribe_max", caseUnsubscribeMax],
  ["flush", caseFlush],
  ["drain", caseDrain],
  ["reconnect", caseReconnect],
];

function parseArgs(argv) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const args = {
    serverBin: path.resolve(here, "..", "..", "..", "target", "release", "ringmq"),
    cores: 2,
    repeat: 1,
    cases: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--server-bin") args.serverBin = value();
    else if (arg === "--cores") args.cores = Number(value());
    else if (arg === "--repeat") args.repeat = Number(value());
    else if (arg === "-h" || arg === "--help") {
      console.log("usage: node client_test.mjs [--server-bin PATH] [--cores N] [--repeat N] [CASE...]");
      process.exit(0);
    } else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}`);
    else args.cases.push(arg);
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
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
  const version = createRequire(import.meta.url)("@nats-io/transport-node/package.json").version;
  console.log(`@nats-io/transport-node ${version} (node ${process.version}) against ${binary}`);

  const workdir = mkdtempSync(path.join(os.tmpdir(), "clients-node-"));
  let passed = 0;
  let failed = 0;
  try {
    for (let r = 0; r < args.repeat; r++) {
      for (const [name, fn] of chosen) {
        const server = new ServerProcess(binary, args.cores, workdir);
        const started = Date.now();
        clientErrors = [];
        try {
          await server.start();
          await within(fn(server), CASE_TIMEOUT, `case ${name}`);
          server.checkAlive("running the case");
          if (clientErrors.length) throw new Mismatch(`client reported errors: ${clientErrors}`);
          await server.stop();
          passed++;
          console.log(`ok   node ${name} (${Date.now() - started} ms)`);
        } catch (e) {
          failed++;
          console.log(`FAIL node ${name}: ${e?.stack ?? e}`);
          console.log(`--- server log ---\n${server.log()}\n---`);
        } finally {
          await server.kill();
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
