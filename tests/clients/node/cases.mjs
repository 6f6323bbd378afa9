// Cases that client_test.mjs (TCP) and ws_test.mjs (WebSocket) run alike: the same
// publishes and the same exact assertions, over connections made by the `connect(server)`
// each script passes in. What differs between the scripts stays in their own files.

import { headers, errors } from "@nats-io/nats-core";

import { MSG_TIMEOUT, Inbox, Mismatch, clientErrors, expectEq, matches, range, text, within } from "./harness.mjs";

/**
 * Five wildcard subscriptions on one connection, seven publishes and a marker from another:
 * each subscription gets exactly its matching subjects, in publish order (one publisher, one
 * subscribing connection). `expectedCounts` (pattern -> count), when given, pins how many
 * subjects the reference matcher finds, so a wrong matcher cannot hide a wrong server.
 */
export async function caseWildcards(server, connect, expectedCounts = null) {
  const subNc = await connect(server);
  const pubNc = await connect(server);
  try {
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
      if (expectedCounts) expectEq(expected.length, expectedCounts[inbox.subject], `matches of ${inbox.subject}`);
      const got = (await inbox.take(expected.length)).map((m) => [m.subject, text(m.data)]);
      expectEq(got, expected, `messages on ${inbox.subject}`);
      inbox.expectNoMore(inbox.subject);
    }
  } finally {
    await subNc.close();
    await pubNc.close();
  }
}

/** 50 requests to an echo service, each reply exact, then an old-style (noMux) request. */
export async function caseRequestReply(server, connect) {
  const svcNc = await connect(server);
  const reqNc = await connect(server);
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
    expectEq(seen, range(50).map((i) => `q${i}`), "requests seen by the service");
    // Old-style requests (one inbox subscription per request, noMux) work too.
    const reply = await reqNc.request("svc.echo", "nomux", { timeout: MSG_TIMEOUT, noMux: true });
    expectEq(text(reply.data), "re:nomux", "noMux reply");
  } finally {
    await svcNc.close();
    await reqNc.close();
  }
}

/**
 * A message with headers (multi-valued, spaces, a colon), a headers-only one and one
 * without, each exact; `moreChecks(first, second, third)` adds a script's own assertions on
 * them. Then headers both ways through request/reply.
 */
export async function caseHeaders(server, connect, moreChecks = () => {}) {
  const subNc = await connect(server);
  const pubNc = await connect(server);
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
    expectEq(text(second.data), "", "payload 2");
    expectEq([...second.headers.keys()], ["Only"], "header names 2");
    expectEq(text(third.data), "no headers", "payload 3");
    expectEq(third.headers, undefined, "headers 3");
    moreChecks(first, second, third);

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

/** A request without subscribers fails with no responders (muxed and noMux), not a timeout. */
export async function caseNoResponders(server, connect) {
  const nc = await connect(server);
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
